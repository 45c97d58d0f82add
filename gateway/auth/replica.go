package auth

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/semgate/semgate/semcache"
)

// Replication. Several gateways (cluster mode, package gateway/cluster)
// share their keys as Records: the SHA-256 of the secret and the key's
// JSON, never the secret. A Store reports each change it makes (OnChange)
// and merges the records of other replicas (Apply) with one rule, the
// same everywhere, so that replicas converge whatever order records
// arrive in: a revoked key stays revoked, and otherwise the record
// changed last (updated_at) wins; equal ones change nothing.

// Record is a key as replicas exchange it.
type Record struct {
	// Hash is the SHA-256 of the key's secret.
	Hash [32]byte
	// JSON is the Key as JSON (its id and settings, no secret).
	JSON []byte
}

// record returns k's Record.
func (k *Key) record() Record {
	v, _ := json.Marshal(k) // a Key always marshals
	return Record{Hash: k.hash, JSON: v}
}

// OnChange sets fn to be called after each change this store makes
// (Create, Update, Revoke; not Apply), once the record is on disk and in
// memory, in the order of the changes. It is called with the store's
// write lock held, so it must not block or call the store. Set it before
// the store is used.
func (s *Store) OnChange(fn func(Record)) { s.onChange = fn }

// Records returns every key's record.
func (s *Store) Records() []Record {
	s.mu.RLock()
	keys := make([]*Key, 0, len(s.byHash))
	for _, k := range s.byHash {
		keys = append(keys, k)
	}
	s.mu.RUnlock()
	out := make([]Record, len(keys))
	for i, k := range keys {
		out[i] = k.record()
	}
	return out
}

// decode reads a replicated record.
func (r *Record) decode() (*Key, error) {
	k := &Key{}
	if err := json.Unmarshal(r.JSON, k); err != nil || k.ID == "" {
		return nil, fmt.Errorf("auth: unreadable key record")
	}
	k.hash = r.Hash
	seal(k)
	return k, nil
}

// supersedes reports whether a should replace b (b may be nil).
func supersedes(a, b *Key) bool {
	switch {
	case b == nil:
		return true
	case b.RevokedAt != nil && a.RevokedAt == nil:
		return false // a revocation is final
	case a.RevokedAt != nil && b.RevokedAt == nil:
		return true
	}
	return a.UpdatedAt.After(b.UpdatedAt)
}

// Supersedes reports whether record a should replace record b under the
// merge rule: a revoked key stays revoked, otherwise the later updated_at
// wins. An unreadable a never does; an unreadable b always is replaced.
func Supersedes(a, b Record) bool {
	if bytes.Equal(a.JSON, b.JSON) {
		return false
	}
	ka, err := a.decode()
	if err != nil {
		return false
	}
	kb, err := b.decode()
	if err != nil {
		return true
	}
	return supersedes(ka, kb)
}

// Apply merges records of other replicas: each one that supersedes the
// key this store has under its hash (or that it does not have) is
// written, in one synced batch, and then served. Records that do not
// decode are skipped and counted in bad. OnChange is not called.
func (s *Store) Apply(rs []Record) (applied, bad int, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	merged := map[[32]byte]*Key{}
	s.mu.RLock()
	for i := range rs {
		k, derr := rs[i].decode()
		if derr != nil {
			bad++
			continue
		}
		if other := s.byID[k.ID]; other != nil && other.hash != k.hash {
			bad++ // an id already used by another secret: never let it move
			continue
		}
		old := merged[k.hash]
		if old == nil {
			old = s.byHash[k.hash]
		}
		if old != nil && !supersedes(k, old) {
			continue
		}
		merged[k.hash] = k
	}
	s.mu.RUnlock()
	keys := make([]*Key, 0, len(merged))
	pairs := make([]semcache.Pair, 0, len(merged))
	for _, k := range merged {
		keys = append(keys, k)
		pairs = append(pairs, encodeRecord(k))
	}
	if len(keys) == 0 {
		return 0, bad, nil
	}
	if err := s.t.SetMany(pairs, true); err != nil {
		return 0, bad, fmt.Errorf("auth: writing replicated keys: %w", err)
	}
	s.mu.Lock()
	for _, k := range keys {
		s.byHash[k.hash] = k
		s.byID[k.ID] = k
	}
	s.mu.Unlock()
	return len(keys), bad, nil
}
