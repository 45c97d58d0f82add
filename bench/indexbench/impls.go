package main

import (
	"bufio"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sync"

	coder "github.com/coder/hnsw"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
)

// index is what the scenario measures; ids are dataset positions.
type index interface {
	add(i int, v []float32)
	search(q []float32, k int) []int
}

func toID(i int) semcache.ID {
	var id semcache.ID
	id[0], id[1], id[2], id[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return id
}

func fromID(id semcache.ID) int {
	return int(id[0])<<24 | int(id[1])<<16 | int(id[2])<<8 | int(id[3])
}

// semIndex adapts any semcache.Index (the HNSW index and the flat one).
type semIndex struct{ x semcache.Index }

func (s semIndex) add(i int, v []float32) { s.x.Add(toID(i), v) }
func (s semIndex) search(q []float32, k int) []int {
	hits := s.x.Search(q, k)
	out := make([]int, len(hits))
	for i, h := range hits {
		out[i] = fromID(h.ID)
	}
	return out
}

// coderIndex adapts github.com/coder/hnsw. Vectors are copied on add so
// that its memory is counted like the others' (it keeps the caller's
// slice).
type coderIndex struct{ g *coder.Graph[int] }

func newCoder(ef int, seed uint64) coderIndex {
	g := coder.NewGraph[int]()
	g.M = hnsw.DefaultM
	g.EfSearch = ef
	g.Rng = rand.New(rand.NewSource(int64(seed))) // coder/hnsw takes a math/rand v1 generator
	return coderIndex{g}
}

func (c coderIndex) add(i int, v []float32) { c.g.Add(coder.MakeNode(i, slices.Clone(v))) }
func (c coderIndex) search(q []float32, k int) []int {
	nodes := c.g.Search(q, k)
	out := make([]int, len(nodes))
	for i, n := range nodes {
		out[i] = n.Key
	}
	return out
}

// groundTruth returns the exact top k of each query, in parallel.
func groundTruth(base [][]float32, qs [][]float32, k int) [][]int {
	out := make([][]int, len(qs))
	var wg sync.WaitGroup
	workers := 2
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for qi := w; qi < len(qs); qi += workers {
				out[qi] = exactTop(base, qs[qi], k)
			}
		}()
	}
	wg.Wait()
	return out
}

func exactTop(base [][]float32, q []float32, k int) []int {
	type hit struct {
		i int
		s float32
	}
	top := make([]hit, 0, k+1)
	for i, v := range base {
		s := semcache.Dot(q, v)
		if len(top) == k && s <= top[k-1].s {
			continue
		}
		j := len(top)
		if j < k {
			top = append(top, hit{})
		} else {
			j = k - 1
		}
		for j > 0 && top[j-1].s < s {
			top[j] = top[j-1]
			j--
		}
		top[j] = hit{i, s}
	}
	out := make([]int, len(top))
	for i, h := range top {
		out[i] = h.i
	}
	return out
}

// semSnapshot writes x to a file and returns its path and size.
func semSnapshot(dir string, x *hnsw.Index, embedder string) (string, int64, error) {
	f, err := os.CreateTemp(dir, "indexbench-*.snap")
	if err != nil {
		return "", 0, err
	}
	if err := x.WriteSnapshot(f, embedder); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	st, err := os.Stat(f.Name())
	if err != nil {
		return "", 0, err
	}
	return f.Name(), st.Size(), nil
}

func semLoad(path, embedder string, dim int, o hnsw.Options) (*hnsw.Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return hnsw.ReadSnapshot(f, embedder, dim, o)
}

func coderSnapshot(dir string, c coderIndex) (string, int64, error) {
	path := filepath.Join(dir, "indexbench-coder.snap")
	f, err := os.Create(path)
	if err != nil {
		return "", 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := c.g.Export(w); err != nil {
		f.Close()
		return "", 0, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", 0, err
	}
	return path, st.Size(), nil
}

func coderLoad(path string) (coderIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return coderIndex{}, err
	}
	defer f.Close()
	g := coder.NewGraph[int]()
	if err := g.Import(bufio.NewReaderSize(f, 1<<20)); err != nil {
		return coderIndex{}, err
	}
	return coderIndex{g}, nil
}
