package hnsw_test

import (
	"bytes"
	"fmt"
	"math"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
)

func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(n))
	}
	return v
}

func Example() {
	x := hnsw.New(3, hnsw.Options{}) // defaults: exact up to 10000 vectors, then HNSW
	x.Add(semcache.ID{1}, unit(1, 0, 0))
	x.Add(semcache.ID{2}, unit(0, 1, 0))
	x.Add(semcache.ID{3}, unit(1, 1, 0))
	hits := x.Search(unit(1, 0.1, 0), 2)
	for _, h := range hits {
		fmt.Printf("%d %.3f\n", h.ID[0], h.Score)
	}

	// Snapshot and reload: the loaded index answers the same.
	var buf bytes.Buffer
	if err := x.WriteSnapshot(&buf, "lexical-v1-3"); err != nil {
		panic(err)
	}
	y, err := hnsw.ReadSnapshot(&buf, "lexical-v1-3", 3, hnsw.Options{})
	fmt.Println(err, y.Len(), y.Search(unit(1, 0.1, 0), 1)[0].ID[0])
	// Output:
	// 1 0.995
	// 3 0.774
	// <nil> 3 1
}
