package hnsw_test

import (
	"testing"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
)

// The graph is held to recall@10 ≥ 0.95 on 2000 random 32-dimensional
// vectors: random data is the hardest case for a graph index (no cluster
// structure), and at the default ef_search this size is searched almost
// exhaustively, so anything lower means a broken graph.
func TestConformanceGraph(t *testing.T) {
	indextest.Run(t, func(dim int) semcache.Index {
		return hnsw.New(dim, hnsw.Options{FlatLimit: -1})
	}, indextest.Options{MinRecall10: 0.95, N: 2000})
}

// A small ef_search and M stress the graph itself rather than the search
// budget.
func TestConformanceGraphLean(t *testing.T) {
	indextest.Run(t, func(dim int) semcache.Index {
		return hnsw.New(dim, hnsw.Options{FlatLimit: -1, M: 8, EfSearch: 48, EfConstruction: 64})
	}, indextest.Options{MinRecall10: 0.90, N: 2000})
}

// With the default flat limit the suite's sets stay exact.
func TestConformanceTiered(t *testing.T) {
	indextest.Run(t, func(dim int) semcache.Index {
		return hnsw.New(dim, hnsw.Options{})
	}, indextest.Options{MinRecall10: 1, N: 2000})
}

// A flat limit inside the suite's sizes makes it migrate mid-test.
func TestConformanceMigrating(t *testing.T) {
	indextest.Run(t, func(dim int) semcache.Index {
		return hnsw.New(dim, hnsw.Options{FlatLimit: 30})
	}, indextest.Options{MinRecall10: 0.95, N: 2000})
}
