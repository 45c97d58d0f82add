package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
)

// TestCacheHNSWSnapshotAcrossRestart: with the graph built from the first
// vector, the partition index is snapshotted on shutdown, loaded at
// start-up, and semantic hits keep working.
func TestCacheHNSWSnapshotAcrossRestart(t *testing.T) {
	up, url := newCountingMock(t, 0)
	a, b := "How do I reset my password on the website?", "How can I reset my password on the website?"
	e, err := embed.New(embed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Embed(context.Background(), []string{semcache.Normalize(a), semcache.Normalize(b)})
	if err != nil {
		t.Fatal(err)
	}
	thr := float64(semcache.Dot(v[0], v[1])) - 0.01
	dir := t.TempDir()
	open := func() (*Server, *httptest.Server) {
		cfg, err := ParseConfig([]byte(cacheConfig(url, "index: {flat_limit: -1}\ncache:\n  threshold: "+
			strings.TrimRight(jsonFloat(thr), "0")+"\n")), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Storage.Dir = dir
		srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return srv, httptest.NewServer(srv.Handler())
	}
	srv, hs := open()
	_, first := chat(t, &testServer{Server: srv, URL: hs.URL}, chatBody(a))
	chat(t, &testServer{Server: srv, URL: hs.URL}, chatBody("Something else entirely about gardening"))
	hs.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*.idx"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots written: %v", snaps)
	}
	if st, err := os.Stat(snaps[0]); err != nil || st.Size() == 0 {
		t.Fatalf("empty snapshot: %v", err)
	}

	srv, hs = open()
	defer func() { hs.Close(); srv.Close() }()
	r, second := chat(t, &testServer{Server: srv, URL: hs.URL}, chatBody(b))
	if r.Header.Get("X-Semgate-Cache") != "hit-semantic" || second != first {
		t.Fatalf("after restart from a snapshot: %s", r.Header.Get("X-Semgate-Cache"))
	}
	if up.calls.Load() != 2 {
		t.Fatalf("upstream calls %d", up.calls.Load())
	}
}
