package gateway

import (
	"io"
	"path/filepath"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
)

// partitionIndex is the cache's per-partition vector index: semgate's
// HNSW, which stays an exact flat scan up to index.flat_limit vectors.
// Only partitions past that limit are snapshotted (every
// index.snapshot_interval if they changed, and on shutdown); small ones
// are rebuilt from the store at start-up faster than a snapshot would
// load. A graph without a usable snapshot is rebuilt in the background
// (semcache.Builder), the partition answering by exact scan meanwhile.
type partitionIndex struct {
	*hnsw.Index
	flatLimit int
}

var (
	_ semcache.Index       = partitionIndex{}
	_ semcache.Snapshotter = partitionIndex{}
	_ semcache.Enumerator  = partitionIndex{}
	_ semcache.Builder     = partitionIndex{}
	_ semcache.Versioned   = partitionIndex{}
	_ semcache.Reserver    = partitionIndex{}
)

// backgroundLoad is the number of cache entries past which the gateway
// serves before the semantic tier has loaded (semcache.CacheConfig): up to
// it, loading the word keys and vectors takes a fraction of a second and
// semantic hits are served from the first request; past it /readyz answers
// as soon as the entries' metadata is loaded (about a second per million
// entries) and the admin cache stats report semantic_loading and
// indexes_building until the rest is ready.
const backgroundLoad = 50_000

func (p partitionIndex) WriteSnapshot(w io.Writer, embedderID string) error {
	if p.flatLimit >= 0 && p.Len() <= p.flatLimit {
		return semcache.ErrNoSnapshot
	}
	return p.Index.WriteSnapshot(w, embedderID)
}

// indexConfig wires the HNSW index and its snapshots into a cache config.
func indexConfig(o hnsw.Options, dataDir string, cc *semcache.CacheConfig) {
	limit := o.FlatLimit
	if limit == 0 {
		limit = hnsw.DefaultFlatLimit
	}
	cc.NewIndex = func(dim int) semcache.Index { return partitionIndex{hnsw.New(dim, o), limit} }
	cc.LoadIndex = func(r io.Reader, embedderID string, dim int) (semcache.Index, error) {
		x, err := hnsw.ReadSnapshot(r, embedderID, dim, o)
		if err != nil {
			return nil, err
		}
		return partitionIndex{x, limit}, nil
	}
	cc.SnapshotDir = filepath.Join(dataDir, "snapshots")
	cc.SnapshotInterval, cc.SnapshotMinChanges = o.SnapshotInterval, o.SnapshotMinChanges
	cc.BackgroundLoad = backgroundLoad
}
