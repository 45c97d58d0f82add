package hnsw

import (
	"errors"
	"fmt"
	"time"

	"github.com/semgate/semgate/semcache"
)

// Defaults for Options, chosen from bench/indexbench at 100k × 256 on the
// development machine: M=24 beats M=16 on both recall and latency for
// high-dimensional embeddings (M=24 with ef_search 64 matches M=16 with 128)
// at about 250 bytes of graph per vector. DefaultFlatLimit sits below the
// measured crossover (an exact scan is faster than the graph up to about
// 16k–20k vectors at 256–384 dimensions, one query at a time) because a
// scan reads the whole partition per query: at 10k × 256 it takes about
// 150 µs, is exact and needs no build.
const (
	DefaultM               = 24
	DefaultEfConstruction  = 200
	DefaultEfSearch        = 128
	DefaultFlatLimit       = 10000
	DefaultRebuildFraction = 0.10
	DefaultSeed            = 0
)

// Bounds Validate enforces.
const (
	maxM  = 128
	maxEf = 4096
)

// Options tunes an Index. The zero value means the defaults.
type Options struct {
	// M is the number of links a node gets on each layer it is inserted
	// in; layer 0 holds up to 2·M. Larger M raises recall and memory
	// (4·(2M+1) bytes per vector on layer 0). Range 2..128. Default: 24.
	M int `yaml:"m"`
	// EfConstruction is the candidate list size while inserting: larger
	// builds a better graph, more slowly. Range 1..4096. Default: 200.
	EfConstruction int `yaml:"ef_construction"`
	// EfSearch is the candidate list size while searching (at least k is
	// used): larger raises recall and latency. Range 1..4096. Default: 128.
	EfSearch int `yaml:"ef_search"`
	// FlatLimit is the number of vectors up to which the index stays an
	// exact flat scan; past it the graph is built, a few vectors per
	// write, and searches switch to it once every vector is linked. -1
	// builds the graph from the first vector. Default: 10000.
	FlatLimit int `yaml:"flat_limit"`
	// RebuildFraction is the share of deleted nodes (tombstones) in the
	// graph past which a repair cycle starts: links to the tombstones are
	// replaced, a few nodes per write, and their slots are then reused.
	// Range (0, 1). Default: 0.10.
	RebuildFraction float64 `yaml:"rebuild_fraction"`
	// Seed seeds the level generator; an index is deterministic given its
	// seed and its sequence of writes. Default: 0.
	Seed uint64 `yaml:"seed"`

	// The cache's snapshots of its partition graphs (the index itself
	// does not use these; the gateway passes them to semcache.Open).

	// SnapshotInterval is how often the snapshots of partition graphs
	// that changed by SnapshotMinChanges are written while the gateway
	// runs, so that a restart after a crash loads them instead of
	// rebuilding the graphs; a negative value writes them only on
	// shutdown. At least 1s. Default: 5m.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
	// SnapshotMinChanges is how many changes (vectors added or deleted,
	// graph insertions) a partition needs since its last snapshot to be
	// written again by the periodic snapshot. Default: 1000.
	SnapshotMinChanges int `yaml:"snapshot_min_changes"`
}

// Validate reports every problem at once; each error wraps
// ErrInvalidOptions.
func (o *Options) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, args...)))
	}
	if o.M != 0 && (o.M < 2 || o.M > maxM) {
		bad("m", "%d is not in 2..%d", o.M, maxM)
	}
	if o.EfConstruction != 0 && (o.EfConstruction < 1 || o.EfConstruction > maxEf) {
		bad("ef_construction", "%d is not in 1..%d", o.EfConstruction, maxEf)
	}
	if o.EfSearch != 0 && (o.EfSearch < 1 || o.EfSearch > maxEf) {
		bad("ef_search", "%d is not in 1..%d", o.EfSearch, maxEf)
	}
	if o.FlatLimit < -1 {
		bad("flat_limit", "%d is below -1", o.FlatLimit)
	}
	if o.RebuildFraction != 0 && !(o.RebuildFraction > 0 && o.RebuildFraction < 1) {
		bad("rebuild_fraction", "%v is not in (0, 1)", o.RebuildFraction)
	}
	if o.SnapshotInterval > 0 && o.SnapshotInterval < semcache.MinSnapshotInterval {
		bad("snapshot_interval", "%v is under %v (negative: only on shutdown)", o.SnapshotInterval, semcache.MinSnapshotInterval)
	}
	if o.SnapshotMinChanges < 0 {
		bad("snapshot_min_changes", "%d is negative", o.SnapshotMinChanges)
	}
	return errors.Join(errs...)
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.M == 0 {
		o.M = DefaultM
	}
	if o.EfConstruction == 0 {
		o.EfConstruction = DefaultEfConstruction
	}
	if o.EfSearch == 0 {
		o.EfSearch = DefaultEfSearch
	}
	if o.FlatLimit == 0 {
		o.FlatLimit = DefaultFlatLimit
	}
	if o.RebuildFraction == 0 {
		o.RebuildFraction = DefaultRebuildFraction
	}
	return o
}
