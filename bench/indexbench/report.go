package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type row struct {
	Dataset           string  `json:"dataset"`
	Dim               int     `json:"dim"`
	N                 int     `json:"n"`
	Impl              string  `json:"impl"`
	BuildSec          float64 `json:"build_s"`
	BuildRate         float64 `json:"build_vectors_per_s"`
	BytesPerVec       float64 `json:"heap_bytes_per_vector"`
	OverheadPerVec    float64 `json:"overhead_bytes_per_vector"`
	LoadedBytesPerVec float64 `json:"loaded_heap_bytes_per_vector,omitempty"`
	P50K1             float64 `json:"p50_k1_us"`
	P99K1             float64 `json:"p99_k1_us"`
	P50K10            float64 `json:"p50_k10_us"`
	P99K10            float64 `json:"p99_k10_us"`
	Recall1           float64 `json:"recall_at_1"`
	Recall10          float64 `json:"recall_at_10"`
	SnapBytes         int64   `json:"snapshot_bytes,omitempty"`
	SnapWriteSec      float64 `json:"snapshot_write_s,omitempty"`
	SnapLoadSec       float64 `json:"snapshot_load_s,omitempty"`
	Note              string  `json:"note,omitempty"`
}

type xrow struct {
	Dim        int     `json:"dim"`
	N          int     `json:"n"`
	FlatP50    float64 `json:"flat_p50_us"`
	FlatP99    float64 `json:"flat_p99_us"`
	GraphP50   float64 `json:"graph_p50_us"`
	GraphP99   float64 `json:"graph_p99_us"`
	Recall4    float64 `json:"graph_recall_at_4"`
	BuildSec   float64 `json:"graph_build_s"`
	FlatBuildS float64 `json:"flat_build_s"`
}

type report struct {
	Env       string   `json:"env"`
	Rows      []row    `json:"rows,omitempty"`
	Crossover []xrow   `json:"crossover,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

func (r *report) write(base string) error {
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(j, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# index benchmark\n\n%s\n\n", r.Env)
	if len(r.Rows) > 0 {
		b.WriteString("Latencies are medians over runs of each run's p50/p99, one query at a time, in µs. " +
			"Recall is against exact brute force, ties counted as found. Heap bytes/vector include the index's copy of the vector; " +
			"overhead is that minus 4·dim. The random and neardup rows of a size share one built index.\n\n")
		b.WriteString("| dataset | dim | N | index | build/s | heap B/vec | overhead B/vec | k=1 p50 | k=1 p99 | k=10 p50 | k=10 p99 | recall@1 | recall@10 | snapshot MB | snap load s | loaded overhead B/vec | note |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range r.Rows {
			snap, load, loaded := "", "", ""
			if x.SnapBytes > 0 {
				snap = fmt.Sprintf("%.1f", float64(x.SnapBytes)/1e6)
			}
			if x.SnapLoadSec > 0 {
				load = fmt.Sprintf("%.2f", x.SnapLoadSec)
			}
			if x.LoadedBytesPerVec > 0 {
				loaded = fmt.Sprintf("%.0f", x.LoadedBytesPerVec-float64(4*x.Dim))
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.3f | %.3f | %s | %s | %s | %s |\n",
				x.Dataset, x.Dim, x.N, x.Impl, x.BuildRate, x.BytesPerVec, x.OverheadPerVec,
				x.P50K1, x.P99K1, x.P50K10, x.P99K10, x.Recall1, x.Recall10, snap, load, loaded, x.Note)
		}
	}
	if len(r.Crossover) > 0 {
		b.WriteString("Search k=4 (the cache's default candidates), one query at a time, µs; medians over runs. " +
			"Graph with default options; recall@4 against the flat index.\n\n")
		b.WriteString("| dim | N | flat p50 | flat p99 | graph p50 | graph p99 | graph recall@4 | graph build s |\n|---|---|---|---|---|---|---|---|\n")
		for _, x := range r.Crossover {
			fmt.Fprintf(&b, "| %d | %d | %.0f | %.0f | %.0f | %.0f | %.3f | %.3f |\n",
				x.Dim, x.N, x.FlatP50, x.FlatP99, x.GraphP50, x.GraphP99, x.Recall4, x.BuildSec)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n- %s", n)
	}
	b.WriteString("\n")
	return os.WriteFile(base+".md", []byte(b.String()), 0o644)
}
