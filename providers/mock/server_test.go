package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/sse"
)

func newServer(t testing.TB, o Options) (*Handler, *httptest.Server) {
	t.Helper()
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return h, srv
}

// post sends body to path; hdr holds header name, value pairs.
func post(ctx context.Context, srv *httptest.Server, path, body string, hdr ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return srv.Client().Do(req)
}

// mustPost posts and reads the whole answer.
func mustPost(t testing.TB, srv *httptest.Server, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, err := post(context.Background(), srv, path, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", path, body, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", path, body, err)
	}
	return resp, b
}

var paths = map[providers.Endpoint]string{chat: "/v1/chat/completions", compl: "/v1/completions", embedE: "/v1/embeddings"}

// sameBytesCases are requests the server and the provider must answer
// identically.
var sameBytesCases = []struct {
	ep   providers.Endpoint
	body string
}{
	{chat, chatBody("")},
	{chat, chatBody(`"n":3,"max_tokens":12`)},
	{chat, chatBody(`"stream":true,"n":2`)},
	{chat, chatBody(`"stream":true,"stream_options":{"include_usage":true}`)},
	{chat, chatBody(weatherTools + `,"tool_choice":"required"`)},
	{chat, chatBody(weatherTools + `,"tool_choice":{"type":"function","function":{"name":"get_weather"}},"stream":true`)},
	{chat, `{"model":"long","messages":[{"role":"user","content":"x"}],"n":40}`}, // > 2 KiB
	{compl, `{"model":"i","prompt":"Say hi"}`},
	{compl, `{"model":"i","prompt":["a","b"],"stream":true,"stream_options":{"include_usage":true}}`},
	{embedE, `{"model":"e","input":["a","b"]}`},
	{embedE, `{"model":"e","input":"a","encoding_format":"base64","dimensions":9}`},
}

func TestServerMatchesProvider(t *testing.T) {
	p := newProvider(t, Options{})
	h, srv := newServer(t, Options{})
	for _, tt := range sameBytesCases {
		want := mustCall(t, p, tt.ep, tt.body)
		resp, got := mustPost(t, srv, paths[tt.ep], tt.body)
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("%s: status %d\nserver   %s\nprovider %s", tt.body, resp.StatusCode, got, want)
		}
		ct := resp.Header.Get("Content-Type")
		if stream := strings.Contains(tt.body, `"stream":true`); stream && ct != "text/event-stream" || !stream && ct != "application/json" {
			t.Fatalf("%s: content type %q", tt.body, ct)
		}
		if resp.ContentLength >= 0 && resp.ContentLength != int64(len(got)) {
			t.Fatalf("content length %d for %d bytes", resp.ContentLength, len(got))
		}
	}
	if s := h.Stats(); s.Requests != uint64(len(sameBytesCases)) || s.Faults != 0 || s.BadRequests != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// unsizedReader hides its length, so the request body is chunked.
type unsizedReader struct{ r io.Reader }

func (u unsizedReader) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestServerChunkedRequest(t *testing.T) {
	_, srv := newServer(t, Options{})
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", unsizedReader{strings.NewReader(chatBody(""))})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var c chatCompletion
	decodeStrict(t, b, &c)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestServerRoutes(t *testing.T) {
	_, srv := newServer(t, Options{Models: []string{"alpha", "beta"}})
	client := srv.Client()

	resp, err := client.Get(srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var models struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	decodeStrict(t, body, &models)
	if resp.StatusCode != 200 || models.Object != "list" || len(models.Data) != 2 || models.Data[0].ID != "alpha" ||
		models.Data[1].ID != "beta" || models.Data[0].Object != "model" || models.Data[0].OwnedBy == "" {
		t.Fatalf("models: %d %s", resp.StatusCode, body)
	}

	resp, err = client.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}

	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v1/chat/completions", 405},
		{http.MethodPost, "/v1/models", 405},
		{http.MethodPost, "/v1/nothing", 404},
		{http.MethodGet, "/", 404},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e errorJSON
		decodeStrict(t, body, &e)
		if resp.StatusCode != tt.status || e.Error.Message == "" || e.Error.Type != "invalid_request_error" {
			t.Fatalf("%s %s: %d %s", tt.method, tt.path, resp.StatusCode, body)
		}
		if tt.status == 405 && resp.Header.Get("Allow") == "" {
			t.Fatalf("%s %s: no Allow header", tt.method, tt.path)
		}
	}
}

func TestServerBadRequests(t *testing.T) {
	h, srv := newServer(t, Options{})
	for _, tt := range []struct {
		ep          providers.Endpoint
		body        string
		hdr         []string
		param, code *string
	}{
		{chat, `{"model":"m","messages":[{"role":"user"`, nil, nil, nil},
		{chat, `{"model":"m","messages":[]}`, nil, ptr("messages"), ptr("empty_array")},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"n":0}`, nil, ptr("n"), ptr("integer_below_min_value")},
		{compl, `{"model":"m"}`, nil, ptr("prompt"), ptr("missing_required_parameter")},
		{embedE, `{"model":"m","input":""}`, nil, ptr("input"), ptr("invalid_value")},
		{chat, chatBody(""), []string{"x-mock-fault", "kaboom"}, ptr("x-mock-fault"), ptr("invalid_value")},
		{chat, chatBody(""), []string{"x-mock-latency-ms", "soon"}, ptr("x-mock-latency-ms"), ptr("invalid_value")},
	} {
		resp, body := mustPost(t, srv, paths[tt.ep], tt.body, tt.hdr...)
		var e errorJSON
		decodeStrict(t, body, &e)
		if resp.StatusCode != 400 || e.Error.Type != "invalid_request_error" || e.Error.Message == "" ||
			!eqPtr(e.Error.Param, tt.param) || !eqPtr(e.Error.Code, tt.code) {
			t.Fatalf("%s %v: %d %s", tt.body, tt.hdr, resp.StatusCode, body)
		}
	}
	if s := h.Stats(); s.BadRequests != 7 || s.Requests != 7 {
		t.Fatalf("stats %+v", s)
	}
}

func ptr(s string) *string { return &s }

func eqPtr(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func TestServerStatusFaults(t *testing.T) {
	h, srv := newServer(t, Options{RetryAfter: 3})
	for _, tt := range []struct {
		hdr     []string
		body    string
		status  int
		typ     string
		retryAf string
	}{
		{[]string{"x-mock-fault", "429"}, chatBody(""), 429, "requests", "3"},
		{[]string{"x-mock-fault", "500"}, chatBody(""), 500, "server_error", ""},
		{nil, chatBody(`"mock_fault":"503"`), 503, "server_error", ""},
		{[]string{"x-mock-fault", "404"}, chatBody(`"mock_fault":"none"`), 404, "invalid_request_error", ""}, // the header wins
	} {
		resp, body := mustPost(t, srv, paths[chat], tt.body, tt.hdr...)
		var e errorJSON
		decodeStrict(t, body, &e)
		if resp.StatusCode != tt.status || e.Error.Type != tt.typ || e.Error.Message == "" || resp.Header.Get("Retry-After") != tt.retryAf {
			t.Fatalf("%v: %d %v %s", tt.hdr, resp.StatusCode, resp.Header, body)
		}
	}
	if s := h.Stats(); s.Faults != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestServerReset(t *testing.T) {
	_, srv := newServer(t, Options{})
	for _, tt := range []struct {
		ep   providers.Endpoint
		body string
		hdr  []string
	}{
		{chat, chatBody(""), []string{"x-mock-fault", "reset"}},
		{chat, chatBody(`"stream":true,"mock_fault":"reset"`), nil},
		{embedE, `{"model":"e","input":"x","mock_fault":"reset"}`, nil},
	} {
		resp, err := post(context.Background(), srv, paths[tt.ep], tt.body, tt.hdr...)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: status %d, want a connection error", tt.body, resp.StatusCode)
		}
	}
	// The server goes on serving.
	if resp, _ := mustPost(t, srv, paths[chat], chatBody("")); resp.StatusCode != 200 {
		t.Fatalf("after reset: %d", resp.StatusCode)
	}
}

func TestServerStall(t *testing.T) {
	_, srv := newServer(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := post(ctx, srv, paths[chat], chatBody(""), "x-mock-fault", "stall")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stall: %v", err)
	}

	// A stream stalls halfway: headers and some events arrive, then nothing.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	resp, err := post(ctx, srv, paths[chat], chatBody(`"stream":true`), "x-mock-fault", "stall")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := sse.NewReader(resp.Body)
	for range 3 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	time.AfterFunc(10*time.Millisecond, cancel)
	for {
		ev, err := r.Next()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("stalled stream: %v", err)
			}
			break
		}
		if bytes.Equal(ev.Data, sse.Done) {
			t.Fatal("stalled stream finished")
		}
	}
}

func TestServerBodyFaults(t *testing.T) {
	_, srv := newServer(t, Options{MinTokens: 10, MaxTokens: 10})
	for _, ep := range []providers.Endpoint{chat, compl, embedE} {
		body := map[providers.Endpoint]string{chat: chatBody(""), compl: `{"model":"m","prompt":"p"}`, embedE: `{"model":"m","input":"p"}`}[ep]
		_, good := mustPost(t, srv, paths[ep], body)
		for _, kind := range []string{"truncate", "malformed"} {
			resp, b := mustPost(t, srv, paths[ep], body, "x-mock-fault", kind)
			if resp.StatusCode != 200 || json.Valid(b) {
				t.Fatalf("%v %s: %d %s", ep, kind, resp.StatusCode, b)
			}
			if kind == "truncate" && (len(b) >= len(good) || !bytes.HasPrefix(good, b)) {
				t.Fatalf("%v truncate: %s", ep, b)
			}
		}
	}

	// Streams: truncate ends without [DONE], malformed carries one invalid
	// chunk.
	resp, b := mustPost(t, srv, paths[chat], chatBody(`"stream":true,"mock_fault":"truncate"`))
	if resp.StatusCode != 200 || bytes.Contains(b, sse.Done) || !bytes.HasSuffix(b, []byte("\n\n")) {
		t.Fatalf("truncated stream:\n%s", b)
	}
	_, b = mustPost(t, srv, paths[compl], `{"model":"m","prompt":"p","stream":true}`, "x-mock-fault", "malformed")
	bad := 0
	for _, data := range events(t, b) {
		if !json.Valid(data) {
			bad++
		}
	}
	if bad != 1 {
		t.Fatalf("malformed stream: %d bad chunks\n%s", bad, b)
	}
}

// TestServerFlushes checks that events arrive as they are produced: the
// first token comes while the server waits before the second.
func TestServerFlushes(t *testing.T) {
	_, srv := newServer(t, Options{InterTokenDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := post(ctx, srv, paths[chat], chatBody(`"stream":true`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := sse.NewReader(resp.Body)
	for _, want := range []string{`"role":"assistant"`, `"content":"Mock"`} {
		ev, err := r.Next()
		if err != nil || !bytes.Contains(ev.Data, []byte(want)) {
			t.Fatalf("want %s: %v %s", want, err, ev.Data)
		}
	}
	cancel()
	if _, err := r.Next(); err == nil {
		t.Fatal("stream went on after cancel")
	}
}

func TestServerLatency(t *testing.T) {
	_, srv := newServer(t, Options{TTFT: 40 * time.Millisecond})
	start := time.Now()
	mustPost(t, srv, paths[chat], chatBody(""))
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
	start = time.Now()
	mustPost(t, srv, paths[embedE], `{"model":"e","input":"x"}`, "x-mock-latency-ms", "60")
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("x-mock-latency-ms 60: answered after %v", d)
	}
}

func TestHandlerClose(t *testing.T) {
	h, srv := newServer(t, Options{})
	errc := make(chan error, 1)
	go func() {
		resp, err := post(context.Background(), srv, paths[chat], chatBody(""), "x-mock-fault", "stall")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for h.Stats().Faults == 0 {
		time.Sleep(time.Millisecond)
	}
	h.Close()
	if err := <-errc; err == nil {
		t.Fatal("a stalled request released by Close got an answer")
	}
}
