package cluster

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/gateway/cluster/redistest"
	"github.com/semgate/semgate/semcache"
	"go.uber.org/goleak"
)

// replica is one gateway's state: a store, its keys and cache, and its
// cluster membership.
type replica struct {
	t     *testing.T
	dir   string
	o     Options
	emb   *fakeEmbedder
	store *semcache.Store
	keys  *auth.Store
	cache *semcache.Cache
	c     *Cluster
	set   *metrics.Set
}

// fakeEmbedder maps a text to a vector of its letter counts.
type fakeEmbedder struct {
	id    string
	calls atomic.Int64
}

func (f *fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	f.calls.Add(1)
	out := make([][]float32, len(texts))
	for i, s := range texts {
		v := make([]float32, 8)
		for _, r := range s {
			v[int(r)%8]++
		}
		v[0] += 0.5
		out[i] = v
	}
	return out, nil
}
func (f *fakeEmbedder) Dim() int   { return 8 }
func (f *fakeEmbedder) ID() string { return f.id }

func openReplica(t *testing.T, dir string, o Options, embedderID string) *replica {
	t.Helper()
	r := &replica{t: t, dir: dir, o: o, emb: &fakeEmbedder{id: embedderID}, set: metrics.NewSet()}
	var err error
	if r.store, err = semcache.OpenStore(semcache.StoreOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	kv, _ := r.store.KV(semcache.TableKeys)
	if r.keys, err = auth.Open(kv, auth.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if r.cache, err = semcache.Open(r.store, semcache.Options{}, semcache.CacheConfig{EmbedderID: embedderID, Dim: 8}); err != nil {
		t.Fatal(err)
	}
	if r.c, err = New(o, Deps{Store: r.store, Keys: r.keys, Cache: r.cache, Embedder: r.emb, Metrics: r.set}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

func (r *replica) close() {
	if r.c == nil {
		return
	}
	r.c.Close()
	r.cache.Close()
	r.store.Close()
	r.c = nil
}

// fill stores an answer in r's cache and publishes it, as the gateway's
// storeAnswer does.
func (r *replica) fill(prompt string, body []byte) *semcache.Entry {
	r.t.Helper()
	e := &semcache.Entry{
		ID: semcache.ID(sha16("id:" + prompt)), Partition: semcache.ID(sha16("part")), Kind: "chat", Model: "m",
		Tenant: "team-a", Provider: "mock", UpstreamModel: "mock-small", Prompt: prompt, Body: body,
		Stream: true, Convertible: true, PromptTokens: 3, CompletionTokens: 5, CostUSD: 0.25, Semantic: true,
		Expires: time.Now().Add(time.Hour),
	}
	vecs, _ := r.emb.Embed(context.Background(), []string{semcache.Normalize(prompt)})
	r.emb.calls.Add(-1)
	if err := r.cache.Put(e, vecs[0]); err != nil {
		r.t.Fatal(err)
	}
	r.c.PublishFill(e, vecs[0])
	return e
}

func sha16(s string) (id [16]byte) {
	copy(id[:], []byte(s+strings.Repeat("\x00", 16)))
	return id
}

// within polls cond every 10ms for up to d.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestOptionsValidate(t *testing.T) {
	bad := Options{RedisURL: "http://user:hunter2@x:1", KeyPrefix: "a b", StreamMaxLen: -1, ResyncInterval: time.Millisecond,
		OnUnreachable: "maybe", OutboxSize: -1}
	err := bad.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("%v", err)
	}
	for _, f := range []string{"redis_url", "key_prefix", "stream_max_len", "resync_interval", "on_unreachable", "outbox_size"} {
		if !strings.Contains(err.Error(), f+":") {
			t.Errorf("no problem reported for %s: %v", f, err)
		}
	}
	for _, o := range []Options{{}, {RedisURL: "redis://127.0.0.1:6379/0", OnUnreachable: FailClosed, ResyncInterval: time.Second},
		{RedisURL: "rediss://:pw@redis.example:6380/2"}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if got := redactURL("redis://u:secret@h:1/0"); strings.Contains(got, "secret") {
		t.Fatal(got)
	}
}

// TestKeysReplicate: a key created on A works on B within a second, a
// change and a revocation too, and the other way round; the Redis hash
// holds no secret.
func TestKeysReplicate(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	a := openReplica(t, t.TempDir(), o, "e1")
	b := openReplica(t, t.TempDir(), o, "e1")
	k, secret, err := a.keys.Create(auth.Spec{Name: "ci", Tenant: "team-a", Models: []string{"m"}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if !within(5*time.Second, func() bool { _, err := b.keys.Authenticate(secret); return err == nil }) {
		t.Fatal("a key created on A was not accepted by B within 1s")
	}
	t.Logf("key reached B in %v", time.Since(t0))
	p, _ := b.keys.Authenticate(secret)
	if p.Tenant != "team-a" || p.KeyID() != k.ID || p.MayUse("other") {
		t.Fatalf("%+v", p.Key)
	}
	var patch auth.Patch
	patch.Models.Set = true
	if _, err := a.keys.Update(k.ID, &patch); err != nil {
		t.Fatal(err)
	}
	if !within(5*time.Second, func() bool { p, err := b.keys.Authenticate(secret); return err == nil && p.MayUse("other") }) {
		t.Fatal("a change on A did not reach B within 1s")
	}
	if _, err := a.keys.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	if !within(5*time.Second, func() bool { _, err := b.keys.Authenticate(secret); return errors.Is(err, auth.ErrRevoked) }) {
		t.Fatal("a revocation on A was not refused by B within 1s")
	}
	// A later change made on B of the stale copy cannot un-revoke.
	kb, secretB, err := b.keys.Create(auth.Spec{Name: "from-b"})
	if err != nil {
		t.Fatal(err)
	}
	if !within(5*time.Second, func() bool { _, err := a.keys.Authenticate(secretB); return err == nil }) {
		t.Fatal("a key created on B was not accepted by A within 1s")
	}
	if got := srv.Do("HLEN", "semgate:keys"); got != ":2" {
		t.Fatalf("HLEN %s", got)
	}
	if dump := srv.Do("HGET", "semgate:keys", "x"); dump != "$-1" && dump != "_" {
		t.Fatalf("HGET of no field: %q", dump)
	}
	for _, s := range []string{secret, secretB} {
		if strings.Contains(allRedis(t, srv), s[len(auth.SecretPrefix):]) {
			t.Fatal("a secret is in Redis")
		}
	}
	_ = kb
}

// allRedis returns every value of the keys hash.
func allRedis(t *testing.T, srv *redistest.Server) string {
	t.Helper()
	c := openRaw(t, srv)
	defer c.Close()
	m, err := c.HGetAll(context.Background(), "semgate:keys").Result()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + " " + v + "\n")
	}
	return b.String()
}

// TestFillsReplicate: a fill on A is in B's cache, byte for byte, with
// A's vector when both use the same embedder and with one B computes
// otherwise; A does not store its own fill twice.
func TestFillsReplicate(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	a := openReplica(t, t.TempDir(), o, "e1")
	b := openReplica(t, t.TempDir(), o, "e1")
	c := openReplica(t, t.TempDir(), o, "e2") // another embedder
	body := make([]byte, 0, 512)
	for i := range 512 {
		body = append(body, byte(i))
	}
	e := a.fill("What is the capital of France?", body)
	for _, r := range []*replica{b, c} {
		var got *semcache.Entry
		if !within(5*time.Second, func() bool { g, err := r.cache.GetExact(e.ID, 0); got = g; return err == nil }) {
			t.Fatal("a fill on A is not in another replica's cache within 1s")
		}
		if !bytes.Equal(got.Body, body) || !got.Stream || !got.Convertible || got.Partition != e.Partition ||
			got.Prompt != e.Prompt || got.PromptTokens != 3 || got.CompletionTokens != 5 || got.CostUSD != 0.25 ||
			got.Created.UnixMilli() != e.Created.UnixMilli() || got.Expires.UnixMilli() != e.Expires.UnixMilli() ||
			got.Provider != "mock" || got.UpstreamModel != "mock-small" || got.Kind != "chat" || got.Model != "m" {
			t.Fatalf("replicated entry differs: %+v", got)
		}
		if l := r.cache.ListWhere(semcache.Filter{Tenant: func(s string) bool { return s == "team-a" }}, 10); len(l) != 1 || !l[0].Semantic {
			t.Fatalf("the tenant's entries: %+v", l)
		}
		if got.Embedder != r.emb.id {
			t.Fatalf("replicated entry indexed by %q, want %q", got.Embedder, r.emb.id)
		}
	}
	if n := b.emb.calls.Load(); n != 0 {
		t.Fatalf("B embedded %d times though A's vector was usable", n)
	}
	if n := c.emb.calls.Load(); n != 1 {
		t.Fatalf("C embedded %d times, want 1", n)
	}
	time.Sleep(200 * time.Millisecond)
	if s := a.cache.Stats(); s.Stores != 1 {
		t.Fatalf("A stored %d entries, want its own 1", s.Stores)
	}
	if got := counter(a.set, "semgate_cluster_fills_published_total"); got != 1 {
		t.Fatalf("published %v", got)
	}
	// Counted once the fill is stored and synced, after it is visible.
	within(5*time.Second, func() bool { return counter(b.set, "semgate_cluster_fills_applied_total") >= 1 })
	if got := counter(b.set, "semgate_cluster_fills_applied_total"); got != 1 {
		t.Fatalf("applied %v", got)
	}
}

// counter reads a metric of set.
func counter(set *metrics.Set, name string) float64 {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			for _, ch := range v {
				if ch >= '0' && ch <= '9' {
					f = f*10 + float64(ch-'0')
				}
			}
			return f
		}
	}
	return -1
}

// TestCatchUpAfterRestart: fills made while B is down are in B's cache
// once it restarts (from its saved position: it applies nothing twice).
func TestCatchUpAfterRestart(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	a := openReplica(t, t.TempDir(), o, "e1")
	bdir := t.TempDir()
	b := openReplica(t, bdir, o, "e1")
	e1 := a.fill("first question", []byte(`{"a":1}`))
	if !within(5*time.Second, func() bool { _, err := b.cache.GetExact(e1.ID, 0); return err == nil }) {
		t.Fatal("first fill not replicated")
	}
	b.close()
	var later []*semcache.Entry
	for _, p := range []string{"second question", "third question", "fourth question"} {
		later = append(later, a.fill(p, []byte(`{"p":"`+p+`"}`)))
	}
	time.Sleep(100 * time.Millisecond)
	b = openReplica(t, bdir, o, "e1")
	for _, e := range later {
		if !within(5*time.Second, func() bool { _, err := b.cache.GetExact(e.ID, 0); return err == nil }) {
			t.Fatalf("%q, made while B was down, is not in B's cache after its restart", e.Prompt)
		}
	}
	within(5*time.Second, func() bool { return counter(b.set, "semgate_cluster_fills_applied_total") >= 3 })
	time.Sleep(200 * time.Millisecond) // a fill applied twice would show by now
	if got := counter(b.set, "semgate_cluster_fills_applied_total"); got != 3 {
		t.Fatalf("B applied %v fills after its restart, want 3", got)
	}
}

// TestRedisOutage: Redis killed: both replicas notice within a second; a
// fail-closed one stops serving, a fail-open one goes on; a key and a
// fill made during the outage reach the other replica once Redis is
// back, even though it came back empty.
func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL(), ResyncInterval: time.Second}
	a := openReplica(t, t.TempDir(), o, "e1")
	oc := o
	oc.OnUnreachable = FailClosed
	b := openReplica(t, t.TempDir(), oc, "e1")
	var changes atomic.Int64
	b.c.OnStateChange(func(bool) { changes.Add(1) })
	_, before, _ := a.keys.Create(auth.Spec{Name: "before"})
	if !within(5*time.Second, func() bool { _, err := b.keys.Authenticate(before); return err == nil }) {
		t.Fatal("key not replicated")
	}
	if !a.c.Serving() || !b.c.Serving() {
		t.Fatal("not serving with Redis up")
	}

	srv.Kill()
	if !within(5*time.Second, func() bool { return !a.c.Up() && !b.c.Up() }) {
		t.Fatal("Redis down was not noticed within 1.5s")
	}
	if !a.c.Serving() || b.c.Serving() {
		t.Fatalf("serving: open %v, closed %v", a.c.Serving(), b.c.Serving())
	}
	if got := counter(a.set, "semgate_cluster_redis_up"); got != 0 {
		t.Fatalf("redis_up %v", got)
	}
	if _, err := b.keys.Authenticate(before); err != nil {
		t.Fatal("keys must keep working from memory:", err)
	}
	_, during, err := a.keys.Create(auth.Spec{Name: "during"})
	if err != nil {
		t.Fatal(err)
	}
	e := a.fill("asked during the outage", []byte(`{"x":1}`))
	time.Sleep(300 * time.Millisecond)

	srv.Restart() // empty: no persistence
	if !within(10*time.Second, func() bool { return a.c.Up() && b.c.Up() && b.c.Serving() }) {
		t.Fatal("the replicas did not recover")
	}
	if !within(5*time.Second, func() bool { _, err := b.keys.Authenticate(during); return err == nil }) {
		t.Fatal("a key made during the outage did not reach B")
	}
	if !within(5*time.Second, func() bool { _, err := b.cache.GetExact(e.ID, 0); return err == nil }) {
		t.Fatal("a fill made during the outage did not reach B")
	}
	if got := srv.Do("HLEN", "semgate:keys"); got != ":2" {
		t.Fatalf("keys written back to the restarted Redis: HLEN %s", got)
	}
	if changes.Load() < 2 {
		t.Fatalf("%d state changes reported", changes.Load())
	}
	e2 := a.fill("asked after the outage", []byte(`{"x":2}`))
	if !within(5*time.Second, func() bool { _, err := b.cache.GetExact(e2.ID, 0); return err == nil }) {
		t.Fatal("replication did not resume")
	}
}

// TestStreamGap: a replica down while the stream was trimmed past its
// position counts the gap.
func TestStreamGap(t *testing.T) {
	srv := redistest.Start(t)
	if got := srv.Do("CONFIG", "SET", "stream-node-max-entries", "2"); got != "+OK" {
		t.Fatal(got)
	}
	o := Options{RedisURL: srv.URL(), StreamMaxLen: 2}
	a := openReplica(t, t.TempDir(), o, "e1")
	bdir := t.TempDir()
	b := openReplica(t, bdir, o, "e1")
	e := a.fill("q0", []byte(`{}`))
	if !within(5*time.Second, func() bool { _, err := b.cache.GetExact(e.ID, 0); return err == nil }) {
		t.Fatal("not replicated")
	}
	b.close()
	for i := range 10 {
		a.fill("q"+string(rune('a'+i)), []byte(`{}`))
	}
	if !within(5*time.Second, func() bool { return a.c.pending() == 0 }) {
		t.Fatal("not published")
	}
	b = openReplica(t, bdir, o, "e1")
	if !within(5*time.Second, func() bool { return counter(b.set, "semgate_cluster_stream_gaps_total") == 1 }) {
		t.Fatal("the gap was not counted")
	}
}

func TestKeyHelpers(t *testing.T) {
	srv := redistest.Start(t)
	r := openReplica(t, t.TempDir(), Options{RedisURL: srv.URL(), KeyPrefix: "blue"}, "e1")
	if got := r.c.Key("limits", "key_1"); got != "blue:limits:key_1" {
		t.Fatal(got)
	}
	if r.c.Client().Ping(context.Background()).Err() != nil || !strings.HasPrefix(r.c.ReplicaID(), "r_") {
		t.Fatal("client or replica id")
	}
	id := r.c.ReplicaID()
	r.close()
	r = openReplica(t, r.dir, Options{RedisURL: srv.URL(), KeyPrefix: "blue"}, "e1")
	if r.c.ReplicaID() != id {
		t.Fatal("the replica id changed across a restart")
	}
}

func openRaw(t *testing.T, srv *redistest.Server) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return redis.NewClient(o)
}
