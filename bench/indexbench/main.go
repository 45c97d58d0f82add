// Command indexbench runs the `index` benchmark scenario: semgate's HNSW
// index (semcache/hnsw) against github.com/coder/hnsw v0.6.1 and the exact
// flat index, on random vectors, near-duplicate queries and real text
// embedded by the lexical embedder. It is its own module so that
// coder/hnsw stays out of the product's module graph.
//
//	cd bench/indexbench && go run . -n 20000 -dims 256        # quick run
//	cd bench/indexbench && go run . -n 100000,1000000 -dims 256,384
//	cd bench/indexbench && go run . -crossover                # flat vs graph by size
//
// The index's dot product is vek's SIMD one; build with -tags purego to
// measure the hand-unrolled Go loop instead. Results go to results/ as
// Markdown and JSON.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/semgate/semgate/semcache/hnsw"
)

type config struct {
	ns, dims     []int
	datasets     []string
	qqp          string
	recallQ      int
	latQ         int
	flatLatQ     int
	runs         int
	impls        map[string]bool
	coderMaxN    int
	opts         hnsw.Options
	out          string
	tag          string
	crossover    bool
	efSweep      []int
	seed         uint64
	snapshotDir  string
	noiseCos     float64
	noteBuildTag string
}

func main() {
	var c config
	ns := flag.String("n", "100000", "comma-separated index sizes")
	dims := flag.String("dims", "256", "comma-separated dimensions")
	ds := flag.String("datasets", "random,neardup,text", "comma-separated datasets: random, neardup, text, textaug (text with edited variants up to N)")
	impls := flag.String("impls", "semgate,coder,flat", "comma-separated implementations: semgate, coder, flat")
	flag.StringVar(&c.qqp, "qqp", "../../../shared/data/qqp_dev.jsonl", "QQP JSONL file for the text dataset (skipped if absent)")
	flag.IntVar(&c.recallQ, "recall-queries", 300, "queries for recall against brute force")
	flag.IntVar(&c.latQ, "latency-queries", 1000, "queries per latency run")
	flag.IntVar(&c.flatLatQ, "flat-latency-queries", 100, "queries per latency run for the flat index")
	flag.IntVar(&c.runs, "runs", 3, "latency runs; medians are reported")
	flag.IntVar(&c.coderMaxN, "coder-max-n", 1_000_000, "skip coder/hnsw above this size")
	flag.IntVar(&c.opts.M, "m", 0, "semgate M (0: default)")
	flag.IntVar(&c.opts.EfConstruction, "ef-construction", 0, "semgate ef_construction (0: default)")
	flag.IntVar(&c.opts.EfSearch, "ef-search", 0, "semgate ef_search, also used for coder/hnsw (0: default)")
	flag.StringVar(&c.out, "out", "results", "results directory")
	flag.StringVar(&c.tag, "tag", "", "suffix for the result file names")
	flag.BoolVar(&c.crossover, "crossover", false, "measure flat vs graph search by size instead")
	flag.Uint64Var(&c.seed, "seed", 1, "data seed")
	flag.StringVar(&c.snapshotDir, "snapshot-dir", os.TempDir(), "where snapshots are written")
	flag.Float64Var(&c.noiseCos, "neardup-cos", 0.95, "cosine of a near-duplicate query to its stored vector")
	sweep := flag.String("ef-sweep", "", "comma-separated ef_search values to also measure semgate at (same built index)")
	flag.Parse()
	if *sweep != "" {
		v, err := ints(*sweep)
		if err != nil {
			log.Fatalf("-ef-sweep: %v", err)
		}
		c.efSweep = v
	}
	var err error
	if c.ns, err = ints(*ns); err != nil {
		log.Fatalf("-n: %v", err)
	}
	if c.dims, err = ints(*dims); err != nil {
		log.Fatalf("-dims: %v", err)
	}
	c.datasets = strings.Split(*ds, ",")
	c.impls = map[string]bool{}
	for _, s := range strings.Split(*impls, ",") {
		c.impls[strings.TrimSpace(s)] = true
	}
	if err := c.opts.Validate(); err != nil {
		log.Fatal(err)
	}
	c.noteBuildTag = dotImpl
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		log.Fatal(err)
	}
	stamp := time.Now().UTC().Format("2006-01-02T1504")
	name := "index-" + stamp
	if c.crossover {
		name = "crossover-" + stamp
	}
	if c.tag != "" {
		name += "-" + c.tag
	}
	env := fmt.Sprintf("%s %s/%s, %d CPUs, dot product: %s, args: %s", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), dotImpl, strings.Join(os.Args[1:], " "))
	log.Printf("indexbench: %s", env)
	var rep report
	if c.crossover {
		rep = runCrossover(&c)
	} else {
		rep = runScenario(&c)
	}
	rep.Env = env
	if err := rep.write(filepath.Join(c.out, name)); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s.md and %s.json", filepath.Join(c.out, name), filepath.Join(c.out, name))
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "M"):
			mult, f = 1_000_000, strings.TrimSuffix(f, "M")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}
