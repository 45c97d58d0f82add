package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostile input (issue 13): requests built to hurt a server, sent over a
// real loopback connection to the gateway's own http.Server (Serve, with
// its configured timeouts and net/http's header limit), byte for byte.
// Each must get its answer (semgate's in OpenAI's shape, or net/http's
// own 431 / a closed connection where net/http answers first) within a
// bound, never a 500, a panic or a reset where an answer is possible.

// hostileServer runs upstreamConfig()+extra on a loopback port behind
// Server.Serve and returns the server and its address.
func hostileServer(t *testing.T, extra string) (*Server, string) {
	t.Helper()
	cfg, err := ParseConfig([]byte(upstreamConfig()+extra), noEnv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Storage.Dir = t.TempDir()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.DrainDelay = -1
	if cfg.Server.ShutdownTimeout == 0 {
		cfg.Server.ShutdownTimeout = 3 * time.Second
	}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := srv.Listen()
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return")
		}
		srv.Close()
	})
	return srv, ln.Addr().String()
}

// hostileAnswer is what a raw client got back.
type hostileAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error // reading the answer failed: closed or reset connection
	took   time.Duration
}

// hostileSend opens a connection, writes what write writes while it reads
// the answer (so an answer sent before the request is complete is seen),
// and returns the answer, or the failure, within limit.
func hostileSend(t *testing.T, addr string, limit time.Duration, write func(w io.Writer) error) hostileAnswer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return hostileAnswer{err: err} // t.Fatal is not for the bursts' goroutines
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(limit))
	t0 := time.Now()
	wrote := make(chan error, 1)
	go func() { wrote <- write(conn) }()
	var a hostileAnswer
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		a.status, a.header = resp.StatusCode, resp.Header
		a.body, err = io.ReadAll(resp.Body)
	}
	a.err, a.took = err, time.Since(t0)
	conn.Close() // stops a writer still at work
	<-wrote
	return a
}

// rawRequest writes a request: head (request line and headers, without
// the blank line), Content-Length when body is not nil, then body.
func rawRequest(head string, body []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		var b strings.Builder
		b.WriteString(head)
		if body != nil {
			b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
		}
		b.WriteString("\r\n")
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		_, err := w.Write(body)
		return err
	}
}

func chatHead(ctype string, extra ...string) string {
	var h strings.Builder
	h.WriteString("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	if ctype != "" {
		h.WriteString("Content-Type: " + ctype + "\r\n")
	}
	for _, e := range extra {
		h.WriteString(e + "\r\n")
	}
	return h.String()
}

const okMsgs = `"messages":[{"role":"user","content":"hi"}]`

func nested(open, close string, n int) string {
	return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
}

// checkAnswer checks a hostile case's answer: the status, received within
// the bound; semgate's own answers are OpenAI-shaped errors (naming
// param when given) or completions.
func checkAnswer(t *testing.T, a hostileAnswer, status int, param string, netHTTP bool, bound time.Duration) {
	t.Helper()
	if a.err != nil {
		t.Fatalf("no answer after %v: %v", a.took, a.err)
	}
	if a.took > bound {
		t.Errorf("answered after %v, bound %v", a.took, bound)
	}
	if a.status != status {
		t.Fatalf("status %d, want %d: %.300s", a.status, status, a.body)
	}
	if netHTTP {
		return // net/http's own plain-text answer, before semgate sees the request
	}
	if a.header.Get("X-Request-Id") == "" {
		t.Error("no x-request-id")
	}
	if status == http.StatusOK {
		if !strings.Contains(string(a.body), `"chat.completion"`) {
			t.Fatalf("not a completion: %.300s", a.body)
		}
		return
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	e := decodeError(t, a.body)
	got := ""
	if e.Param != nil {
		got = *e.Param
	}
	if got != param {
		t.Errorf("param %q, want %q (%s)", got, param, e.Message)
	}
}

// boundFor is the time a hostile case with a body of size bytes may take:
// a small one is answered at once; megabytes take work linear in them (a
// few seconds under the race detector on a busy machine to validate,
// key, embed and serve), and the generous bound only catches a blow-up (a
// quadratic pass would take hours).
func boundFor(size int) time.Duration {
	if size > 1<<20 {
		return 2 * time.Minute
	}
	return 15 * time.Second
}

// TestHostileRequests: a table of malicious or broken requests, each
// answered correctly and quickly.
func TestHostileRequests(t *testing.T) {
	_, addr := hostileServer(t, "")
	const levels = 100_000
	huge := strings.Repeat("abcdefghij", 390_000)                      // 3.9 MB without white space
	hugeWords := strings.Repeat("the quick brown fox jumps ", 150_000) // 3.9 MB of words
	manyHeaders := func(n, size int) []string {
		h := make([]string, n)
		v := strings.Repeat("v", size)
		for i := range h {
			h[i] = "X-Flood-" + strconv.Itoa(i) + ": " + v
		}
		return h
	}
	tests := []struct {
		name    string
		head    string
		body    string
		status  int
		param   string
		netHTTP bool // net/http answers itself, in plain text
	}{
		// Deep nesting: rejected before any recursive parser sees it.
		{"100k nested objects", chatHead("application/json"), `{"model":"mock-small",` + okMsgs + `,"x":` + nested(`{"a":`, "}", levels) + `}`, 400, "", false},
		{"100k nested arrays", chatHead("application/json"), `{"model":"mock-small",` + okMsgs + `,"x":` + nested("[", "]", levels) + `}`, 400, "", false},
		{"100k nested arrays in content", chatHead("application/json"), `{"model":"mock-small","messages":[{"role":"user","content":` + nested("[", "]", levels) + `}]}`, 400, "", false},
		{"100k nested objects in tools", chatHead("application/json"), `{"model":"mock-small",` + okMsgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":` + nested(`{"p":`, "}", levels) + `}}]}`, 400, "", false},
		{"100k unclosed arrays", chatHead("application/json"), `{"model":"mock-small","x":` + strings.Repeat("[", levels), 400, "", false},
		{"100k nested as the body", chatHead("application/json"), nested("[", "]", levels), 400, "", false},
		// Huge strings under the 4 MiB limit are served.
		{"3.9 MB content without spaces", chatHead("application/json"), `{"model":"mock-small","messages":[{"role":"user","content":"` + huge + `"}]}`, 200, "", false},
		{"3.9 MB content of words", chatHead("application/json"), `{"model":"mock-small","messages":[{"role":"user","content":"` + hugeWords + `"}]}`, 200, "", false},
		{"3.9 MB model name", chatHead("application/json"), `{"model":"` + huge + `",` + okMsgs + `}`, 404, "model", false},
		{"3.9 MB key", chatHead("application/json"), `{"model":"mock-small",` + okMsgs + `,"` + huge + `":1}`, 200, "", false},
		{"3.9 MB header", chatHead("application/json", "X-Big: "+huge), `{"model":"mock-small",` + okMsgs + `}`, 431, "", true},
		{"1 MiB header", chatHead("application/json", "X-Big: "+strings.Repeat("b", 1<<20)), `{"model":"mock-small",` + okMsgs + `}`, 431, "", true},
		{"32 KiB header", chatHead("application/json", "Authorization: Bearer "+strings.Repeat("j", 32<<10)), `{"model":"mock-small",` + okMsgs + `}`, 200, "", false},
		{"1 MiB cache namespace", chatHead("application/json", "X-Semgate-Cache-Namespace: "+strings.Repeat("n", 1<<20)), `{"model":"mock-small",` + okMsgs + `}`, 431, "", true},
		{"100k headers", chatHead("application/json", manyHeaders(100_000, 8)...), `{"model":"mock-small",` + okMsgs + `}`, 431, "", true},
		{"1000 headers under the limit", chatHead("application/json", manyHeaders(1000, 8)...), `{"model":"mock-small",` + okMsgs + `}`, 200, "", false},
		// Invalid UTF-8 anywhere in the body.
		{"invalid utf8 in content", chatHead("application/json"), "{\"model\":\"mock-small\",\"messages\":[{\"role\":\"user\",\"content\":\"a\xc3\x28b\"}]}", 400, "", false},
		{"invalid utf8 in a key", chatHead("application/json"), "{\"model\":\"mock-small\"," + okMsgs + ",\"\xff\xfe\":1}", 400, "", false},
		{"invalid utf8 in the model", chatHead("application/json"), "{\"model\":\"mock-\xedsmall\"," + okMsgs + "}", 400, "", false},
		{"overlong utf8 slash", chatHead("application/json"), "{\"model\":\"mock-small\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc0\xaf\"}]}", 400, "", false},
		{"utf8 surrogate bytes", chatHead("application/json"), "{\"model\":\"mock-small\",\"messages\":[{\"role\":\"user\",\"content\":\"\xed\xa0\x80\"}]}", 400, "", false},
		{"escaped lone surrogate", chatHead("application/json"), `{"model":"mock-small","messages":[{"role":"user","content":"\udc00 x \ud800"}]}`, 200, "", false},
		{"invalid utf8 in the namespace header", chatHead("application/json", "X-Semgate-Cache-Namespace: \xff\xfe"), `{"model":"mock-small",` + okMsgs + `}`, 400, "x-semgate-cache-namespace", false},
		{"invalid utf8 in the request id", chatHead("application/json", "X-Request-Id: \xff\xfe"), `{"model":"mock-small",` + okMsgs + `}`, 200, "", false},
		// NUL: raw is not JSON, escaped is a character like any other.
		{"raw NUL in content", chatHead("application/json"), "{\"model\":\"mock-small\",\"messages\":[{\"role\":\"user\",\"content\":\"a\x00b\"}]}", 400, "", false},
		{"raw NUL in a key", chatHead("application/json"), "{\"model\":\"mock-small\"," + okMsgs + ",\"a\x00\":1}", 400, "", false},
		{"raw NUL outside strings", chatHead("application/json"), "{\"model\":\"mock-small\",\x00" + okMsgs + "}", 400, "", false},
		{"escaped NUL in content", chatHead("application/json"), `{"model":"mock-small","messages":[{"role":"user","content":"a\u0000b"}]}`, 200, "", false},
		{"escaped NUL in a key", chatHead("application/json"), `{"model":"mock-small",` + okMsgs + `,"a\u0000":1}`, 200, "", false},
		{"escaped NUL in the model", chatHead("application/json"), `{"model":"mock-small\u0000",` + okMsgs + `}`, 404, "model", false},
		{"NUL in a header", chatHead("application/json", "X-Evil: a\x00b"), `{"model":"mock-small",` + okMsgs + `}`, 400, "", true},
		// Content types.
		{"no content type", chatHead(""), `{"model":"mock-small",` + okMsgs + `}`, 200, "", false},
		{"json with charset", chatHead("application/json; charset=utf-8"), `{"model":"mock-small",` + okMsgs + `}`, 200, "", false},
		{"json upper case", chatHead("APPLICATION/JSON"), `{"model":"mock-small",` + okMsgs + `}`, 200, "", false},
		{"text/plain", chatHead("text/plain"), `{"model":"mock-small",` + okMsgs + `}`, 415, "", false},
		{"multipart", chatHead("multipart/form-data; boundary=x"), "--x\r\n\r\n--x--", 415, "", false},
		{"jsonp", chatHead("application/jsonp"), `{"model":"mock-small",` + okMsgs + `}`, 415, "", false},
		{"empty content type", chatHead(" "), `{"model":"mock-small",` + okMsgs + `}`, 200, "", false},
		{"garbage content type", chatHead("\x01\x02"), `{"model":"mock-small",` + okMsgs + `}`, 400, "", true},
		// Lengths that lie.
		{"content length 10 GB, short body", chatHead("application/json", "Content-Length: 10737418240"), `{}`, 413, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if !strings.Contains(tc.head, "Content-Length:") {
				body = []byte(tc.body)
			}
			write := rawRequest(tc.head, body)
			if body == nil {
				write = func(w io.Writer) error {
					_, err := io.WriteString(w, tc.head+"\r\n"+tc.body)
					return err
				}
			}
			a := hostileSend(t, addr, 3*time.Minute, write)
			checkAnswer(t, a, tc.status, tc.param, tc.netHTTP, boundFor(len(tc.body)))
		})
	}
}

// drip writes prefix at once, then rest one byte every interval.
func drip(prefix string, rest []byte, interval time.Duration) func(io.Writer) error {
	return func(w io.Writer) error {
		if _, err := io.WriteString(w, prefix); err != nil {
			return err
		}
		for i := range rest {
			time.Sleep(interval)
			if _, err := w.Write(rest[i : i+1]); err != nil {
				return err
			}
		}
		return nil
	}
}

// inFlight reads semgate_requests_in_flight from GET /metrics.
func inFlight(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "semgate_requests_in_flight "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("semgate_requests_in_flight %q", v)
			}
			return n
		}
	}
	t.Fatalf("no semgate_requests_in_flight in /metrics:\n%s", b)
	return 0
}

// TestHostileSlowClients: with server.read_timeout 1s, a client that
// drips its body, sends headers and no body, or promises more body than it
// sends gets its answer (or its connection closed) within the bound, and
// leaves no handler busy: in flight drops back to 0 and the next request
// is served.
func TestHostileSlowClients(t *testing.T) {
	_, addr := hostileServer(t, "server:\n  read_timeout: 1s\n  read_header_timeout: 1s\n")
	valid := []byte(`{"model":"mock-small",` + okMsgs + `}`)
	head := chatHead("application/json", "Content-Length: "+strconv.Itoa(len(valid))) + "\r\n"
	const bound = 8 * time.Second // read_timeout, LingerTimeout and slack
	for _, tc := range []struct {
		name   string
		write  func(io.Writer) error
		status int // 0: closed without an answer, or net/http's plain 400
	}{
		{"body one byte per 100ms", drip(head, valid, 100*time.Millisecond), http.StatusRequestTimeout},
		{"headers and never the body", drip(head, nil, 0), http.StatusRequestTimeout},
		{"half the body then silence", drip(head, valid[:len(valid)/2], time.Millisecond), http.StatusRequestTimeout},
		{"headers one byte per 100ms", drip("", []byte(head), 100*time.Millisecond), 0},
		{"headers and half the body, then close", func(w io.Writer) error {
			if _, err := io.WriteString(w, head+string(valid[:len(valid)/2])); err != nil {
				return err
			}
			return w.(*net.TCPConn).CloseWrite()
		}, http.StatusBadRequest},
		{"oversized content length, short body", rawRequest(chatHead("application/json", "Content-Length: 5000000"), nil), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := hostileSend(t, addr, time.Minute, tc.write)
			t.Logf("after %v: status %d, %v: %.200s", a.took, a.status, a.err, a.body)
			if a.took > bound {
				t.Errorf("took %v, bound %v", a.took, bound)
			}
			if tc.status == 0 {
				// net/http's read_header_timeout: it closes the connection,
				// or answers 400 itself when the request line is cut.
				if a.err == nil && (a.status != http.StatusBadRequest || a.header.Get("Content-Type") == "application/json") {
					t.Fatalf("an answer: %d %s", a.status, a.body)
				}
			} else {
				checkAnswer(t, a, tc.status, "", false, bound)
			}
			deadline := time.Now().Add(bound)
			for inFlight(t, addr) != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the handler is still busy")
				}
				time.Sleep(20 * time.Millisecond)
			}
			a = hostileSend(t, addr, time.Minute, rawRequest(chatHead("application/json"), valid))
			checkAnswer(t, a, http.StatusOK, "", false, bound)
		})
	}
}

// TestHostileManyMessages: 200,000 messages (under a raised body limit)
// are validated and served in bounded time, and an invalid last one is
// named.
func TestHostileManyMessages(t *testing.T) {
	_, addr := hostileServer(t, "server:\n  max_body_bytes: 16777216\n")
	const n = 200_000
	build := func(last string) []byte {
		var b strings.Builder
		b.WriteString(`{"model":"mock-small","messages":[`)
		for i := range n - 1 {
			if i%2 == 0 {
				b.WriteString(`{"role":"user","content":"q` + strconv.Itoa(i) + `"},`)
			} else {
				b.WriteString(`{"role":"assistant","content":"a"},`)
			}
		}
		b.WriteString(last + `]}`)
		return []byte(b.String())
	}
	for _, tc := range []struct {
		name   string
		last   string
		status int
		param  string
	}{
		{"valid", `{"role":"user","content":"and now?"}`, 200, ""},
		{"last one invalid", `{"role":"wizard","content":"x"}`, 400, "messages[199999].role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := build(tc.last)
			a := hostileSend(t, addr, 3*time.Minute, rawRequest(chatHead("application/json"), body))
			checkAnswer(t, a, tc.status, tc.param, false, boundFor(len(body)))
		})
	}
}

// chunkedFlood writes a chunked body of total bytes, generated as it goes
// (nothing of it held in memory), after head.
func chunkedFlood(head string, total int) func(io.Writer) error {
	return func(w io.Writer) error {
		if _, err := io.WriteString(w, head+"Transfer-Encoding: chunked\r\n\r\n"); err != nil {
			return err
		}
		chunk := []byte(strings.Repeat("a", 64<<10))
		prefix := []byte(strconv.FormatInt(int64(len(chunk)), 16) + "\r\n")
		for sent := 0; sent < total; sent += len(chunk) {
			for _, p := range [][]byte{prefix, chunk, []byte("\r\n")} {
				if _, err := w.Write(p); err != nil {
					return err
				}
			}
		}
		_, err := io.WriteString(w, "0\r\n\r\n")
		return err
	}
}

// heapGrowth runs f while sampling the heap and returns how far
// HeapInuse rose above its level before f (after a GC), at the peak and
// once f is done and garbage collected.
func heapGrowth(f func()) (peak, kept int64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapInuse)
	stop, top := make(chan struct{}), make(chan int64, 1)
	go func() {
		var ms runtime.MemStats
		var max int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			max = maxOf(max, int64(ms.HeapInuse))
			select {
			case <-stop:
				top <- max
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	peak = <-top - base
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return peak, int64(ms.HeapInuse) - base
}

func maxOf(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// TestHostileMemoryBounded: bursts of the largest hostile requests at once
// keep the heap within a bound set by the body limit, and give it back.
// Rejected ones (3.9 MB headers, 256 MiB chunked bodies, 10 GB
// Content-Lengths, a million levels of nesting) cost at most about one
// body limit each: nothing is buffered past it. A served 3.9 MB prompt
// costs more (the cache's word and embedding passes build per-word slices,
// about 20 times the prompt at the peak) but a bounded multiple of the
// limit.
func TestHostileMemoryBounded(t *testing.T) {
	_, addr := hostileServer(t, "")
	huge := strings.Repeat("lorem ipsum dolor sit amet ", 144_000) // 3.9 MB
	type job struct {
		name   string
		write  func(io.Writer) error
		status int
	}
	burst := func(jobs []job) {
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := hostileSend(t, addr, 3*time.Minute, j.write)
				if a.err != nil || a.status != j.status {
					t.Errorf("%s: status %d, want %d (%v) after %v: %.200s", j.name, a.status, j.status, a.err, a.took, a.body)
				}
			}()
		}
		wg.Wait()
	}

	deep := []byte(`{"model":"mock-small","x":` + nested("[", "]", 1_000_000) + `}`)
	var rejected []job
	for range 2 {
		rejected = append(rejected,
			job{"3.9 MB header", rawRequest(chatHead("application/json", "X-Big: "+huge), []byte(`{}`)), 431},
			job{"a million levels", rawRequest(chatHead("application/json"), deep), 400},
			job{"10 GB content length", rawRequest(chatHead("application/json", "Content-Length: 10737418240"), nil), 413},
			job{"256 MiB chunked", chunkedFlood(chatHead("application/json"), 256<<20), 413},
		)
	}
	peak, kept := heapGrowth(func() { burst(rejected) })
	t.Logf("%d rejected: heap peak +%d MiB, +%d MiB after", len(rejected), peak>>20, kept>>20)
	if limit := int64(len(rejected)) * DefaultMaxBodyBytes * 2; peak > limit {
		t.Errorf("rejected requests: the heap grew by %d MiB, bound %d MiB", peak>>20, limit>>20)
	}

	words := "pack my box with five dozen liquor jugs "
	body := []byte(`{"model":"mock-small","messages":[{"role":"user","content":"` + strings.Repeat(words, 3_900_000/len(words)) + `"}]}`)
	served := []job{{"3.9 MB prompt", rawRequest(chatHead("application/json"), body), 200}}
	peak, kept = heapGrowth(func() { burst(served) })
	t.Logf("%d served: heap peak +%d MiB, +%d MiB after", len(served), peak>>20, kept>>20)
	if limit := int64(len(served)) * DefaultMaxBodyBytes * 32; peak > limit {
		t.Errorf("served 3.9 MB prompts: the heap grew by %d MiB, bound %d MiB", peak>>20, limit>>20)
	}
	// What stays is what the cache legitimately holds (the stored entry,
	// the embedding cache's vectors), not the requests' buffers.
	if kept > 16*DefaultMaxBodyBytes {
		t.Errorf("the heap kept %d MiB after the bursts", kept>>20)
	}
}
