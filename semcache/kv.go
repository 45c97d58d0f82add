package semcache

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// TableSpend is the key table reserved for the gateway's spend totals
// (cost accounting): keys 's' <period> 0x00 <dimension> <name>. The cache
// never reads, writes or flushes it.
const TableSpend = 's'

// TableKeys is the key table reserved for the gateway's virtual API keys
// (package gateway/auth): keys 'k' 'h' <SHA-256 of the secret>. The cache
// never reads, writes or flushes it.
const TableKeys = 'k'

// TableCluster is the key table reserved for cluster mode (package
// gateway/cluster): this replica's id and its position in the shared
// stream of cache fills. The cache never reads, writes or flushes it.
const TableCluster = 'c'

// ErrTable: a KV table byte that the cache itself uses, or 0.
var ErrTable = errors.New("semcache: reserved table")

// KV is a small key/value API over one table of the store, for data that
// lives beside the cache (spend totals). Keys are given without the table
// byte. Safe for concurrent use.
type KV struct {
	s     *Store
	table byte
}

// KV returns the key/value view of table, which must not be one of the
// cache's own tables ('e', 'm', 'x') or 0 (the format record).
func (s *Store) KV(table byte) (*KV, error) {
	switch table {
	case 0, tableEntry, tableMeta, tableVector:
		return nil, fmt.Errorf("%w: %q", ErrTable, table)
	}
	return &KV{s: s, table: table}, nil
}

func (k *KV) key(key []byte) []byte {
	b := make([]byte, 0, 1+len(key))
	b = append(b, k.table)
	return append(b, key...)
}

// Get returns a copy of key's value, or ErrNotFound.
func (k *KV) Get(key []byte) ([]byte, error) {
	if err := k.s.acquire(); err != nil {
		return nil, err
	}
	defer k.s.mu.RUnlock()
	v, closer, err := k.s.db.Get(k.key(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("semcache: kv get: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// Pair is one key and value for SetMany.
type Pair struct{ Key, Value []byte }

// SetMany writes pairs in one atomic batch; sync waits for the disk.
func (k *KV) SetMany(pairs []Pair, sync bool) error {
	if err := k.s.acquire(); err != nil {
		return err
	}
	defer k.s.mu.RUnlock()
	b := k.s.db.NewBatch()
	defer b.Close()
	for _, p := range pairs {
		if err := b.Set(k.key(p.Key), p.Value, nil); err != nil {
			return fmt.Errorf("semcache: kv set: %w", err)
		}
	}
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := b.Commit(opt); err != nil {
		return fmt.Errorf("semcache: kv write: %w", err)
	}
	return nil
}

// Set writes one key, without waiting for the disk.
func (k *KV) Set(key, value []byte) error { return k.SetMany([]Pair{{key, value}}, false) }

// Delete removes one key.
func (k *KV) Delete(key []byte) error {
	if err := k.s.acquire(); err != nil {
		return err
	}
	defer k.s.mu.RUnlock()
	return k.s.db.Delete(k.key(key), pebble.NoSync)
}

// Scan calls fn for every key with prefix, in key order, until fn returns
// false. key and value are valid only during the call.
func (k *KV) Scan(prefix []byte, fn func(key, value []byte) bool) error {
	if err := k.s.acquire(); err != nil {
		return err
	}
	defer k.s.mu.RUnlock()
	p := k.key(prefix)
	it, err := k.s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return fmt.Errorf("semcache: kv scan: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("semcache: kv scan: %w", err)
		}
		if !fn(it.Key()[1:], v) {
			break
		}
	}
	return it.Error()
}
