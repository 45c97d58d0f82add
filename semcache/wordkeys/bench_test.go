package wordkeys

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

const bigN = 1_000_000

// big is the 1M-entry index BenchmarkAdd1M built last, reused by the
// benchmarks after it (BenchmarkDelete1M deletes from it).
var big struct {
	x *Index
	c *corpus
}

type buildStats struct {
	nsPerAdd, allocsPerAdd, bytesPerEntry float64
	maxAdd                                time.Duration
}

// build adds n corpus prompts, all in one partition, and measures the
// Adds: time and allocations (not the prompts' generation, done in
// chunks beforehand) and the heap the index holds afterwards.
func build(c *corpus, n int) (*Index, buildStats) {
	var st buildStats
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	heap0 := m.HeapAlloc
	x := New(Options{})
	p := partOf(1)
	const chunk = 10000
	prompts := make([][]string, chunk)
	var elapsed time.Duration
	var mallocs uint64
	for start := 0; start < n; start += chunk {
		k := min(chunk, n-start)
		for i := range k {
			prompts[i] = c.prompt(uint64(start+i), prompts[i][:0])
		}
		runtime.ReadMemStats(&m)
		m0 := m.Mallocs
		t0 := time.Now()
		for i := range k {
			ta := time.Now()
			x.Add(idOf(uint64(start+i)), p, prompts[i])
			st.maxAdd = max(st.maxAdd, time.Since(ta))
		}
		elapsed += time.Since(t0)
		runtime.ReadMemStats(&m)
		mallocs += m.Mallocs - m0
	}
	prompts = nil
	runtime.GC()
	runtime.ReadMemStats(&m)
	st.bytesPerEntry = float64(int64(m.HeapAlloc)-int64(heap0)) / float64(n)
	st.nsPerAdd = float64(elapsed.Nanoseconds()) / float64(n)
	st.allocsPerAdd = float64(mallocs) / float64(n)
	return x, st
}

func bigIndex(b *testing.B) (*Index, *corpus) {
	if testing.Short() {
		b.Skip("1M entries: not in -short mode")
	}
	if big.x == nil {
		big.c = newCorpus(30000, 1)
		big.x, _ = build(big.c, bigN)
	}
	return big.x, big.c
}

// BenchmarkAdd1M builds a 1M-entry index (one op = the whole build) and
// reports per Add: ns, allocations, the slowest Add (a table resize), and
// the heap per entry afterwards.
func BenchmarkAdd1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M entries: not in -short mode")
	}
	b.ReportAllocs()
	c := newCorpus(30000, 1)
	var st buildStats
	for b.Loop() {
		big.x = nil
		big.x, st = build(c, bigN)
	}
	big.c = c
	x := big.x
	b.ReportMetric(st.nsPerAdd, "ns/add")
	b.ReportMetric(st.allocsPerAdd, "allocs/add")
	b.ReportMetric(float64(st.maxAdd.Microseconds())/1000, "max-add-ms")
	b.ReportMetric(st.bytesPerEntry, "bytes/entry")
	b.ReportMetric(float64(len(x.slots))/bigN, "slots/entry")
	b.ReportMetric(float64(x.used)/float64(len(x.slots)), "load")
}

// BenchmarkLookup1M looks up, in a 1M-entry partition, 100k queries (one
// op) derived from stored prompts by one edit each, 25k of each kind: a
// character typo in one word, a word substituted, a word inserted, a word
// deleted; recall is the share of queries whose source is returned.
func BenchmarkLookup1M(b *testing.B) {
	x, c := bigIndex(b)
	b.ReportAllocs()
	r := rand.New(rand.NewPCG(42, 43))
	const perKind = 25000
	kinds := []string{"typo", "sub", "ins", "del"}
	type query struct {
		src   uint64
		words []string
	}
	var qs []query
	for k := range kinds {
		for range perKind {
			src := r.Uint64N(bigN)
			ws := c.prompt(src, nil)
			i := r.IntN(len(ws))
			switch k {
			case 0:
				ws = typo(ws, r)
			case 1:
				ws[i] = c.word(r)
			case 2:
				ws = slices.Insert(ws, i, c.word(r))
			case 3:
				ws = slices.Delete(ws, i, i+1)
			}
			qs = append(qs, query{src, ws})
		}
	}
	p := partOf(1)
	found := make([]int, len(kinds))
	cands := 0
	var elapsed time.Duration
	var mallocs uint64
	var m runtime.MemStats
	dst := make([]ID, 0, DefaultMaxCandidates)
	for b.Loop() {
		clear(found)
		cands = 0
		runtime.ReadMemStats(&m)
		m0 := m.Mallocs
		t0 := time.Now()
		for i, q := range qs {
			dst = x.Lookup(p, q.words, dst[:0])
			cands += len(dst)
			if slices.Contains(dst, idOf(q.src)) {
				found[i/perKind]++
			}
		}
		elapsed = time.Since(t0)
		runtime.ReadMemStats(&m)
		mallocs = m.Mallocs - m0
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(len(qs)), "ns/lookup")
	b.ReportMetric(float64(mallocs)/float64(len(qs)), "allocs/lookup")
	b.ReportMetric(float64(cands)/float64(len(qs)), "cands/lookup")
	for k, name := range kinds {
		b.ReportMetric(float64(found[k])/perKind, "recall-"+name)
	}
}

// BenchmarkDelete1M deletes an eighth of the 1M entries (one op), which
// ends in a sweep, and reports ns per Delete and the sweep's pause.
func BenchmarkDelete1M(b *testing.B) {
	x, _ := bigIndex(b)
	b.ReportAllocs()
	var elapsed, slowest time.Duration
	n := 0
	for b.Loop() {
		// Deleted entries stay deleted: each op takes the next ones.
		t0 := time.Now()
		for range bigN/sweepFraction + 1 {
			ta := time.Now()
			x.Delete(idOf(uint64(n)))
			slowest = max(slowest, time.Since(ta))
			n++
		}
		elapsed += time.Since(t0)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/delete")
	b.ReportMetric(float64(slowest.Microseconds())/1000, "sweep-ms")
	big.x = nil // no longer the 1M index
}

// BenchmarkAdd adds entries one per op to a growing index. The prompts
// repeat every 2^16 ops, each time in another partition.
func BenchmarkAdd(b *testing.B) {
	c := newCorpus(30000, 1)
	prompts := make([][]string, 1<<16)
	for i := range prompts {
		prompts[i] = c.prompt(uint64(i), nil)
	}
	x := New(Options{})
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		x.Add(idOf(i), partOf(i>>16), prompts[i%uint64(len(prompts))])
		i++
	}
}

// BenchmarkLookup20k looks up one typo query per op in 20k entries.
func BenchmarkLookup20k(b *testing.B) {
	const n = 20000
	c := newCorpus(30000, 1)
	x := New(Options{})
	p := partOf(1)
	for i := range uint64(n) {
		x.Add(idOf(i), p, c.prompt(i, nil))
	}
	r := rand.New(rand.NewPCG(1, 1))
	qs := make([][]string, 4096)
	for i := range qs {
		qs[i] = typo(c.prompt(r.Uint64N(n), nil), r)
	}
	dst := make([]ID, 0, DefaultMaxCandidates)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = x.Lookup(p, qs[i%len(qs)], dst[:0])
		i++
	}
}

func BenchmarkWords(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"clean", "how do i restart my computer in safe mode on windows 11"},
		{"normalize", "How do I restart my computer in Safe Mode on Windows 11? I don't know."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]string, 0, 32)
			for b.Loop() {
				dst = Words(bc.s, dst[:0])
			}
		})
	}
}
