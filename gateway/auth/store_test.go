package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openStore opens a key store on a Pebble store in dir; close it with the
// returned function.
func openStore(t testing.TB, dir string, o StoreOptions) (*Store, func()) {
	t.Helper()
	st, err := semcache.OpenStore(semcache.StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(semcache.TableKeys)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(kv, o)
	if err != nil {
		t.Fatal(err)
	}
	return s, func() { st.Close() }
}

func TestCreateAuthenticate(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, done := openStore(t, t.TempDir(), StoreOptions{Now: clk.now})
	defer done()
	exp := clk.t.Add(time.Hour)
	k, secret, err := s.Create(Spec{Name: "ci", Tenant: "team-a", Models: []string{"m"}, ExpiresAt: &exp,
		RateLimit: RateLimit{RequestsPerMinute: 60}, Budget: Budget{MaxUSD: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != SecretLen || strings.Trim(secret[len(SecretPrefix):], base62) != "" {
		t.Fatalf("secret %q", secret)
	}
	if !strings.HasPrefix(k.ID, "key_") || k.Budget.Period != PeriodMonth || k.Tenant != "team-a" {
		t.Fatalf("key %+v", k)
	}
	p, err := s.Authenticate(secret)
	if err != nil || p.Tenant != "team-a" || p.KeyID() != k.ID || !p.MayUse("m") || p.MayUse("other") || p.MayBypass() {
		t.Fatalf("%+v %v", p, err)
	}
	for _, c := range []struct {
		secret string
		want   error
	}{
		{"", ErrMalformed},
		{"sk-sg-short", ErrMalformed},
		{strings.Replace(secret, "sk-sg-", "sk-xx-", 1), ErrMalformed},
		{secret[:len(secret)-1] + flip(secret[len(secret)-1]), ErrUnknown},
	} {
		if _, err := s.Authenticate(c.secret); !errors.Is(err, c.want) {
			t.Errorf("%q: %v, want %v", c.secret, err, c.want)
		}
	}
	clk.add(time.Hour)
	if _, err := s.Authenticate(secret); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired key: %v", err)
	}
	if got := k.Status(clk.now()); got != "expired" {
		t.Fatal(got)
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestRevokeAtOnce(t *testing.T) {
	s, done := openStore(t, t.TempDir(), StoreOptions{})
	defer done()
	k, secret, err := s.Create(Spec{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(secret); err != nil || p.Tenant != DefaultTenant {
		t.Fatalf("%+v %v", p, err)
	}
	r, err := s.Revoke(k.ID)
	if err != nil || r.RevokedAt == nil || r.Status(time.Now()) != "revoked" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := s.Authenticate(secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked key: %v", err)
	}
	if again, err := s.Revoke(k.ID); err != nil || !again.RevokedAt.Equal(*r.RevokedAt) {
		t.Fatalf("second revoke: %+v %v", again, err)
	}
	if _, err := s.Revoke("key_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestValidation(t *testing.T) {
	known := func(m string) bool { return m == "m" }
	s, done := openStore(t, t.TempDir(), StoreOptions{KnownModel: known})
	defer done()
	past := time.Now().Add(-time.Minute)
	_, _, err := s.Create(Spec{Tenant: "bad tenant|x", Models: []string{"m", "nope", "m"}, ExpiresAt: &past,
		RateLimit: RateLimit{RequestsPerMinute: -1, Burst: -1}, Budget: Budget{MaxUSD: -1, Period: "week"}})
	var ie *InvalidError
	if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("%v", err)
	}
	fields := map[string]bool{}
	for _, p := range ie.Problems {
		fields[p.Field] = true
	}
	for _, f := range []string{"tenant", "models[1]", "models[2]", "expires_at", "rate_limit.requests_per_minute", "rate_limit.burst", "budget.max_usd", "budget.period"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s: %v", f, err)
		}
	}
	if s.Len() != 0 {
		t.Fatal("an invalid key was stored")
	}
}

func TestUpdate(t *testing.T) {
	s, done := openStore(t, t.TempDir(), StoreOptions{})
	defer done()
	exp := time.Now().Add(time.Hour)
	k, secret, err := s.Create(Spec{Name: "a", Tenant: "t1", Models: []string{"m"}, ExpiresAt: &exp, Metadata: map[string]string{"owner": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	var p Patch
	if err := json.Unmarshal([]byte(`{"name":"b","models":null,"expires_at":null,"cache":{"bypass":true},"budget":{"max_usd":2,"period":"day"}}`), &p); err != nil {
		t.Fatal(err)
	}
	u, err := s.Update(k.ID, &p)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "b" || len(u.Models) != 0 || u.ExpiresAt != nil || !u.Cache.Bypass || u.Budget != (Budget{2, PeriodDay}) ||
		u.Metadata["owner"] != "x" || u.Tenant != "t1" || !u.CreatedAt.Equal(k.CreatedAt) {
		t.Fatalf("%+v", u)
	}
	if k.Name != "a" || k.ExpiresAt == nil {
		t.Fatal("Update changed the key it was given")
	}
	pr, err := s.Authenticate(secret)
	if err != nil || pr.Key != u || !pr.MayUse("anything") || !pr.MayBypass() {
		t.Fatalf("after update: %+v %v", pr, err)
	}
	var bad Patch
	json.Unmarshal([]byte(`{"tenant":"t2","rate_limit":{"tokens_per_minute":-5}}`), &bad)
	var ie *InvalidError
	if _, err := s.Update(k.ID, &bad); !errors.As(err, &ie) || len(ie.Problems) != 2 {
		t.Fatalf("%v", err)
	}
	if g, _ := s.Get(k.ID); g != u {
		t.Fatal("a refused patch changed the key")
	}
	if _, err := s.Update("key_nope", &p); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

// TestSurviveRestartNoClearSecret: keys are found again after reopening,
// revocations included, and no secret is anywhere in the store's files.
func TestSurviveRestartNoClearSecret(t *testing.T) {
	dir := t.TempDir()
	s, done := openStore(t, dir, StoreOptions{})
	var secrets []string
	var ids []string
	for i := range 3 {
		k, secret, err := s.Create(Spec{Name: "k", Tenant: []string{"a", "b", "a"}[i]})
		if err != nil {
			t.Fatal(err)
		}
		secrets, ids = append(secrets, secret), append(ids, k.ID)
	}
	if _, err := s.Revoke(ids[1]); err != nil {
		t.Fatal(err)
	}
	done()

	scanned := 0
	filepath.WalkDir(dir, func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scanned += len(b)
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) || bytes.Contains(b, []byte(sec[len(SecretPrefix):])) {
				t.Fatalf("%s holds a secret in clear", f)
			}
		}
		return nil
	})
	if scanned == 0 {
		t.Fatal("nothing scanned")
	}

	s, done = openStore(t, dir, StoreOptions{})
	defer done()
	if s.Len() != 3 || s.Skipped() != 0 || len(s.List("a")) != 2 || s.List("")[0].ID != ids[0] {
		t.Fatalf("after restart: %d keys, %d skipped", s.Len(), s.Skipped())
	}
	if p, err := s.Authenticate(secrets[2]); err != nil || p.KeyID() != ids[2] || p.Tenant != "a" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := s.Authenticate(secrets[1]); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revocation lost in a restart: %v", err)
	}
}

// TestSkipsUnreadableRecords: a record of another version or that does
// not decode is counted and its key refused.
func TestSkipsUnreadableRecords(t *testing.T) {
	dir := t.TempDir()
	st, err := semcache.OpenStore(semcache.StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	kv, _ := st.KV(semcache.TableKeys)
	s, _ := Open(kv, StoreOptions{})
	_, secret, _ := s.Create(Spec{})
	h := append([]byte{recordHash}, make([]byte, 32)...)
	kv.SetMany([]semcache.Pair{{Key: h, Value: []byte{9, '{', '}'}}, {Key: []byte{recordHash, 1}, Value: []byte{1}}}, true)
	st.Close()

	s, done := openStore(t, dir, StoreOptions{})
	defer done()
	if s.Skipped() != 2 || s.Len() != 1 {
		t.Fatalf("skipped %d, %d keys", s.Skipped(), s.Len())
	}
	if _, err := s.Authenticate(secret); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (&Options{AdminToken: "short"}).Validate(); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("%v", err)
	}
	if err := (&Options{AdminToken: "0123456789abcdef"}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (&Options{Required: true}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAuthenticate is the per-request cost of checking a key among
// 10,000: a SHA-256 of the secret and a map lookup under a read lock.
func BenchmarkAuthenticate(b *testing.B) {
	s, done := openStore(b, b.TempDir(), StoreOptions{})
	defer done()
	var secret string
	for i := range 10_000 {
		k := &Key{ID: "key_" + string(rune('a'+i%26)) + strings.Repeat("x", i%7), Tenant: "t"}
		sec, _ := newSecret()
		k.hash = sha256.Sum256([]byte(sec))
		seal(k)
		s.byHash[k.hash] = k
		if i == 0 {
			secret = sec
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Authenticate(secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}
