package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/semgate/semgate/semcache"
)

// Table is the storage a Store keeps its records in; *semcache.KV (table
// semcache.TableKeys) implements it.
type Table interface {
	SetMany(pairs []semcache.Pair, sync bool) error
	Scan(prefix []byte, fn func(key, value []byte) bool) error
}

// Key records in the table:
//
//	'h' <SHA-256 of the secret: 32 bytes>  ->  recordVersion, then the Key as JSON
//
// The JSON holds the key's id and settings, never its secret. A revoked
// key keeps its record (revoked_at set), so its id stays meaningful in
// spend totals. Records of another version, or that do not decode, are
// skipped at open (Store.Skipped): such a key is refused, never let in.
const (
	recordHash    = 'h'
	recordVersion = 1
)

// StoreOptions configures a Store; the zero value means defaults.
type StoreOptions struct {
	// KnownModel, when set, rejects model aliases it does not know in a
	// key's models. Default: any alias is accepted.
	KnownModel func(alias string) bool
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Store keeps the virtual keys: in memory by the hash of their secret and
// by id, written through to a Table. Safe for concurrent use; lookups
// take a read lock and do no I/O.
type Store struct {
	t   Table
	now func() time.Time
	o   StoreOptions

	wmu sync.Mutex // serializes changes: write the record, then publish it

	mu      sync.RWMutex
	byHash  map[[32]byte]*Key
	byID    map[string]*Key
	skipped int

	onChange func(Record) // replication (replica.go); nil when standalone
}

// Open loads every key record from t.
func Open(t Table, o StoreOptions) (*Store, error) {
	s := &Store{t: t, o: o, now: o.Now, byHash: map[[32]byte]*Key{}, byID: map[string]*Key{}}
	if s.now == nil {
		s.now = time.Now
	}
	err := t.Scan([]byte{recordHash}, func(k, v []byte) bool {
		key, err := decodeRecord(k, v)
		if err != nil {
			s.skipped++
			return true
		}
		s.byHash[key.hash] = key
		s.byID[key.ID] = key
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("auth: loading keys: %w", err)
	}
	return s, nil
}

func decodeRecord(k, v []byte) (*Key, error) {
	if len(k) != 1+sha256.Size || len(v) < 1 || v[0] != recordVersion {
		return nil, fmt.Errorf("auth: key record of unknown layout")
	}
	key := &Key{}
	if err := json.Unmarshal(v[1:], key); err != nil || key.ID == "" {
		return nil, fmt.Errorf("auth: unreadable key record")
	}
	copy(key.hash[:], k[1:])
	seal(key)
	return key, nil
}

func encodeRecord(k *Key) semcache.Pair {
	v, _ := json.Marshal(k) // a Key always marshals
	rec := make([]byte, 0, 1+len(v))
	rec = append(rec, recordVersion)
	rec = append(rec, v...)
	return semcache.Pair{Key: append([]byte{recordHash}, k.hash[:]...), Value: rec}
}

// seal fills in what is derived from the key's fields: empty lists as
// empty, not null, and its principal.
func seal(k *Key) {
	if k.Models == nil {
		k.Models = []string{}
	}
	if k.Metadata == nil {
		k.Metadata = map[string]string{}
	}
	k.principal = Principal{Tenant: k.Tenant, Key: k}
}

// Skipped is how many records Open could not read.
func (s *Store) Skipped() int { return s.skipped }

// Len is the number of keys, revoked ones included.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

// Authenticate returns the principal of a presented secret: ErrMalformed,
// ErrUnknown, ErrRevoked or ErrExpired when it may not be used. It
// allocates nothing and does no I/O.
func (s *Store) Authenticate(secret string) (*Principal, error) {
	if len(secret) != SecretLen || !strings.HasPrefix(secret, SecretPrefix) {
		return nil, ErrMalformed
	}
	var buf [SecretLen]byte
	copy(buf[:], secret)
	h := sha256.Sum256(buf[:])
	s.mu.RLock()
	k := s.byHash[h]
	s.mu.RUnlock()
	switch {
	case k == nil:
		return nil, ErrUnknown
	case k.RevokedAt != nil:
		return nil, ErrRevoked
	case k.expired(s.now()):
		return nil, ErrExpired
	}
	return &k.principal, nil
}

// Create makes a key from spec and returns it with its secret, which is
// not kept: it cannot be shown again. The record is on disk when Create
// returns.
func (s *Store) Create(spec Spec) (*Key, string, error) {
	now := s.now().UTC()
	c := checker{known: s.o.KnownModel, now: now}
	c.name(spec.Name)
	if spec.Tenant != "" && !ValidTenant(spec.Tenant) {
		c.add("tenant", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	c.models(spec.Models)
	c.rateLimit(spec.RateLimit)
	c.budget(spec.Budget)
	c.expiry(spec.ExpiresAt)
	c.metadata(spec.Metadata)
	if err := c.err(); err != nil {
		return nil, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", fmt.Errorf("auth: making a secret: %w", err)
	}
	k := &Key{
		Name: spec.Name, Tenant: spec.Tenant, Models: slices.Clone(spec.Models),
		RateLimit: spec.RateLimit, Budget: normalBudget(spec.Budget), Metadata: maps.Clone(spec.Metadata),
		Cache: spec.Cache, CreatedAt: now, UpdatedAt: now, hash: sha256.Sum256([]byte(secret)),
	}
	if k.Tenant == "" {
		k.Tenant = DefaultTenant
	}
	if spec.ExpiresAt != nil {
		t := spec.ExpiresAt.UTC()
		k.ExpiresAt = &t
	}
	seal(k)

	s.wmu.Lock()
	defer s.wmu.Unlock()
	for {
		var id [8]byte
		if _, err := rand.Read(id[:]); err != nil {
			return nil, "", fmt.Errorf("auth: making an id: %w", err)
		}
		k.ID = "key_" + hex.EncodeToString(id[:])
		s.mu.RLock()
		_, taken := s.byID[k.ID]
		s.mu.RUnlock()
		if !taken {
			break
		}
	}
	if err := s.put(k); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// put writes k durably, then publishes it. Call with wmu held.
func (s *Store) put(k *Key) error {
	if err := s.t.SetMany([]semcache.Pair{encodeRecord(k)}, true); err != nil {
		return fmt.Errorf("auth: writing key %s: %w", k.ID, err)
	}
	s.mu.Lock()
	s.byHash[k.hash] = k
	s.byID[k.ID] = k
	s.mu.Unlock()
	if s.onChange != nil {
		s.onChange(k.record())
	}
	return nil
}

// Get returns the key with that id, or ErrNotFound.
func (s *Store) Get(id string) (*Key, error) {
	s.mu.RLock()
	k := s.byID[id]
	s.mu.RUnlock()
	if k == nil {
		return nil, ErrNotFound
	}
	return k, nil
}

// List returns the keys, oldest first; only the tenant's unless tenant is
// "".
func (s *Store) List(tenant string) []*Key {
	s.mu.RLock()
	out := make([]*Key, 0, len(s.byID))
	for _, k := range s.byID {
		if tenant == "" || k.Tenant == tenant {
			out = append(out, k)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Update applies p to the key with that id and returns the new key. Every
// problem is reported at once, as an *InvalidError.
func (s *Store) Update(id string, p *Patch) (*Key, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	old, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	c := checker{known: s.o.KnownModel, now: now}
	k := *old
	if p.Tenant.Set && p.Tenant.Value != old.Tenant {
		c.add("tenant", "a key's tenant cannot change; create a key for the other tenant")
	}
	if p.Name.Set {
		c.name(p.Name.Value)
		k.Name = p.Name.Value
	}
	if p.Models.Set {
		c.models(p.Models.Value)
		k.Models = slices.Clone(p.Models.Value)
	}
	if p.RateLimit.Set {
		c.rateLimit(p.RateLimit.Value)
		k.RateLimit = p.RateLimit.Value
	}
	if p.Budget.Set {
		c.budget(p.Budget.Value)
		k.Budget = normalBudget(p.Budget.Value)
	}
	if p.ExpiresAt.Set {
		c.expiry(p.ExpiresAt.Value)
		k.ExpiresAt = nil
		if p.ExpiresAt.Value != nil {
			t := p.ExpiresAt.Value.UTC()
			k.ExpiresAt = &t
		}
	}
	if p.Metadata.Set {
		c.metadata(p.Metadata.Value)
		k.Metadata = maps.Clone(p.Metadata.Value)
	}
	if p.Cache.Set {
		k.Cache = p.Cache.Value
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	k.UpdatedAt = now
	seal(&k)
	if err := s.put(&k); err != nil {
		return nil, err
	}
	return &k, nil
}

// Revoke revokes the key with that id: from when Revoke returns, its
// secret is refused. Revoking a revoked key changes nothing.
func (s *Store) Revoke(id string) (*Key, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	old, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if old.RevokedAt != nil {
		return old, nil
	}
	now := s.now().UTC()
	k := *old
	k.RevokedAt, k.UpdatedAt = &now, now
	seal(&k)
	if err := s.put(&k); err != nil {
		return nil, err
	}
	return &k, nil
}
