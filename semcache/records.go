package semcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Key layout (format version 1). Every key starts with a one-byte table:
//
//	\x00format                      layout version ("1")
//	e <id:16>                       entry: JSON metadata and answer body
//	m <id:16>                       entry metadata, small and binary
//	x <embedder> \x00 <partition:16> <id:16>
//	                                the entry's vector (little-endian float32)
//	w <id:16>                       <partition:16> and the prompt, for the
//	                                word-key channel (semantic entries only)
//
// Every method below returns ErrClosed once the store is closed (Store.acquire).
//
// Durability. Each change of the cache (a put with the removal of the
// entry it replaces and its evictions, a sweep, a flush) is one atomic
// batch, committed in the order the cache changed its memory (see Cache),
// never under its lock; an entry's records are written and deleted
// together, so a crash never leaves an entry half written. A cache fill
// (Put) then waits until the write-ahead log is synced to disk (one sync
// covers every write before it, so concurrent fills share it): the gateway
// stores an answer before its last byte reaches the client, so an answer a
// client received survives a crash of the process or of the machine.
// Options.NoSync gives that up for speed. Hit counts, sweeps and
// evictions are not synced: a crash may lose the last moments of them,
// which only makes an entry look older or keeps an expired one (never
// served) until the next sweep.
//
// Start-up reads the m, w and x records, never answer bodies, and does not
// depend on every record being readable: the scans below visit every
// readable record and report the keys of the others (badRecordsError);
// the cache removes those, and records of no readable entry, and counts
// them (Stats.SkippedRecords). An entry whose e record is missing or
// unreadable is dropped when it is first read.
const (
	tableEntry  = 'e'
	tableMeta   = 'm'
	tableVector = 'x'
	tableWords  = 'w'
)

// ErrNotFound: no entry with that key.
var ErrNotFound = errors.New("semcache: not found")

func entryKey(id ID) []byte { return append([]byte{tableEntry}, id[:]...) }
func metaKey(id ID) []byte  { return append([]byte{tableMeta}, id[:]...) }
func wordsKey(id ID) []byte { return append([]byte{tableWords}, id[:]...) }

func vecPrefix(embedder string) []byte {
	b := make([]byte, 0, 2+len(embedder))
	b = append(b, tableVector)
	b = append(b, embedder...)
	return append(b, 0)
}

func vecKey(embedder string, partition, id ID) []byte {
	b := vecPrefix(embedder)
	b = append(b, partition[:]...)
	return append(b, id[:]...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func decodeVector(b []byte, dim int) ([]float32, bool) {
	if len(b) != 4*dim {
		return nil, false
	}
	v := make([]float32, dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, true
}

// newBatch starts a batch of changes; building it does no I/O.
func (s *Store) newBatch() *pebble.Batch { return s.db.NewBatch() }

// commit applies b atomically (sync: wait for the disk) and closes it.
func (s *Store) commit(b *pebble.Batch, sync bool) error {
	defer b.Close()
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := b.Commit(opt); err != nil {
		return fmt.Errorf("semcache: commit: %w", err)
	}
	return nil
}

// syncWAL waits until every write committed so far is on disk.
func (s *Store) syncWAL() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("semcache: sync: %w", err)
	}
	return nil
}

// entryRecords are an entry's encoded records, made before the cache takes
// its lock.
type entryRecords struct {
	id, part           ID
	embedder           string
	rec, meta, vec, wd []byte
}

// encodeRecords encodes an entry, its metadata and its vector (nil: none),
// and sets m.size.
func encodeRecords(e *Entry, m *meta, vec []float32) (entryRecords, error) {
	rec, err := encodeEntry(e)
	if err != nil {
		return entryRecords{}, fmt.Errorf("semcache: encode entry: %w", err)
	}
	m.size = int32(len(rec))
	r := entryRecords{id: e.ID, part: e.Partition, embedder: m.embedder, rec: rec, meta: m.encode()}
	if vec != nil && m.embedder != "" {
		r.vec = encodeVector(vec)
	}
	if m.words {
		r.wd = make([]byte, 0, 16+len(e.Prompt))
		r.wd = append(r.wd, e.Partition[:]...)
		r.wd = append(r.wd, e.Prompt...)
	}
	return r, nil
}

// addTo adds the records to b.
func (r *entryRecords) addTo(b *pebble.Batch) {
	b.Set(entryKey(r.id), r.rec, nil)
	b.Set(metaKey(r.id), r.meta, nil)
	if r.vec != nil {
		b.Set(vecKey(r.embedder, r.part, r.id), r.vec, nil)
	}
	if r.wd != nil {
		b.Set(wordsKey(r.id), r.wd, nil)
	}
}

// addDelete adds the removal of an entry's records to b (its vector's
// key is known from m).
func addDelete(b *pebble.Batch, id ID, m *meta) {
	b.Delete(entryKey(id), nil)
	b.Delete(metaKey(id), nil)
	b.Delete(wordsKey(id), nil)
	if m.embedder != "" {
		b.Delete(vecKey(m.embedder, m.partition, id), nil)
	}
}

// putEntry writes an entry, its metadata and its vector in one batch.
func (s *Store) putEntry(e *Entry, m *meta, vec []float32) error {
	r, err := encodeRecords(e, m, vec)
	if err != nil {
		return err
	}
	b := s.newBatch()
	r.addTo(b)
	return s.commit(b, false)
}

// getEntry reads an entry's record.
func (s *Store) getEntry(id ID) (*Entry, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(entryKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("semcache: read entry: %w", err)
	}
	defer closer.Close()
	return decodeEntry(id, v)
}

// metaRecord is an entry's metadata, to write.
type metaRecord struct {
	id ID
	m  meta
}

// putMetas rewrites entries' metadata (hit counts) in one batch.
func (s *Store) putMetas(recs []metaRecord) error {
	b := s.newBatch()
	for i := range recs {
		b.Set(metaKey(recs[i].id), recs[i].m.encode(), nil)
	}
	return s.commit(b, false)
}

// deleteEntry removes an entry's records.
func (s *Store) deleteEntry(id ID, m *meta) error {
	b := s.newBatch()
	addDelete(b, id, m)
	return s.commit(b, false)
}

// deleteAll removes every entry.
func (s *Store) deleteAll() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := s.db.NewBatch()
	defer b.Close()
	for _, t := range []byte{tableEntry, tableMeta, tableVector, tableWords} {
		if err := b.DeleteRange([]byte{t}, []byte{t + 1}, nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// badRecordsError: a scan met records it could not read (a value that
// does not decode, a key or value of the wrong size). It still visited
// every readable record; keys holds the others' keys (copies).
type badRecordsError struct {
	table byte
	keys  [][]byte
}

func (e *badRecordsError) Error() string {
	return fmt.Sprintf("semcache: %d unreadable records in table %q", len(e.keys), e.table)
}

func (e *badRecordsError) Unwrap() error { return ErrCorrupt }

// scanEnd returns the iterator's error, or a *badRecordsError for bad.
func scanEnd(it *pebble.Iterator, table byte, bad [][]byte) error {
	if err := it.Error(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return &badRecordsError{table: table, keys: bad}
	}
	return nil
}

// recordID returns the ID in an e, m or w key.
func recordID(key []byte) (ID, bool) {
	var id ID
	if len(key) != 1+len(id) {
		return id, false
	}
	copy(id[:], key[1:])
	return id, true
}

// vectorIDs returns the partition and ID in an x key of embedder.
func vectorIDs(embedder string, key []byte) (part, id ID, ok bool) {
	n := 1 + len(embedder) + 1
	if len(key) != n+32 || string(key[1:n-1]) != embedder {
		return part, id, false
	}
	copy(part[:], key[n:])
	copy(id[:], key[n+16:])
	return part, id, true
}

// scanMetas calls fn for every readable entry metadata record; see
// badRecordsError for the others.
func (s *Store) scanMetas(fn func(id ID, m *meta)) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableMeta}, UpperBound: []byte{tableMeta + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var bad [][]byte
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		id, ok := recordID(k)
		var m *meta
		if ok {
			m, err = decodeMeta(it.Value())
		}
		if !ok || err != nil || m.size < 0 {
			bad = append(bad, slices.Clone(k))
			continue
		}
		fn(id, m)
	}
	return scanEnd(it, tableMeta, bad)
}

// scanWords calls fn for every readable word-key record; see
// badRecordsError for the others.
func (s *Store) scanWords(fn func(id, part ID, prompt string)) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableWords}, UpperBound: []byte{tableWords + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var bad [][]byte
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		id, ok := recordID(k)
		if !ok || len(v) < 16 {
			bad = append(bad, slices.Clone(k))
			continue
		}
		var part ID
		copy(part[:], v[:16])
		fn(id, part, string(v[16:]))
	}
	return scanEnd(it, tableWords, bad)
}

// scanVectors calls fn for every readable vector stored by embedder; see
// badRecordsError for the others. A vector of another size than dim is
// unreadable: an embedder's ID names its dimension.
func (s *Store) scanVectors(embedder string, dim int, fn func(partition, id ID, vec []float32)) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	p := vecPrefix(embedder)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	defer it.Close()
	var bad [][]byte
	for it.First(); it.Valid(); it.Next() {
		part, id, ok := vectorIDs(embedder, it.Key())
		var vec []float32
		if ok {
			vec, ok = decodeVector(it.Value(), dim)
		}
		if !ok {
			bad = append(bad, slices.Clone(it.Key()))
			continue
		}
		fn(part, id, vec)
	}
	return scanEnd(it, tableVector, bad)
}
