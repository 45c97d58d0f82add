package semcache

import (
	"testing"
	"time"
)

// TestMetaTenant: the tenant rides at the end of the metadata record;
// records written before it was kept (ending with the embedder) still
// decode, with tenant "".
func TestMetaTenant(t *testing.T) {
	m := &meta{partition: tid(7), created: 1, expires: 2, size: 3, hits: 4, lastHit: 5, model: "m", namespace: "n", embedder: "e", tenant: "team-a"}
	got, err := decodeMeta(m.encode())
	if err != nil || *got != *m {
		t.Fatalf("%+v %v", got, err)
	}
	old := *m
	old.tenant = ""
	rec := old.encode() // the layout before tenants: it ends with the embedder
	if rec[len(rec)-1] != 'e' {
		t.Fatalf("an untenanted record must end with the embedder: %q", rec)
	}
	got, err = decodeMeta(rec)
	if err != nil || *got != old {
		t.Fatalf("old record: %+v %v", got, err)
	}
}

// TestCacheTenantFilter: List and Flush select by tenant, and the tenant
// survives a restart.
func TestCacheTenantFilter(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(st, Options{}, CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i, tenant := range []string{"a", "a", "b", ""} {
		e := entry(byte(i+1), byte(i+1), "p")
		e.Tenant = tenant
		if err := c.Put(e, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	st.Close()

	_, c = openTestCache(t, dir, Options{}, clk, "emb")
	is := func(name string) func(string) bool { return func(s string) bool { return s == name } }
	if l := c.ListWhere(Filter{Tenant: is("a")}, 10); len(l) != 2 || l[0].Tenant != "a" {
		t.Fatalf("tenant a: %+v", l)
	}
	if l := c.ListWhere(Filter{Tenant: is("")}, 10); len(l) != 1 || l[0].Tenant != "" {
		t.Fatalf("untenanted: %+v", l)
	}
	if n, err := c.FlushWhere(Filter{Tenant: is("a")}); n != 2 || err != nil {
		t.Fatalf("flush a: %d %v", n, err)
	}
	if l := c.ListWhere(Filter{}, 10); len(l) != 2 {
		t.Fatalf("left: %+v", l)
	}
}
