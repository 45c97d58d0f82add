package embed_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/semgate/semgate/embed"
)

func TestOpenAIRequest(t *testing.T) {
	f := newFakeServer(t)
	e := newOpenAI(t, f, 0, embed.OpenAIOptions{APIKey: "sk-secret-123", Model: "text-embedding-3-small"})
	embedAll(t, e, "hello", "world")
	r := f.requests()[0]
	if r.Path != "/v1/embeddings" || r.Model != "text-embedding-3-small" || r.Format != "float" ||
		r.Auth != "Bearer sk-secret-123" || r.HasDimensions || !slicesEqualS(r.Inputs, []string{"hello", "world"}) {
		t.Fatalf("request %+v", r)
	}

	// dimensions are sent when set; no key, no Authorization header.
	e = newOpenAI(t, f, 256, embed.OpenAIOptions{})
	v := embedAll(t, e, "hello")
	r = f.requests()[1]
	if !r.HasDimensions || r.Dimensions != 256 || r.Auth != "" || len(v[0]) != 256 {
		t.Fatalf("request %+v, vector of %d", r, len(v[0]))
	}
}

func slicesEqualS(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestOpenAIEndpoint(t *testing.T) {
	f := newFakeServer(t)
	for base, want := range map[string]string{
		f.URL:                    "/v1/embeddings",
		f.URL + "/":              "/v1/embeddings",
		f.URL + "/v1":            "/v1/embeddings",
		f.URL + "/v1/":           "/v1/embeddings",
		f.URL + "/openai/v1beta": "/openai/v1beta/embeddings",
	} {
		e := newOpenAI(t, f, 0, embed.OpenAIOptions{BaseURL: base})
		embedAll(t, e, "x")
		reqs := f.requests()
		if got := reqs[len(reqs)-1].Path; got != want {
			t.Errorf("base_url %q: request to %q, want %q", base, got, want)
		}
	}
}

func TestOpenAIBatching(t *testing.T) {
	f := newFakeServer(t)
	e := newOpenAI(t, f, 0, embed.OpenAIOptions{BatchSize: 4})
	texts := make([]string, 10)
	for i := range texts {
		texts[i] = fmt.Sprintf("text number %d", i)
	}
	got := embedAll(t, e, texts...)
	var sizes []int
	for _, r := range f.requests() {
		sizes = append(sizes, len(r.Inputs))
	}
	if fmt.Sprint(sizes) != "[4 4 2]" {
		t.Fatalf("batch sizes %v, want [4 4 2]", sizes)
	}
	// In order, normalized: equal to the lexical vectors the fake scales.
	l := newLexical(t, fakeNativeDim, embed.LexicalOptions{})
	want := embedAll(t, l, texts...)
	for i := range want {
		if c := cos(got[i], want[i]); math.Abs(c-1) > 1e-5 {
			t.Fatalf("text %d: cos with the expected vector %v", i, c)
		}
	}
}

func TestOpenAIDimensionLearnt(t *testing.T) {
	f := newFakeServer(t)
	e := newOpenAI(t, f, 0, embed.OpenAIOptions{Model: "m"})
	host := strings.TrimPrefix(f.URL, "http://")
	if e.Dim() != 0 || e.ID() != "openai:"+host+"/m/0" {
		t.Fatalf("before any call: Dim %d, ID %q", e.Dim(), e.ID())
	}
	var p embed.Prober = e
	if err := p.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.Dim() != fakeNativeDim || e.ID() != fmt.Sprintf("openai:%s/m/%d", host, fakeNativeDim) {
		t.Fatalf("after Probe: Dim %d, ID %q", e.Dim(), e.ID())
	}
	n := len(f.requests())
	if err := p.Probe(context.Background()); err != nil || len(f.requests()) != n {
		t.Fatalf("second Probe: %v, %d requests (want none)", err, len(f.requests())-n)
	}
	// A later answer of another dimension is refused.
	f.respond = func(w http.ResponseWriter, r *http.Request, req fakeRequest) {
		req.HasDimensions, req.Dimensions = true, 512
		v, _ := fakeVectors(req)
		writeData(w, v, false)
	}
	if _, err := e.Embed(context.Background(), []string{"x"}); !errors.Is(err, embed.ErrBadResponse) {
		t.Fatalf("dimension change: err = %v, want ErrBadResponse", err)
	}
}

func TestOpenAIBadResponses(t *testing.T) {
	vec := func(xs ...float64) string { b, _ := json.Marshal(xs); return string(b) }
	item := func(i int, emb string) string {
		return fmt.Sprintf(`{"object":"embedding","index":%d,"embedding":%s}`, i, emb)
	}
	list := func(items ...string) string { return `{"object":"list","data":[` + strings.Join(items, ",") + `]}` }
	for name, c := range map[string]struct {
		dims int
		body string
	}{
		"not JSON":            {0, `<html>oops</html>`},
		"no data":             {0, `{"object":"list"}`},
		"too few":             {0, list(item(0, vec(1, 2)))},
		"too many":            {0, list(item(0, vec(1, 2)), item(1, vec(1, 2)), item(2, vec(1, 2)))},
		"repeated index":      {0, list(item(0, vec(1, 2)), item(0, vec(1, 2)))},
		"index out of range":  {0, list(item(0, vec(1, 2)), item(2, vec(1, 2)))},
		"negative index":      {0, list(item(-1, vec(1, 2)), item(0, vec(1, 2)))},
		"inconsistent dims":   {0, list(item(0, vec(1, 2)), item(1, vec(1, 2, 3)))},
		"not the dims asked":  {3, list(item(0, vec(1, 2)), item(1, vec(1, 2)))},
		"empty vector":        {0, list(item(0, `[]`), item(1, `[]`))},
		"all zeros":           {0, list(item(0, vec(0, 0)), item(1, vec(1, 2)))},
		"beyond float32":      {0, list(item(0, vec(1e39, 1)), item(1, vec(1, 2)))},
		"beyond float64":      {0, list(item(0, `[1e400, 1]`), item(1, vec(1, 2)))},
		"string element":      {0, list(item(0, `["NaN", 1]`), item(1, vec(1, 2)))},
		"null embedding":      {0, list(item(0, `null`), item(1, vec(1, 2)))},
		"bad base64":          {0, list(item(0, `"!!!"`), item(1, vec(1, 2)))},
		"base64 not float32s": {0, list(item(0, `"AAAA"`), item(1, vec(1, 2)))},
		"base64 NaN":          {0, list(item(0, `"`+b64(float32(math.NaN()), 1)+`"`), item(1, vec(1, 2)))},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			e, err := embed.NewOpenAI(c.dims, embed.OpenAIOptions{BaseURL: srv.URL, Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			v, err := e.Embed(context.Background(), []string{"a", "b"})
			if !errors.Is(err, embed.ErrBadResponse) {
				t.Fatalf("got %d vectors, err %v; want ErrBadResponse", len(v), err)
			}
			if errors.Is(err, embed.ErrUpstream) {
				t.Fatalf("%v is also ErrUpstream", err)
			}
		})
	}
}

func b64(xs ...float32) string {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Servers that ignore encoding_format and answer base64, or omit the
// index, are understood.
func TestOpenAILenientResponses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"data":[{"embedding":"%s"},{"embedding":[0,0,2]}]}`, b64(3, 4, 0))
	}))
	defer srv.Close()
	e, err := embed.NewOpenAI(0, embed.OpenAIOptions{BaseURL: srv.URL, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	v := embedAll(t, e, "a", "b")
	if fmt.Sprint(v) != "[[0.6 0.8 0] [0 0 1]]" {
		t.Fatalf("vectors %v", v)
	}
}

func TestOpenAIStatusErrors(t *testing.T) {
	const key = "sk-very-secret"
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{401, `{"error":{"message":"Incorrect API key provided: sk-very-secret","type":"invalid_request_error"}}`, "Incorrect API key provided: [redacted]"},
		{429, `{"error":"rate limited"}`, "rate limited"},
		{500, "upstream exploded", "upstream exploded"},
		{503, strings.Repeat("x", 5000), "…"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			fmt.Fprint(w, c.body)
		}))
		e, err := embed.NewOpenAI(0, embed.OpenAIOptions{BaseURL: srv.URL, Model: "m", APIKey: key})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Embed(context.Background(), []string{"a"})
		var se *embed.StatusError
		switch {
		case !errors.Is(err, embed.ErrUpstream):
			t.Errorf("%d: err = %v, want ErrUpstream", c.status, err)
		case !errors.As(err, &se) || se.StatusCode != c.status:
			t.Errorf("%d: err = %#v, want a StatusError", c.status, err)
		case !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), key) || len(err.Error()) > 400:
			t.Errorf("%d: message %q: want it to contain %q, no key, short", c.status, err, c.want)
		}
		e.Close()
		srv.Close()
	}
}

func TestOpenAIUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	e, err := embed.NewOpenAI(0, embed.OpenAIOptions{BaseURL: url, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Embed(context.Background(), []string{"a"}); !errors.Is(err, embed.ErrUpstream) {
		t.Fatalf("err = %v, want ErrUpstream", err)
	}
}

// blockingServer answers nothing until the request's context ends, and
// signals each request it gets.
func blockingServer(t *testing.T) (*httptest.Server, chan struct{}) {
	got := make(chan struct{}, 4)
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices a hang-up
		got <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first
	return srv, got
}

func TestOpenAITimeout(t *testing.T) {
	srv, _ := blockingServer(t)
	e, err := embed.NewOpenAI(0, embed.OpenAIOptions{BaseURL: srv.URL, Model: "m", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = e.Embed(context.Background(), []string{"a"})
	if !errors.Is(err, embed.ErrUpstream) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUpstream and context.DeadlineExceeded", err)
	}
}

func TestOpenAICanceledInFlight(t *testing.T) {
	srv, got := blockingServer(t)
	e, err := embed.NewOpenAI(0, embed.OpenAIOptions{BaseURL: srv.URL, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Embed(ctx, []string{"a"})
		done <- err
	}()
	<-got // the request reached the server
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !errors.Is(err, embed.ErrUpstream) {
		t.Fatalf("err = %v, want context.Canceled and ErrUpstream", err)
	}
}

func TestOpenAIEmptyInput(t *testing.T) {
	f := newFakeServer(t)
	e := newOpenAI(t, f, 0, embed.OpenAIOptions{})
	for _, in := range [][]string{{""}, {"ok", " \n\t"}} {
		if _, err := e.Embed(context.Background(), in); !errors.Is(err, embed.ErrEmptyInput) {
			t.Errorf("Embed(%q): err = %v, want ErrEmptyInput", in, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests sent for empty input", n)
	}
}

func TestOpenAIOwnClientNotTouched(t *testing.T) {
	f := newFakeServer(t)
	client := &http.Client{Timeout: time.Hour}
	e := newOpenAI(t, f, 0, embed.OpenAIOptions{HTTPClient: client, Timeout: time.Second})
	embedAll(t, e, "a")
	if client.Timeout != time.Hour {
		t.Fatal("the caller's http.Client was modified")
	}
	client.CloseIdleConnections()
}

func TestOpenAIStringNeverShowsKey(t *testing.T) {
	f := newFakeServer(t)
	e := newOpenAI(t, f, 0, embed.OpenAIOptions{APIKey: "sk-hidden"})
	for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), e.ID()} {
		if strings.Contains(s, "sk-hidden") {
			t.Errorf("key printed: %s", s)
		}
	}
}
