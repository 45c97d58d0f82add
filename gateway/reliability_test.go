package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawExchange sends a request the way Python's http.client does: the
// headers and the whole body first, and only then reads the answer. It
// returns the answer's status and body, or the error the client met
// (a reset connection when the server closes with the body unread).
func rawExchange(t *testing.T, addr, head string, body []byte, chunked bool) (int, []byte, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute)) // never hang the test
	var req bytes.Buffer
	req.WriteString(head)
	if chunked {
		req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			fmt.Fprintf(&req, "%x\r\n", n)
			req.Write(rest[:n])
			req.WriteString("\r\n")
			rest = rest[n:]
		}
		req.WriteString("0\r\n\r\n")
	} else {
		fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n", len(body))
		req.Write(body)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return 0, nil, fmt.Errorf("writing the request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer body: %w", err)
	}
	return resp.StatusCode, b, nil
}

// TestLargeBodyErrorsReachWriteFirstClients: a client that writes its
// whole body before reading receives its 413, 415 or 400, not a reset.
func TestLargeBodyErrorsReachWriteFirstClients(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	addr := strings.TrimPrefix(ts.URL, "http://")
	head := func(ctype string) string {
		return "POST /v1/chat/completions HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: " + ctype + "\r\n"
	}
	big := []byte(`{"model":"mock-small","messages":[{"role":"user","content":"` + strings.Repeat("a", 9<<20) + `"}]}`)
	// 200,000 messages without content, under the 4 MiB limit: invalid.
	many := []byte(`{"model":"mock-small","messages":[` + strings.Repeat(`{"role":"user"},`, 199_999) + `{"role":"user"}]}`)
	if len(many) >= DefaultMaxBodyBytes {
		t.Fatalf("the invalid body is %d bytes, not under the limit", len(many))
	}
	for _, tc := range []struct {
		name    string
		ctype   string
		body    []byte
		chunked bool
		status  int
	}{
		{"9 MiB", "application/json", big, false, http.StatusRequestEntityTooLarge},
		{"9 MiB chunked", "application/json", big, true, http.StatusRequestEntityTooLarge},
		{"9 MiB not JSON", "text/plain", big, false, http.StatusUnsupportedMediaType},
		{"200000 invalid messages", "application/json", many, false, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := rawExchange(t, addr, head(tc.ctype), tc.body, tc.chunked)
			if err != nil {
				t.Fatalf("the client never saw its error: %v", err)
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", status, tc.status, body)
			}
			decodeError(t, body)
		})
	}
}

// TestLingerBounded: a body far past the limit and LingerBytes is not read
// at all; the 413 is still answered to a client that reads first.
func TestLingerBounded(t *testing.T) {
	ts := newTestServer(t, upstreamConfig()+"server:\n  max_body_bytes: 1000\n", nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", int64(LingerBytes)+1<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the server waited for a body it should not read: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// panicServer serves h behind the gateway's middleware, logging to the
// returned buffer.
func panicServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	s := &Server{log: slog.New(slog.NewJSONHandler(logs, nil))}
	hs := httptest.NewUnstartedServer(s.middleware(h))
	hs.Config.ErrorLog = slog.NewLogLogger(slog.NewJSONHandler(logs, nil), slog.LevelError)
	hs.Start()
	t.Cleanup(hs.Close)
	return hs, logs
}

func checkPanicLog(t *testing.T, logs *syncBuffer, id string) {
	t.Helper()
	l := logs.String()
	for _, want := range []string{`"msg":"panic serving request"`, `"request_id":"` + id + `"`, `"stack":"goroutine `, "reliability_test.go"} {
		if !strings.Contains(l, want) {
			t.Fatalf("the panic log lacks %s:\n%s", want, l)
		}
	}
	if strings.Contains(l, "superfluous") {
		t.Fatalf("a second status was attempted:\n%s", l)
	}
}

func TestPanicBeforeWriting(t *testing.T) {
	hs, logs := panicServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		panic("boom")
	})
	resp := post(t, hs.URL, `{}`, "X-Request-Id", "req-before")
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if e := decodeError(t, body); e.Type != typeServer {
		t.Fatalf("type %q", e.Type)
	}
	if resp.Header.Get("X-Request-Id") != "req-before" {
		t.Fatal("the 500 lost its request id")
	}
	checkPanicLog(t, logs, "req-before")
}

// TestPanicMidStream: a stream that started ends with an SSE error event,
// with no second status and no [DONE].
func TestPanicMidStream(t *testing.T) {
	const first = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	hs, logs := panicServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		panic("boom mid-stream")
	})
	status, body, err := rawExchange(t, strings.TrimPrefix(hs.URL, "http://"),
		"POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: req-mid\r\nContent-Type: application/json\r\n", []byte(`{}`), false)
	if err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	rest, ok := strings.CutPrefix(string(body), first)
	if !ok {
		t.Fatalf("the first event was not kept: %q", body)
	}
	data, ok := strings.CutPrefix(rest, "data: ")
	if !ok || !strings.HasSuffix(data, "\n\n") || strings.Contains(data, "[DONE]") || strings.Contains(data, "HTTP/1.1") {
		t.Fatalf("after the first event, want one SSE error event: %q", rest)
	}
	decodeError(t, []byte(strings.TrimSpace(data)))
	checkPanicLog(t, logs, "req-mid")
}

// TestPanicAfterWriting: a JSON answer (or an SSE event) cut off by a
// panic is aborted, so the client sees a failure, not a short answer.
func TestPanicAfterWriting(t *testing.T) {
	for _, tc := range []struct{ name, ctype, part string }{
		{"json", "application/json", `{"id":"chatcmpl-1","choices":[`},
		{"half an event", "text/event-stream", `data: {"choices":[`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, logs := panicServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, tc.part)
				w.(http.Flusher).Flush()
				panic("boom after writing")
			})
			resp := post(t, hs.URL, `{}`, "X-Request-Id", "req-after")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			b, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Fatalf("the cut-off answer read as complete: %q", b)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != tc.part {
				t.Fatalf("read %q, %v", b, err)
			}
			checkPanicLog(t, logs, "req-after")
		})
	}
}

// TestShutdownDrains: once shutdown starts, /readyz answers 503 for the
// drain delay while new connections are still accepted and served.
func TestShutdownDrains(t *testing.T) {
	cfg, err := ParseConfig([]byte(upstreamConfig()+"server:\n  drain_delay: 4s\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.Dir = t.TempDir()
	cfg.Server.Listen = "127.0.0.1:0"
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) int {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/readyz"); s != http.StatusOK {
		t.Fatalf("readyz before shutdown: %d", s)
	}
	stop()
	for get("/readyz") != http.StatusServiceUnavailable {
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := client.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"mock-small","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatalf("a request during the drain: %v", err)
	}
	body := readBody(t, resp)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a request during the drain: %d %s", resp.StatusCode, body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Serve did not return")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseWaitsForHandlers: Close waits for a running handler, whose
// cache write then lands in the store before it is closed; a request after
// Close gets a 503, not a panic.
func TestCloseWaitsForHandlers(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	_, url := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-release
		jsonAnswer(recordedCompletion)(w, r)
	})
	dir := t.TempDir()
	open := func() (*Server, *httptest.Server) {
		cfg, err := ParseConfig([]byte(cacheConfig(url, "")), noEnv)
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
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Post(hs.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody("Keep me")))
		if err != nil {
			res <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res <- result{status: resp.StatusCode}
	}()
	<-started
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	select {
	case err := <-closed:
		close(release)
		t.Fatalf("Close returned (%v) while a handler was running", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if r := <-res; r.err != nil || r.status != http.StatusOK {
		t.Fatalf("the request running during Close: %+v", r)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	late := post(t, hs.URL+"/v1/chat/completions", chatBody("Keep me"))
	if late.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a request after Close: %d", late.StatusCode)
	}
	decodeError(t, readBody(t, late))
	hs.Close()

	srv, hs = open()
	defer func() { hs.Close(); srv.Close() }()
	resp, _ := chat(t, &testServer{Server: srv, URL: hs.URL}, chatBody("Keep me"))
	if c := resp.Header.Get("X-Semgate-Cache"); c != "hit-exact" {
		t.Fatalf("the answer written during Close was lost: cache %q", c)
	}
}

func TestDrainDelayOption(t *testing.T) {
	for _, tc := range []struct {
		v    time.Duration
		want time.Duration
		ok   bool
	}{
		{0, DefaultDrainDelay, true},
		{-time.Second, 0, true},
		{2 * time.Second, 2 * time.Second, true},
		{MaxDrainDelay + time.Second, 0, false},
	} {
		o := ServerOptions{DrainDelay: tc.v}
		err := o.Validate()
		if (err == nil) != tc.ok {
			t.Fatalf("%v: Validate = %v", tc.v, err)
		}
		if tc.ok && o.drainDelay() != tc.want {
			t.Fatalf("%v: drainDelay %v, want %v", tc.v, o.drainDelay(), tc.want)
		}
	}
	_, err := ParseConfig([]byte(upstreamConfig()+"server:\n  drain_delay: 1h\n  shutdown_timeout: -1s\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "drain_delay") || !strings.Contains(err.Error(), "shutdown_timeout") {
		t.Fatalf("problems not all reported: %v", err)
	}
}
