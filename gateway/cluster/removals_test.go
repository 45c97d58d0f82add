package cluster

import (
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/cluster/redistest"
)

// TestRemovalsReplicate: a cache entry deleted on A, and a flush made on
// A, remove the same entries on B; a flush for another tenant removes
// nothing; a replica down meanwhile applies them when it catches up.
func TestRemovalsReplicate(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	a := openReplica(t, t.TempDir(), o, "e1")
	bdir := t.TempDir()
	b := openReplica(t, bdir, o, "e1")
	has := func(r *replica, id [16]byte) bool { _, err := r.cache.GetExact(id, 0); return err == nil }
	e1 := a.fill("first question", []byte(`{"x":1}`))
	e2 := a.fill("second question", []byte(`{"x":2}`))
	if !within(5*time.Second, func() bool { return has(b, e1.ID) && has(b, e2.ID) }) {
		t.Fatal("fills not replicated")
	}

	if err := a.cache.Delete(e1.ID); err != nil {
		t.Fatal(err)
	}
	a.c.PublishDelete(e1.ID)
	if !within(5*time.Second, func() bool { return !has(b, e1.ID) }) {
		t.Fatal("an entry deleted on A is still on B")
	}
	if !has(b, e2.ID) {
		t.Fatal("the deletion removed another entry")
	}

	// A flush of another tenant's entries (the fills are team-a's), then
	// of another model's, removes nothing; a later fill shows B has read
	// past them.
	a.c.PublishFlush(Flush{Tenant: "team-b"})
	a.c.PublishFlush(Flush{Model: "other"})
	e3 := a.fill("third question", []byte(`{"x":3}`))
	if !within(5*time.Second, func() bool { return has(b, e3.ID) }) {
		t.Fatal("fill not replicated")
	}
	if !has(b, e2.ID) {
		t.Fatal("a flush of team-b's entries removed team-a's")
	}

	// B down: A flushes team-a's entries; B applies it on restart.
	b.close()
	a.c.PublishFlush(Flush{Model: "m", Tenant: "team-a"})
	if !within(5*time.Second, func() bool { return a.c.pending() == 0 }) {
		t.Fatal("not published")
	}
	b = openReplica(t, bdir, o, "e1")
	if !within(5*time.Second, func() bool { return !has(b, e2.ID) && !has(b, e3.ID) }) {
		t.Fatal("a flush made while B was down did not apply when it caught up")
	}
	// The entries leave memory before the store write that ends the
	// removal, and the counter counts it after that.
	within(5*time.Second, func() bool { return counter(b.set, "semgate_cluster_removals_applied_total") >= 1 })
	if got := counter(b.set, "semgate_cluster_removals_applied_total"); got != 1 {
		t.Fatalf("removals applied after the restart: %v", got)
	}
}
