// Package providertest is the conformance suite every upstream adapter runs,
// plus recorded OpenAI fixtures (testdata/) and handlers that replay them.
//
// An adapter's test describes its upstream in a Harness and calls Run. For
// an OpenAI-compatible upstream the recorded fixtures make the Harness:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.OpenAI(func(t *testing.T, name, baseURL string, opts providers.HTTPOptions) providers.Provider {
//			opts.BaseURL = baseURL
//			p, err := openai.New(name, openai.Options{HTTPOptions: opts})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return p
//		}))
//	}
//
// Other upstreams fill in Harness with their own path and recorded
// answers, served for instance with ServeFixture.
//
// Run ends by checking that no goroutine outlived the suite, so the test
// calling it must not run in parallel with other tests of its package.
package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/semgate/semgate/providers"
)

// Harness describes an adapter under test and its upstream's wire format.
type Harness struct {
	// New returns a provider named name that sends to baseURL (the suite's
	// httptest server) with opts (timeouts set by the suite). opts.BaseURL
	// is empty: use baseURL, which may end in a path ("/proxy/v9") the
	// upstream's paths must stay under. opts.APIKey is set.
	New func(t *testing.T, name, baseURL string, opts providers.HTTPOptions) providers.Provider
	// ChatPath is the URL path the upstream receives chat requests on, e.g.
	// "/chat/completions" or "/v1/messages" (relative to baseURL).
	ChatPath string
	// Chat answers a chat request successfully, non-streamed, in the
	// upstream's own format (a recorded response).
	Chat http.Handler
	// ChatStream answers a streamed chat request successfully in the
	// upstream's own SSE format (a recorded stream).
	ChatStream http.Handler
	// Error writes an error in the upstream's own format with the given
	// HTTP status.
	Error func(status int) http.Handler
}

// Timing of the suite.
const (
	// short is the timeout the timeout tests configure.
	short = 150 * time.Millisecond
	// long is the timeout every other test configures; no test waits for it.
	long = 10 * time.Second
	// bound is how long the suite waits for anything expected to happen
	// promptly (an upstream noticing a disconnect, a timeout firing).
	bound = 5 * time.Second
	// stallMax is how long a stalled upstream handler waits for the client
	// to go away before giving up, so a broken adapter fails a test rather
	// than hanging it.
	stallMax = 8 * time.Second
)

const (
	providerName = "conformance"
	// apiKey is the key every provider under test is configured with; it
	// must never appear in an error.
	apiKey    = "sk-providertest-4e1f0b9c7a2d58e3"
	requestID = "req_providertest"
)

var (
	chatBody   = []byte(`{"model":"m","messages":[{"role":"system","content":"You are a terse assistant."},{"role":"user","content":"Say hello."}],"max_tokens":64,"temperature":0}`)
	streamBody = []byte(`{"model":"m","messages":[{"role":"system","content":"You are a terse assistant."},{"role":"user","content":"Say hello."}],"max_tokens":64,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`)
)

// Run checks that the adapter h.New builds conforms to providers.Provider
// against h's upstream, in subtests:
//
//   - Chat: a non-streamed answer is a valid chat.completion (see
//     CheckChatCompletion), the upstream got one POST on ChatPath with a JSON
//     body and the API key in some header, and no Set-Cookie reaches the
//     caller;
//   - ChatStream: a streamed answer (asked with include_usage) is a valid
//     OpenAI stream (see CheckChatStream) with content, a finish_reason and
//     usage;
//   - BaseURLPath: a base URL with a path keeps it;
//   - ErrorStatus: upstream 400, 401, 404, 429 (Retry-After: 7), 500 and 503
//     give a *providers.Error with that Status, a Message, ErrStatus, the
//     RetryAfter, and Retryable exactly for 429, 500 and 503;
//   - ConnectionRefused: ErrUnavailable, retryable;
//   - HeaderTimeout: an upstream silent past opts.Timeout gives ErrTimeout
//     and sees its request cancelled;
//   - StalledStream: a stream silent past opts.IdleTimeout fails the body's
//     Read with an error wrapping ErrTimeout, and the upstream sees its
//     request cancelled;
//   - CancelMidStream: cancelling Do's context while reading fails the Read
//     and cancels the upstream request;
//   - CloseBeforeEOF: closing a body early returns promptly and cancels the
//     upstream request;
//   - NoGoroutineLeak: no goroutine started during Run is left.
//
// No error may contain the API key, and providers must not modify
// Request.Body.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.ChatPath == "" || h.Chat == nil || h.ChatStream == nil || h.Error == nil {
		t.Fatal("providertest: the Harness needs New, ChatPath, Chat, ChatStream and Error")
	}
	leaks := goleak.IgnoreCurrent()
	s := &suite{h: h}
	t.Run("Chat", s.testChat)
	t.Run("ChatStream", s.testChatStream)
	t.Run("BaseURLPath", s.testBaseURLPath)
	t.Run("ErrorStatus", s.testErrorStatus)
	t.Run("ConnectionRefused", s.testConnectionRefused)
	t.Run("HeaderTimeout", s.testHeaderTimeout)
	t.Run("StalledStream", s.testStalledStream)
	t.Run("CancelMidStream", s.testCancelMidStream)
	t.Run("CloseBeforeEOF", s.testCloseBeforeEOF)
	t.Run("NoGoroutineLeak", func(t *testing.T) { goleak.VerifyNone(t, leaks) })
}

type suite struct{ h Harness }

// received is one request as the upstream saw it.
type received struct {
	method, path string
	header       http.Header
	body         []byte
}

// upstream is an httptest server that records requests before handing them
// to a handler.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

// serve starts an upstream answering with h; the test's cleanup stops it.
// It reads each request body to its end before calling h, which also makes
// the server notice a client disconnect and cancel the request's context.
// Every answer carries a Set-Cookie that must not reach the caller.
func serve(t *testing.T, h http.Handler) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, received{r.Method, r.URL.Path, r.Header.Clone(), body})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		w.Header().Set("Set-Cookie", "upstream_session=secret; Path=/; HttpOnly")
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		u.CloseClientConnections()
		u.Close()
	})
	return u
}

// checkOneRequest checks that the upstream received exactly one well-formed,
// authenticated request on path.
func (u *upstream) checkOneRequest(t *testing.T, path string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) != 1 {
		t.Errorf("upstream received %d requests, want 1", len(u.reqs))
		return
	}
	r := u.reqs[0]
	if r.method != http.MethodPost || r.path != path {
		t.Errorf("upstream received %s %s, want POST %s", r.method, r.path, path)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("upstream request Content-Type = %q, want application/json", ct)
	}
	if !json.Valid(r.body) {
		t.Errorf("upstream request body is not JSON: %.200q", r.body)
	}
	authenticated := false
	for _, vs := range r.header {
		for _, v := range vs {
			authenticated = authenticated || strings.Contains(v, apiKey)
		}
	}
	if !authenticated {
		t.Error("no upstream request header carries opts.APIKey")
	}
}

func (s *suite) provider(t *testing.T, baseURL string, opts providers.HTTPOptions) providers.Provider {
	t.Helper()
	opts.APIKey = apiKey
	if opts.Timeout == 0 {
		opts.Timeout = long
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = long
	}
	p := s.h.New(t, providerName, baseURL, opts)
	if p == nil {
		t.Fatal("Harness.New returned nil")
	}
	if n, ok := p.(providers.Named); ok && n.Name() != providerName {
		t.Errorf("Name() = %q, want %q", n.Name(), providerName)
	}
	return p
}

func chatRequest(stream bool) *providers.Request {
	body := chatBody
	if stream {
		body = streamBody
	}
	return &providers.Request{
		Endpoint:  providers.EndpointChat,
		Model:     "m",
		Body:      bytes.Clone(body),
		Stream:    stream,
		RequestID: requestID,
	}
}

// do calls p.Do and checks that the request body came back unmodified.
func do(t *testing.T, ctx context.Context, p providers.Provider, stream bool) (*providers.Response, error) {
	t.Helper()
	req := chatRequest(stream)
	resp, err := p.Do(ctx, req)
	want := chatBody
	if stream {
		want = streamBody
	}
	if !bytes.Equal(req.Body, want) {
		t.Error("Do modified Request.Body")
	}
	if err == nil && (resp == nil || resp.Body == nil) {
		t.Fatal("Do returned no error and no response body")
	}
	return resp, err
}

// doOK calls p.Do and requires a 2xx response without Set-Cookie.
func doOK(t *testing.T, ctx context.Context, p providers.Provider, stream bool) *providers.Response {
	t.Helper()
	resp, err := do(t, ctx, p, stream)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Status < 200 || resp.Status > 299 {
		t.Errorf("Response.Status = %d, want 2xx", resp.Status)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("the upstream's Set-Cookie reached Response.Header")
	}
	return resp
}

// doErr calls p.Do, requires it to fail with a *providers.Error from this
// provider that does not reveal the API key, and returns that error.
func doErr(t *testing.T, ctx context.Context, p providers.Provider, stream bool) (*providers.Error, error) {
	t.Helper()
	resp, err := do(t, ctx, p, stream)
	if err == nil {
		resp.Body.Close()
		t.Fatal("Do succeeded, want an error")
	}
	if resp != nil {
		t.Error("Do returned a response along with its error")
	}
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Do error %q (%T) does not wrap *providers.Error", err, err)
	}
	if pe.Provider != providerName {
		t.Errorf("Error.Provider = %q, want %q", pe.Provider, providerName)
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", *pe)} {
		if strings.Contains(s, apiKey) {
			t.Errorf("the error reveals the API key: %s", s)
		}
	}
	return pe, err
}

// waitFor waits up to bound for ch to close.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(bound):
		t.Fatalf("waited %v for %s", bound, what)
	}
}

func streamName(stream bool) string {
	if stream {
		return "stream"
	}
	return "json"
}

func (s *suite) testChat(t *testing.T) {
	up := serve(t, s.h.Chat)
	p := s.provider(t, up.URL, providers.HTTPOptions{})
	resp := doOK(t, t.Context(), p, false)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Response Content-Type = %q, want application/json", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	if err := CheckChatCompletion(body); err != nil {
		t.Errorf("body: %v", err)
	}
	up.checkOneRequest(t, s.h.ChatPath)
}

func (s *suite) testChatStream(t *testing.T) {
	up := serve(t, s.h.ChatStream)
	p := s.provider(t, up.URL, providers.HTTPOptions{})
	resp := doOK(t, t.Context(), p, true)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Response Content-Type = %q, want text/event-stream", ct)
	}
	st, err := CheckChatStream(resp.Body)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if st.Content == "" {
		t.Error("the stream's delta content is empty")
	}
	if st.FinishReason == "" {
		t.Error("no chunk has a finish_reason")
	}
	if st.Usage == nil {
		t.Error("no usage chunk, though the request set stream_options.include_usage")
	}
	up.checkOneRequest(t, s.h.ChatPath)
}

func (s *suite) testBaseURLPath(t *testing.T) {
	up := serve(t, s.h.Chat)
	p := s.provider(t, up.URL+"/proxy/v9", providers.HTTPOptions{})
	resp := doOK(t, t.Context(), p, false)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	up.checkOneRequest(t, "/proxy/v9"+s.h.ChatPath)
}

func (s *suite) testErrorStatus(t *testing.T) {
	for _, status := range []int{400, 401, 404, 429, 500, 503} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/%s", status, streamName(stream)), func(t *testing.T) {
				h := s.h.Error(status)
				wantRetryAfter := 0
				if status == http.StatusTooManyRequests {
					wantRetryAfter = 7
					inner := h
					h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Retry-After", "7")
						inner.ServeHTTP(w, r)
					})
				}
				up := serve(t, h)
				p := s.provider(t, up.URL, providers.HTTPOptions{})
				pe, err := doErr(t, t.Context(), p, stream)
				if pe.Status != status {
					t.Errorf("Error.Status = %d, want %d", pe.Status, status)
				}
				if pe.Message == "" {
					t.Error("Error.Message is empty")
				}
				if !errors.Is(err, providers.ErrStatus) {
					t.Errorf("errors.Is(%v, ErrStatus) = false", err)
				}
				if pe.RetryAfter != wantRetryAfter {
					t.Errorf("Error.RetryAfter = %d, want %d", pe.RetryAfter, wantRetryAfter)
				}
				wantRetry := status == 429 || status == 500 || status == 503
				if pe.Retryable() != wantRetry {
					t.Errorf("Retryable() = %v, want %v", pe.Retryable(), wantRetry)
				}
				up.checkOneRequest(t, s.h.ChatPath)
			})
		}
	}
}

func (s *suite) testConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, stream := range []bool{false, true} {
		t.Run(streamName(stream), func(t *testing.T) {
			p := s.provider(t, "http://"+addr, providers.HTTPOptions{})
			pe, err := doErr(t, t.Context(), p, stream)
			if !errors.Is(err, providers.ErrUnavailable) {
				t.Errorf("errors.Is(%v, ErrUnavailable) = false", err)
			}
			if pe.Status != 0 {
				t.Errorf("Error.Status = %d, want 0", pe.Status)
			}
			if !pe.Retryable() {
				t.Error("Retryable() = false, want true")
			}
		})
	}
}

func (s *suite) testHeaderTimeout(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(streamName(stream), func(t *testing.T) {
			gone := newSignal()
			up := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
					gone.fire()
				case <-time.After(stallMax):
				}
			}))
			p := s.provider(t, up.URL, providers.HTTPOptions{Timeout: short})
			start := time.Now()
			pe, err := doErr(t, t.Context(), p, stream)
			if d := time.Since(start); d > bound {
				t.Errorf("Do took %v with a %v timeout", d, short)
			}
			if !errors.Is(err, providers.ErrTimeout) {
				t.Errorf("errors.Is(%v, ErrTimeout) = false", err)
			}
			if !pe.Retryable() {
				t.Error("Retryable() = false, want true")
			}
			waitFor(t, gone.ch, "the upstream to see its request cancelled after the timeout")
		})
	}
}

func (s *suite) testStalledStream(t *testing.T) {
	st := newStaller(s.h.ChatStream)
	up := serve(t, st)
	p := s.provider(t, up.URL, providers.HTTPOptions{IdleTimeout: short})
	resp := doOK(t, t.Context(), p, true)
	defer resp.Body.Close()
	readErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		readErr <- err
	}()
	var err error
	select {
	case err = <-readErr:
	case <-time.After(bound):
		t.Fatalf("reading a stream stalled for %v did not fail, with a %v idle timeout", bound, short)
	}
	if !errors.Is(err, providers.ErrTimeout) {
		t.Errorf("reading a stalled stream: err = %v, want one wrapping ErrTimeout", err)
	}
	if err != nil && strings.Contains(err.Error(), apiKey) {
		t.Errorf("the error reveals the API key: %v", err)
	}
	waitFor(t, st.gone.ch, "the upstream to see its request cancelled after the idle timeout")
}

func (s *suite) testCancelMidStream(t *testing.T) {
	st := newStaller(s.h.ChatStream)
	up := serve(t, st)
	p := s.provider(t, up.URL, providers.HTTPOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp := doOK(t, ctx, p, true)
	defer resp.Body.Close()
	readErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		readErr <- err
	}()
	waitFor(t, st.started.ch, "the upstream to send its first event")
	cancel()
	waitFor(t, st.gone.ch, "the upstream to see its request cancelled after the client cancelled")
	select {
	case err := <-readErr:
		if err == nil {
			t.Error("reading a cancelled stream ended without an error")
		}
	case <-time.After(bound):
		t.Fatalf("reading the body did not return %v after the context was cancelled", bound)
	}
}

func (s *suite) testCloseBeforeEOF(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		st := newStaller(s.h.ChatStream)
		up := serve(t, st)
		p := s.provider(t, up.URL, providers.HTTPOptions{})
		resp := doOK(t, t.Context(), p, true)
		waitFor(t, st.started.ch, "the upstream to send its first event")
		closed := make(chan struct{})
		go func() {
			resp.Body.Close()
			close(closed)
		}()
		waitFor(t, closed, "Body.Close to return")
		waitFor(t, st.gone.ch, "the upstream to see its request cancelled after Body.Close")
	})
	t.Run("json", func(t *testing.T) {
		up := serve(t, s.h.Chat)
		p := s.provider(t, up.URL, providers.HTTPOptions{})
		resp := doOK(t, t.Context(), p, false)
		closed := make(chan struct{})
		go func() {
			resp.Body.Close()
			close(closed)
		}()
		waitFor(t, closed, "Body.Close to return")
	})
}

// staller serves a stream but lets only its first event through; then it
// holds the response open, silent, until the request's context ends (the
// client went away) or stallMax passes.
type staller struct {
	h http.Handler
	// started fires once the first event has been flushed.
	started *signal
	// gone fires when the handler sees its request context end.
	gone *signal
}

func newStaller(h http.Handler) *staller {
	return &staller{h: h, started: newSignal(), gone: newSignal()}
}

// signal is a channel closed at most once, however many requests fire it.
type signal struct {
	once sync.Once
	ch   chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) fire() { s.once.Do(func() { close(s.ch) }) }

func (s *staller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &stallWriter{ResponseWriter: w, s: s, ctx: r.Context()}
	s.h.ServeHTTP(sw, r)
	if !sw.stalled && len(sw.pending) > 0 {
		_, _ = w.Write(sw.pending)
	}
}

var errStalled = errors.New("providertest: stalled stream ended")

type stallWriter struct {
	http.ResponseWriter
	s       *staller
	ctx     context.Context
	pending []byte // the first event, until it is complete
	stalled bool
}

func (w *stallWriter) Write(p []byte) (int, error) {
	if w.stalled {
		return 0, errStalled
	}
	w.pending = append(w.pending, p...)
	i := eventEnd(w.pending)
	if i < 0 {
		return len(p), nil
	}
	w.stalled = true
	if _, err := w.ResponseWriter.Write(w.pending[:i]); err != nil {
		return 0, err
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
	w.s.started.fire()
	select {
	case <-w.ctx.Done():
		w.s.gone.fire()
	case <-time.After(stallMax):
	}
	return 0, errStalled
}

// Flush passes flushes on until the stall.
func (w *stallWriter) Flush() {
	if !w.stalled {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}
