package semcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

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
// Entries are written with NoSync: this is a cache, and a crash loses at
// most the last moments of writes, never consistency (each put is one
// atomic batch).
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

// putEntry writes an entry, its metadata and its vector in one batch.
func (s *Store) putEntry(e *Entry, m *meta, vec []float32) error {
	rec, err := encodeEntry(e)
	if err != nil {
		return fmt.Errorf("semcache: encode entry: %w", err)
	}
	m.size = int32(len(rec))
	b := s.db.NewBatch()
	defer b.Close()
	b.Set(entryKey(e.ID), rec, nil)
	b.Set(metaKey(e.ID), m.encode(), nil)
	if vec != nil && m.embedder != "" {
		b.Set(vecKey(m.embedder, e.Partition, e.ID), encodeVector(vec), nil)
	}
	if m.words {
		w := make([]byte, 0, 16+len(e.Prompt))
		w = append(w, e.Partition[:]...)
		b.Set(wordsKey(e.ID), append(w, e.Prompt...), nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("semcache: write entry: %w", err)
	}
	return nil
}

// getEntry reads an entry's record.
func (s *Store) getEntry(id ID) (*Entry, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
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

// putMeta rewrites an entry's metadata (hit counts).
func (s *Store) putMeta(id ID, m *meta) error {
	return s.db.Set(metaKey(id), m.encode(), pebble.NoSync)
}

// deleteEntry removes an entry's records.
func (s *Store) deleteEntry(id ID, m *meta) error {
	b := s.db.NewBatch()
	defer b.Close()
	b.Delete(entryKey(id), nil)
	b.Delete(metaKey(id), nil)
	b.Delete(wordsKey(id), nil)
	if m.embedder != "" {
		b.Delete(vecKey(m.embedder, m.partition, id), nil)
	}
	return b.Commit(pebble.NoSync)
}

// deleteAll removes every entry.
func (s *Store) deleteAll() error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, t := range []byte{tableEntry, tableMeta, tableVector, tableWords} {
		if err := b.DeleteRange([]byte{t}, []byte{t + 1}, nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// scanMetas calls fn for every entry's metadata.
func (s *Store) scanMetas(fn func(id ID, m *meta)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableMeta}, UpperBound: []byte{tableMeta + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 17 {
			continue
		}
		m, err := decodeMeta(it.Value())
		if err != nil {
			return err
		}
		var id ID
		copy(id[:], k[1:])
		fn(id, m)
	}
	return it.Error()
}

// scanWords calls fn for every word-key record.
func (s *Store) scanWords(fn func(id, part ID, prompt string)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableWords}, UpperBound: []byte{tableWords + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 17 || len(v) < 16 {
			continue
		}
		var id, part ID
		copy(id[:], k[1:])
		copy(part[:], v[:16])
		fn(id, part, string(v[16:]))
	}
	return it.Error()
}

// scanVectors calls fn for every vector stored by embedder.
func (s *Store) scanVectors(embedder string, dim int, fn func(partition, id ID, vec []float32)) error {
	p := vecPrefix(embedder)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(p):]
		if len(k) != 32 {
			continue
		}
		vec, ok := decodeVector(it.Value(), dim)
		if !ok {
			continue // another dimension: not comparable
		}
		var part, id ID
		copy(part[:], k[:16])
		copy(id[:], k[16:])
		fn(part, id, vec)
	}
	return it.Error()
}
