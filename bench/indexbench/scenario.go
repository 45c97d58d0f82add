package main

import (
	"fmt"
	"log"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
)

// querySet is a named set of queries over one base, with ground truth.
type querySet struct {
	name    string
	recallQ [][]float32
	latQ    [][]float32
	truth   [][]int
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func runScenario(c *config) report {
	var rep report
	want := map[string]bool{}
	for _, d := range c.datasets {
		want[d] = true
	}
	textNs := map[int]bool{}
	for _, dim := range c.dims {
		for _, n := range c.ns {
			if want["random"] || want["neardup"] {
				start := time.Now()
				base := randomBase(c.seed, n, dim)
				var sets []*querySet
				if want["random"] {
					sets = append(sets, &querySet{name: "random",
						recallQ: randomQueries(c.seed+1, c.recallQ, dim), latQ: randomQueries(c.seed+2, c.latQ, dim)})
				}
				if want["neardup"] {
					sets = append(sets, &querySet{name: "neardup",
						recallQ: nearDup(c.seed+1, base, c.recallQ, c.noiseCos), latQ: nearDup(c.seed+2, base, c.latQ, c.noiseCos)})
				}
				log.Printf("dim %d n %d: random base generated in %v", dim, n, time.Since(start).Round(time.Millisecond))
				rep.Rows = append(rep.Rows, runBase(c, "random", dim, base, sets)...)
				base = nil
			}
			for _, name := range []string{"text", "textaug"} {
				if !want[name] {
					continue
				}
				if _, err := os.Stat(c.qqp); err != nil {
					log.Printf("%s dataset skipped: %v", name, err)
					rep.Notes = append(rep.Notes, fmt.Sprintf("%s dataset skipped: %v", name, err))
					want[name] = false
					continue
				}
				start := time.Now()
				ds, err := textData(c.qqp, c.seed, n, dim, max(c.recallQ, c.latQ), name == "textaug")
				if err != nil {
					log.Printf("%s dataset skipped: %v", name, err)
					rep.Notes = append(rep.Notes, fmt.Sprintf("%s dataset skipped: %v", name, err))
					want[name] = false
					continue
				}
				if name == "text" {
					if textNs[len(ds.base)*10000+dim] {
						continue // capped at the data's size: already measured
					}
					textNs[len(ds.base)*10000+dim] = true
				}
				log.Printf("dim %d: %s: %s, embedded in %v", dim, name, ds.note, time.Since(start).Round(time.Millisecond))
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s, dim %d: %s", name, dim, ds.note))
				sets := []*querySet{{name: name, recallQ: ds.recallQ[:min(c.recallQ, len(ds.recallQ))], latQ: ds.latQ}}
				rep.Rows = append(rep.Rows, runBase(c, name, dim, ds.base, sets)...)
			}
		}
	}
	return rep
}

// runBase builds each implementation over base once and measures every
// query set on it.
func runBase(c *config, baseName string, dim int, base [][]float32, sets []*querySet) []row {
	n := len(base)
	start := time.Now()
	for _, s := range sets {
		s.truth = groundTruth(base, s.recallQ, 10)
	}
	log.Printf("%s dim %d n %d: ground truth for %d query sets in %v", baseName, dim, n, len(sets), time.Since(start).Round(time.Millisecond))
	var rows []row
	for _, impl := range []string{"semgate", "coder", "flat"} {
		if !c.impls[impl] {
			continue
		}
		if impl == "coder" && n > c.coderMaxN {
			log.Printf("coder/hnsw skipped at n %d (-coder-max-n)", n)
			continue
		}
		rows = append(rows, runImpl(c, impl, dim, base, sets)...)
	}
	return rows
}

func runImpl(c *config, impl string, dim int, base [][]float32, sets []*querySet) []row {
	n := len(base)
	ef := c.opts.EfSearch
	if ef == 0 {
		ef = hnsw.DefaultEfSearch
	}
	before := heapAlloc()
	var idx index
	var sem *hnsw.Index
	var cod coderIndex
	switch impl {
	case "semgate":
		sem = hnsw.New(dim, c.opts)
		idx = semIndex{sem}
	case "coder":
		cod = newCoder(ef, c.seed)
		idx = cod
	case "flat":
		idx = semIndex{semcache.NewFlatIndex(dim)}
	}
	start := time.Now()
	step := max(n/10, 1)
	for i, v := range base {
		idx.add(i, v)
		if (i+1)%step == 0 && n >= 200_000 {
			log.Printf("  %s: %d/%d added, %v", impl, i+1, n, time.Since(start).Round(time.Second))
		}
	}
	build := time.Since(start)
	mem := float64(heapAlloc()-before) / float64(n)
	log.Printf("%s dim %d n %d: built in %v (%.0f/s), %.0f bytes/vector", impl, dim, n, build.Round(time.Millisecond), float64(n)/build.Seconds(), mem)
	common := row{Dim: dim, N: n, Impl: implName(impl), BuildSec: build.Seconds(), BuildRate: float64(n) / build.Seconds(),
		BytesPerVec: mem, OverheadPerVec: mem - float64(4*dim)}
	if sem != nil {
		st := sem.Stats()
		common.Note = fmt.Sprintf("M=%d ef_c=%d ef_s=%d, %d levels", orInt(c.opts.M, hnsw.DefaultM),
			orInt(c.opts.EfConstruction, hnsw.DefaultEfConstruction), ef, st.Levels)
	}
	if impl == "coder" {
		common.Note = fmt.Sprintf("M=%d Ml=%.2f ef_s=%d", cod.g.M, cod.g.Ml, ef)
	}
	if impl == "flat" {
		common.Note = "exact"
	}
	// Snapshots.
	switch impl {
	case "semgate":
		snapshotSem(c, sem, dim, sets, &common)
	case "coder":
		snapshotCoder(c, cod, &common)
	}
	var rows []row
	for _, s := range sets {
		r := common
		r.Dataset = s.name
		if impl == "flat" && n > 200_000 {
			r.Recall1, r.Recall10 = 1, 1 // exact by construction; brute force at this size is the ground truth itself
		} else {
			r.Recall1, r.Recall10 = recall(idx, base, s)
		}
		lq := s.latQ
		if impl == "flat" {
			lq = lq[:min(len(lq), c.flatLatQ, max(10, 20_000_000/n))]
		}
		r.P50K1, r.P99K1 = latency(idx, lq, 1, c.runs)
		r.P50K10, r.P99K10 = latency(idx, lq, 10, c.runs)
		log.Printf("%s %s dim %d n %d: recall@1 %.3f recall@10 %.3f, k=1 p50 %.0fµs p99 %.0fµs, k=10 p50 %.0fµs p99 %.0fµs",
			impl, s.name, dim, n, r.Recall1, r.Recall10, r.P50K1, r.P99K1, r.P50K10, r.P99K10)
		rows = append(rows, r)
	}
	if sem != nil {
		for _, ef := range c.efSweep {
			sem.SetEfSearch(ef)
			for _, s := range sets {
				r := common
				r.Dataset, r.Impl = s.name, fmt.Sprintf("semgate ef_s=%d", ef)
				r.Note = "same index as the semgate row, ef_search changed"
				r.SnapBytes, r.SnapLoadSec, r.SnapWriteSec, r.LoadedBytesPerVec = 0, 0, 0, 0
				r.Recall1, r.Recall10 = recall(idx, base, s)
				r.P50K1, r.P99K1 = latency(idx, s.latQ, 1, c.runs)
				r.P50K10, r.P99K10 = latency(idx, s.latQ, 10, c.runs)
				log.Printf("semgate ef %d %s dim %d n %d: recall@1 %.3f recall@10 %.3f, k=1 p50 %.0fµs p99 %.0fµs, k=10 p50 %.0fµs p99 %.0fµs",
					ef, s.name, dim, n, r.Recall1, r.Recall10, r.P50K1, r.P99K1, r.P50K10, r.P99K10)
				rows = append(rows, r)
			}
		}
	}
	return rows
}

func implName(s string) string {
	switch s {
	case "semgate":
		return "semgate hnsw"
	case "coder":
		return "coder/hnsw v0.6.1"
	}
	return "flat (exact)"
}

func orInt(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

const benchEmbedder = "indexbench"

func snapshotSem(c *config, x *hnsw.Index, dim int, sets []*querySet, r *row) {
	start := time.Now()
	path, size, err := semSnapshot(c.snapshotDir, x, benchEmbedder)
	if err != nil {
		log.Printf("semgate snapshot: %v", err)
		return
	}
	defer os.Remove(path)
	r.SnapWriteSec, r.SnapBytes = time.Since(start).Seconds(), size
	var loads []float64
	for run := range max(c.runs, 1) {
		before := heapAlloc()
		start := time.Now()
		y, err := semLoad(path, benchEmbedder, dim, c.opts)
		if err != nil {
			log.Printf("semgate load: %v", err)
			return
		}
		loads = append(loads, time.Since(start).Seconds())
		if run == 0 {
			r.LoadedBytesPerVec = float64(heapAlloc()-before) / float64(y.Len())
			same := 0
			for _, q := range sets[0].recallQ {
				if slices.Equal(x.Search(q, 10), y.Search(q, 10)) {
					same++
				}
			}
			if same != len(sets[0].recallQ) {
				r.Note += fmt.Sprintf("; LOADED INDEX DIFFERS on %d/%d queries", len(sets[0].recallQ)-same, len(sets[0].recallQ))
			}
		}
		y = nil
	}
	r.SnapLoadSec = median(loads)
	log.Printf("semgate snapshot: %d bytes, written in %.2fs, loaded in %.2fs (median), %.0f bytes/vector loaded",
		size, r.SnapWriteSec, r.SnapLoadSec, r.LoadedBytesPerVec)
}

func snapshotCoder(c *config, g coderIndex, r *row) {
	start := time.Now()
	path, size, err := coderSnapshot(c.snapshotDir, g)
	if err != nil {
		log.Printf("coder export: %v", err)
		return
	}
	defer os.Remove(path)
	r.SnapWriteSec, r.SnapBytes = time.Since(start).Seconds(), size
	start = time.Now()
	y, err := coderLoad(path)
	if err != nil {
		log.Printf("coder import: %v", err)
		r.Note += "; import failed: " + err.Error()
		return
	}
	r.SnapLoadSec = time.Since(start).Seconds()
	_ = y
	log.Printf("coder export: %d bytes in %.2fs, import %.2fs", size, r.SnapWriteSec, r.SnapLoadSec)
}

// recall returns recall@1 (the top hit is as similar as the exact top
// hit) and recall@10 (share of the 10 hits at least as similar as the
// exact 10th), over s's queries. Scores are compared to 1e-6, so that
// exact ties (identical vectors: distinct texts can embed alike) count as
// found whichever of them is returned.
func recall(idx index, base [][]float32, s *querySet) (r1, r10 float64) {
	const eps = 1e-6
	var top1, found, total int
	for i, q := range s.recallQ {
		truth := s.truth[i]
		if len(truth) == 0 {
			continue
		}
		got := idx.search(q, 10)
		best := semcache.Dot(q, base[truth[0]])
		if len(got) > 0 && (got[0] == truth[0] || semcache.Dot(q, base[got[0]]) >= best-eps) {
			top1++
		}
		last := semcache.Dot(q, base[truth[len(truth)-1]])
		for j, g := range got {
			if j < len(truth) && (slices.Contains(truth, g) || semcache.Dot(q, base[g]) >= last-eps) {
				found++
			}
		}
		total += len(truth)
	}
	return float64(top1) / float64(len(s.recallQ)), float64(found) / float64(total)
}

// latency times each query alone, returning the medians over runs of the
// per-run p50 and p99 in microseconds.
func latency(idx index, qs [][]float32, k, runs int) (p50, p99 float64) {
	var p50s, p99s []float64
	d := make([]float64, len(qs))
	for range max(runs, 1) {
		for i, q := range qs {
			start := time.Now()
			idx.search(q, k)
			d[i] = float64(time.Since(start).Nanoseconds()) / 1e3
		}
		slices.Sort(d)
		p50s = append(p50s, pct(d, 0.50))
		p99s = append(p99s, pct(d, 0.99))
	}
	return median(p50s), median(p99s)
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
