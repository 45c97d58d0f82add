package harness

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWrkArgs(t *testing.T) {
	w := &Wrk{Threads: 2, Connections: 32, Duration: 10 * time.Second, Timeout: 2 * time.Second, Script: "/tmp/x/post.lua"}
	got := w.CommandLine("http://127.0.0.1:1/v1/chat/completions")
	want := "wrk -t2 -c32 -d10s --latency --timeout 2000ms -s post.lua http://127.0.0.1:1/v1/chat/completions"
	if got != want {
		t.Errorf("CommandLine:\n got %s\nwant %s", got, want)
	}
	for _, bad := range []*Wrk{
		{Threads: 2, Connections: 32, Duration: 1500 * time.Millisecond},
		{Threads: 2, Connections: 32},
		{Threads: 4, Connections: 2, Duration: time.Second},
	} {
		if _, err := bad.args("http://x"); err == nil {
			t.Errorf("args(%+v): want an error", bad)
		}
	}
}

func TestWritePostScript(t *testing.T) {
	path, err := WritePostScript(t.TempDir(), "post.lua", []byte(`{"a":"it's \"quoted\""}`), map[string]string{"Content-Type": "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`wrk.method = "POST"`, `wrk.headers["Content-Type"] = "application/json"`, `wrk.body = [==[{"a":"it's \"quoted\""}]==]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("script lacks %q:\n%s", want, b)
		}
	}
	if _, err := WritePostScript(t.TempDir(), "x.lua", []byte("]==]"), nil); err == nil {
		t.Error("want an error for a body that closes the long string")
	}
}

// TestWrkRun runs wrk for one second against a local server; it checks the
// script's method, body and headers arrive and the output parses.
func TestWrkRun(t *testing.T) {
	wrk, err := LookWrk()
	if err != nil {
		t.Skip(err)
	}
	if testing.Short() {
		t.Skip("runs wrk for 1s")
	}
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || string(b) != `{"x":1}` || r.Header.Get("Content-Type") != "application/json" {
			bad.Add(1)
		}
		_, _ = w.Write([]byte("{}"))
	}))
	defer srv.Close()
	script, err := WritePostScript(t.TempDir(), "post.lua", []byte(`{"x":1}`), map[string]string{"Content-Type": "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	w := &Wrk{Path: wrk, Threads: 1, Connections: 2, Duration: time.Second, Script: script}
	res, out, err := w.Run(context.Background(), srv.URL)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Requests == 0 || res.RequestsPerSec <= 0 || res.P50 <= 0 || res.P99 < res.P50 || res.Errors() != 0 || res.CPU <= 0 {
		t.Errorf("implausible result %+v\n%s", res, out)
	}
	if bad.Load() != 0 {
		t.Errorf("%d requests did not match the script", bad.Load())
	}
}
