package openai

import (
	"bytes"
	"context"
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

	"go.yaml.in/yaml/v3"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/providertest"
)

func TestConformance(t *testing.T) {
	t.Run("openai", func(t *testing.T) {
		providertest.Run(t, providertest.OpenAI(func(t *testing.T, name, baseURL string, opts providers.HTTPOptions) providers.Provider {
			opts.BaseURL = baseURL
			return mustNew(t, name, Options{HTTPOptions: opts})
		}))
	})
	t.Run("azure", func(t *testing.T) {
		providertest.Run(t, providertest.OpenAI(func(t *testing.T, name, baseURL string, opts providers.HTTPOptions) providers.Provider {
			opts.BaseURL = baseURL
			return mustNew(t, name, Options{HTTPOptions: opts, AuthHeader: "api-key", Query: map[string]string{"api-version": "2024-10-21"}})
		}))
	})
}

func mustNew(t testing.TB, name string, opts Options) *Provider {
	t.Helper()
	p, err := New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder is an upstream that records what it receives and answers with
// a handler.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request // Body consumed; see bodies
	body [][]byte
}

func record(t testing.TB, h http.Handler) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.body = append(r.body, b)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) last(t testing.TB) (*http.Request, []byte) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return r.reqs[len(r.reqs)-1], r.body[len(r.body)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

var chatJSON = providertest.ServeFixture(providertest.ContentTypeJSON, providertest.OpenAIChat)

// call sends req and returns the whole answer body.
func call(t testing.TB, p *Provider, req *providers.Request) (*providers.Response, []byte) {
	t.Helper()
	resp, err := p.Do(context.Background(), req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, body
}

func TestRequestForwardedByteForByte(t *testing.T) {
	// Unknown fields, odd spacing, escapes, big and precise numbers, key
	// order and duplicates: anything re-encoding would change.
	body := []byte("{ \"model\" : \"gpt-4o-mini\",\n\t\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \\ud83d\\ude00 <b>&amp;</b>\"}],\n" +
		`"x_vendor":{"z":1,"a":[1.50,1e400,12345678901234567890123]},"seed":9007199254740993,"dup":1,"dup":2,` +
		`"logit_bias":{"50256":-100},"metadata":null}`)
	up := record(t, chatJSON)
	p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL, APIKey: "sk-test"}})
	for _, stream := range []bool{false, true} {
		call(t, p, &providers.Request{Endpoint: providers.EndpointChat, Model: "gpt-4o-mini", Body: body, Stream: stream})
		r, got := up.last(t)
		if !bytes.Equal(got, body) {
			t.Errorf("stream=%v: upstream got\n%s\nwant\n%s", stream, got, body)
		}
		if r.ContentLength != int64(len(body)) {
			t.Errorf("Content-Length = %d, want %d", r.ContentLength, len(body))
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		want := "application/json"
		if stream {
			want = "text/event-stream"
		}
		if a := r.Header.Get("Accept"); a != want {
			t.Errorf("stream=%v: Accept = %q, want %q", stream, a, want)
		}
	}
}

func TestResponsePassedThroughUntouched(t *testing.T) {
	// A body with fields no OpenAI client knows, formatted as no encoder
	// would.
	odd := []byte(`{"id":"chatcmpl-1" , "object":"chat.completion","x_vendor":{"b":2,"a":[1.50,1e400]},` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"\u00e9","reasoning_content":"hmm"},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}` + "\n\n")
	tests := []struct {
		name        string
		endpoint    providers.Endpoint
		stream      bool
		contentType string
		body        []byte
	}{
		{"chat", providers.EndpointChat, false, providertest.ContentTypeJSON, providertest.Fixture(providertest.OpenAIChat)},
		{"chat stream", providers.EndpointChat, true, providertest.ContentTypeSSE, providertest.Fixture(providertest.OpenAIChatStream)},
		{"tool stream", providers.EndpointChat, true, providertest.ContentTypeSSE, providertest.Fixture(providertest.OpenAIChatToolStream)},
		{"completions", providers.EndpointCompletions, false, providertest.ContentTypeJSON, providertest.Fixture(providertest.OpenAICompletions)},
		{"embeddings", providers.EndpointEmbeddings, false, providertest.ContentTypeJSON, providertest.Fixture(providertest.OpenAIEmbeddings)},
		{"unknown fields", providers.EndpointChat, false, "application/json; charset=utf-8", odd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := record(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Content-Type", tt.contentType)
				h.Set("Openai-Processing-Ms", "231")
				h.Set("Openai-Version", "2020-10-01")
				h.Set("X-Ratelimit-Limit-Requests", "10000")
				h.Set("X-Ratelimit-Remaining-Tokens", "199980")
				h.Set("X-Ratelimit-Reset-Requests", "6ms")
				h.Add("Set-Cookie", "__cf_bm=abc; path=/; HttpOnly")
				h.Add("Set-Cookie", "_cfuvid=def; path=/")
				h.Set("Openai-Organization", "org-secret")
				h.Set("Openai-Project", "proj_secret")
				h.Set("X-Request-Id", "req_upstream")
				h.Set("Cf-Ray", "8f1c2e3d4b5a6978-AMS")
				h.Set("Www-Authenticate", "Bearer")
				_, _ = w.Write(tt.body)
			}))
			p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}})
			resp, got := call(t, p, &providers.Request{Endpoint: tt.endpoint, Body: []byte(`{}`), Stream: tt.stream})
			if !bytes.Equal(got, tt.body) {
				t.Errorf("body changed:\n%s\nwant\n%s", got, tt.body)
			}
			if resp.Status != http.StatusOK {
				t.Errorf("Status = %d", resp.Status)
			}
			want := http.Header{
				"Content-Type":                 {tt.contentType},
				"Openai-Processing-Ms":         {"231"},
				"Openai-Version":               {"2020-10-01"},
				"X-Ratelimit-Limit-Requests":   {"10000"},
				"X-Ratelimit-Remaining-Tokens": {"199980"},
				"X-Ratelimit-Reset-Requests":   {"6ms"},
				"X-Request-Id":                 {"req_upstream"}, // the upstream's id, for x-semgate-upstream-request-id
			}
			if fmt.Sprint(resp.Header) != fmt.Sprint(want) {
				t.Errorf("Header = %v\nwant %v", resp.Header, want)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name       string
		key        providers.Secret
		authHeader string
		headers    map[string]string
		want       map[string]string // "" means absent
	}{
		{"bearer", "sk-test", "", nil, map[string]string{"Authorization": "Bearer sk-test", "Api-Key": ""}},
		{"azure api-key", "azure-key", "api-key", nil, map[string]string{"Api-Key": "azure-key", "Authorization": ""}},
		{"custom header", "k1", "X-Goog-Api-Key", nil, map[string]string{"X-Goog-Api-Key": "k1", "Authorization": ""}},
		{"no key", "", "", nil, map[string]string{"Authorization": "", "Api-Key": ""}},
		{"no key, auth from headers", "", "", map[string]string{"Authorization": "Token abc"}, map[string]string{"Authorization": "Token abc"}},
		{"key wins over a header of the same name", "sk-test", "", map[string]string{"authorization": "Token abc"}, map[string]string{"Authorization": "Bearer sk-test"}},
		{"extra headers", "sk-test", "", map[string]string{"OpenAI-Organization": "org-1", "openai-project": "proj_1", "HTTP-Referer": "https://example.com"},
			map[string]string{"Openai-Organization": "org-1", "Openai-Project": "proj_1", "Http-Referer": "https://example.com", "Authorization": "Bearer sk-test"}},
		{"content type is ours", "", "", map[string]string{"Content-Type": "text/plain"}, map[string]string{"Content-Type": "application/json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := record(t, chatJSON)
			opts := Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL, APIKey: tt.key, Headers: tt.headers}, AuthHeader: tt.authHeader}
			p := mustNew(t, "up", opts)
			call(t, p, &providers.Request{Endpoint: providers.EndpointChat, Body: []byte(`{}`), RequestID: "req-42"})
			r, _ := up.last(t)
			for k, v := range tt.want {
				if got := r.Header.Values(k); (v == "" && len(got) != 0) || (v != "" && (len(got) != 1 || got[0] != v)) {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := r.Header.Get("X-Request-Id"); got != "req-42" {
				t.Errorf("X-Request-Id = %q, want req-42", got)
			}
		})
	}
	t.Run("no request id", func(t *testing.T) {
		up := record(t, chatJSON)
		call(t, mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}}), &providers.Request{Endpoint: providers.EndpointChat, Body: []byte(`{}`)})
		if r, _ := up.last(t); r.Header.Values("X-Request-Id") != nil {
			t.Errorf("X-Request-Id = %q, want none", r.Header.Values("X-Request-Id"))
		}
	})
}

func TestURLs(t *testing.T) {
	tests := []struct {
		name     string
		base     string // after the server's URL
		query    map[string]string
		endpoint providers.Endpoint
		path     string
		rawQuery string
	}{
		{"chat", "/v1", nil, providers.EndpointChat, "/v1/chat/completions", ""},
		{"completions", "/v1", nil, providers.EndpointCompletions, "/v1/completions", ""},
		{"embeddings", "/v1", nil, providers.EndpointEmbeddings, "/v1/embeddings", ""},
		{"trailing slash", "/v1/", nil, providers.EndpointChat, "/v1/chat/completions", ""},
		{"no path", "", nil, providers.EndpointEmbeddings, "/embeddings", ""},
		{"azure", "/openai/deployments/gpt-4o", map[string]string{"api-version": "2024-10-21"}, providers.EndpointChat,
			"/openai/deployments/gpt-4o/chat/completions", "api-version=2024-10-21"},
		{"query sorted and escaped", "/v1", map[string]string{"z": "last", "api-version": "2024-10-21", "b": "x y&z"}, providers.EndpointEmbeddings,
			"/v1/embeddings", "api-version=2024-10-21&b=x+y%26z&z=last"},
		{"query merged with the base URL's", "/v1?tenant=t1", map[string]string{"api-version": "1"}, providers.EndpointChat,
			"/v1/chat/completions", "api-version=1&tenant=t1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := record(t, chatJSON)
			p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL + tt.base}, Query: tt.query})
			call(t, p, &providers.Request{Endpoint: tt.endpoint, Body: []byte(`{}`)})
			r, _ := up.last(t)
			if r.Method != http.MethodPost || r.URL.Path != tt.path || r.URL.RawQuery != tt.rawQuery {
				t.Errorf("upstream got %s %s?%s, want POST %s?%s", r.Method, r.URL.Path, r.URL.RawQuery, tt.path, tt.rawQuery)
			}
		})
	}
	t.Run("default base URL", func(t *testing.T) {
		p := mustNew(t, "up", Options{})
		if got, want := p.urls[providers.EndpointChat], "https://api.openai.com/v1/chat/completions"; got != want {
			t.Errorf("chat URL = %q, want %q", got, want)
		}
	})
	t.Run("unsupported endpoint", func(t *testing.T) {
		up := record(t, chatJSON)
		p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}})
		for _, ep := range []providers.Endpoint{0, providers.EndpointEmbeddings + 1, 255} {
			resp, err := p.Do(context.Background(), &providers.Request{Endpoint: ep, Body: []byte(`{}`)})
			var pe *providers.Error
			if resp != nil || !errors.As(err, &pe) || !errors.Is(err, providers.ErrUnsupported) || pe.Retryable() {
				t.Errorf("endpoint %d: Do = %v, %v; want a non-retryable ErrUnsupported", ep, resp, err)
			}
		}
		if n := up.count(); n != 0 {
			t.Errorf("the upstream received %d requests", n)
		}
	})
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name                      string
		status                    int
		body                      string
		message, typ, code, param string
	}{
		{"openai", 401, string(providertest.Fixture("openai_error_401.json")),
			"Incorrect API key provided: sk-proj-", "invalid_request_error", "invalid_api_key", ""},
		{"openai with param", 400, string(providertest.Fixture("openai_error_400.json")),
			"This model's maximum context length is 128000 tokens.", "invalid_request_error", "context_length_exceeded", "messages"},
		{"null code", 500, `{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}`,
			"The server had an error", "server_error", "", ""},
		{"numeric code (vLLM)", 400, `{"error":{"message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}}`,
			"max_tokens is too large", "BadRequestError", "400", ""},
		{"azure, string code, no type", 429, `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded the rate limit."}}`,
			"Requests to the ChatCompletions_Create Operation", "upstream_error", "429", ""},
		{"azure content filter", 400, `{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}`,
			"The response was filtered", "upstream_error", "content_filter", "prompt"},
		{"error string (Ollama)", 404, `{"error":"model \"llama3\" not found, try pulling it first"}`,
			`model "llama3" not found, try pulling it first`, "upstream_error", "", ""},
		{"top level (old vLLM)", 404, `{"object":"error","message":"The model ` + "`x`" + ` does not exist.","type":"NotFoundError","param":null,"code":404}`,
			"The model `x` does not exist.", "NotFoundError", "404", ""},
		{"detail string (FastAPI)", 404, `{"detail":"Not Found"}`, "Not Found", "upstream_error", "", ""},
		{"detail validation errors", 422, `{"detail":[{"loc":["body","messages"],"msg":"Field required","type":"missing"},{"loc":["body","model"],"msg":"Input should be a valid string","type":"string_type"}]}`,
			"Field required; Input should be a valid string", "upstream_error", "", ""},
		{"detail object", 400, `{"detail":{"reason":"bad"}}`, `{"reason":"bad"}`, "upstream_error", "", ""},
		{"error object without message", 400, `{"error":{"type":"invalid_request_error"}}`, "Bad Request: {\"error\":{\"type\":\"invalid_request_error\"}}", "invalid_request_error", "", ""},
		{"html", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>\n", "Bad Gateway: <html><body><h1>502 Bad Gateway</h1>", "upstream_error", "", ""},
		{"empty", 503, "", "Service Unavailable", "upstream_error", "", ""},
		{"not utf-8", 500, "\xff\xfeoops", "Internal Server Error: \uFFFDoops", "upstream_error", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := record(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}})
			_, err := p.Do(context.Background(), &providers.Request{Endpoint: providers.EndpointChat, Body: []byte(`{}`)})
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Do error = %v, want *providers.Error", err)
			}
			if pe.Status != tt.status || !strings.HasPrefix(pe.Message, tt.message) || pe.Type != tt.typ || pe.Code != tt.code || pe.Param != tt.param {
				t.Errorf("got status %d message %q type %q code %q param %q\nwant status %d message %q… type %q code %q param %q",
					pe.Status, pe.Message, pe.Type, pe.Code, pe.Param, tt.status, tt.message, tt.typ, tt.code, tt.param)
			}
		})
	}
	t.Run("long message is cut", func(t *testing.T) {
		up := record(t, providertest.ServeFixtureStatus(500, "text/html", providertest.OpenAIChatToolStream))
		p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}})
		_, err := p.Do(context.Background(), &providers.Request{Endpoint: providers.EndpointChat, Body: []byte(`{}`)})
		var pe *providers.Error
		if !errors.As(err, &pe) || len(pe.Message) > maxMessage+len("…") || !strings.HasSuffix(pe.Message, "…") {
			t.Errorf("Message = %q (%d bytes), want at most %d bytes ending in …", pe.Message, len(pe.Message), maxMessage)
		}
	})
}

func TestKeyNeverInErrors(t *testing.T) {
	const key = "sk-live-Zq81xY0cVb2NmK7pLs4Df9Ga"
	// The key starts 12 bytes before the message is cut: masking after
	// cutting would leave "sk-live-Zq81".
	long := strings.Repeat("x", maxMessage-len("Unauthorized: ")-len(" echo ")-12) + " echo " + key + " " + strings.Repeat("y", 100)
	bodies := map[string]string{
		"message":      `{"error":{"message":"Incorrect API key provided: ` + key + `","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		"param":        `{"error":{"message":"bad","type":"t","param":"` + key + `","code":null}}`,
		"code":         `{"error":{"message":"bad","type":"` + key + `","param":null,"code":"` + key + `"}}`,
		"error string": `{"error":"unauthorized: Bearer ` + key + `"}`,
		"detail":       `{"detail":"token ` + key + ` is invalid"}`,
		"plain text":   "Authorization: Bearer " + key + "\n",
		"cut in half":  long,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			up := record(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, body)
			}))
			for _, authHeader := range []string{"", "api-key"} {
				p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL, APIKey: key}, AuthHeader: authHeader})
				_, err := p.Do(context.Background(), &providers.Request{Endpoint: providers.EndpointChat, Body: []byte(`{}`)})
				pe := checkNoKey(t, err, key)
				if !strings.Contains(pe.Message+pe.Type+pe.Param+pe.Code, "[redacted]") {
					t.Errorf("error %#v does not show where the key was masked", *pe)
				}
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		up := record(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}))
		p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL, APIKey: key, Timeout: 50 * time.Millisecond}})
		_, err := p.Do(context.Background(), &providers.Request{Endpoint: providers.EndpointChat, Body: []byte(`{}`)})
		checkNoKey(t, err, key)
	})
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: "http://" + ln.Addr().String(), APIKey: key}})
		_, err = p.Do(context.Background(), &providers.Request{Endpoint: providers.EndpointChat, Body: []byte(`{}`)})
		checkNoKey(t, err, key)
	})
	t.Run("provider and options", func(t *testing.T) {
		opts := Options{HTTPOptions: providers.HTTPOptions{APIKey: key, Timeout: -1}, AuthHeader: "bad header"}
		p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{APIKey: key}})
		_, err := New("up", opts)
		for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts), err.Error()} {
			if strings.Contains(s, key) {
				t.Errorf("%s reveals the key", s)
			}
		}
	})
}

// checkNoKey requires err to be a *providers.Error that shows neither key
// nor a distinctive part of it.
func checkNoKey(t *testing.T, err error, key string) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Do error = %v, want *providers.Error", err)
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", *pe)} {
		if strings.Contains(s, key) || strings.Contains(s, key[8:12]) {
			t.Errorf("error reveals the key: %s", s)
		}
	}
	return pe
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string // substrings of the error; none means valid
	}{
		{"zero", Options{}, nil},
		{"full", Options{HTTPOptions: providers.HTTPOptions{BaseURL: "https://res.openai.azure.com/openai/deployments/d", Headers: map[string]string{"OpenAI-Project": "p"}},
			AuthHeader: "api-key", Query: map[string]string{"api-version": "2024-10-21"}}, nil},
		{"http", Options{HTTPOptions: providers.HTTPOptions{BaseURL: "http://localhost:11434/v1"}}, nil},
		{"relative", Options{HTTPOptions: providers.HTTPOptions{BaseURL: "/v1"}}, []string{"base_url: the scheme must be http or https"}},
		{"ftp", Options{HTTPOptions: providers.HTTPOptions{BaseURL: "ftp://host/v1"}}, []string{"base_url: the scheme must be http or https"}},
		{"no host", Options{HTTPOptions: providers.HTTPOptions{BaseURL: "https:///v1"}}, []string{"base_url: the URL has no host"}},
		{"unparsable", Options{HTTPOptions: providers.HTTPOptions{BaseURL: "https://user:p@ss%zz@host/"}}, []string{"base_url: not a URL"}},
		{"everything wrong", Options{
			HTTPOptions: providers.HTTPOptions{BaseURL: "localhost:8000", Timeout: -time.Second, IdleTimeout: -time.Second,
				Headers: map[string]string{"Bad Header": "v", "X-Ok": "a\r\nInjected: 1"}},
			AuthHeader: "api key:", Query: map[string]string{"": "x"}},
			[]string{"timeout: must not be negative", "idle_timeout: must not be negative", "base_url:", `auth_header: "api key:"`,
				`headers: "Bad Header" is not a valid header name`, "headers: X-Ok: the value contains a line break", "query: a parameter has an empty name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if _, err := New("x", tt.opts); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "p@ss") || strings.Contains(err.Error(), "Injected") {
				t.Errorf("Validate() = %q repeats a credential or header value", err)
			}
			if _, err := New("x", tt.opts); err == nil {
				t.Error("New accepted invalid options")
			}
		})
	}
}

func TestOptionsYAML(t *testing.T) {
	src := `
base_url: https://res.openai.azure.com/openai/deployments/gpt-4o
api_key: azure-secret
headers: {OpenAI-Project: proj_1}
timeout: 30s
idle_timeout: 5s
auth_header: api-key
query: {api-version: "2024-10-21"}
`
	var o Options
	if err := yaml.Unmarshal([]byte(src), &o); err != nil {
		t.Fatal(err)
	}
	want := Options{
		HTTPOptions: providers.HTTPOptions{BaseURL: "https://res.openai.azure.com/openai/deployments/gpt-4o", APIKey: "azure-secret",
			Headers: map[string]string{"OpenAI-Project": "proj_1"}, Timeout: 30 * time.Second, IdleTimeout: 5 * time.Second},
		AuthHeader: "api-key", Query: map[string]string{"api-version": "2024-10-21"},
	}
	if o.APIKey.Reveal() != want.APIKey.Reveal() || fmt.Sprint(o) != fmt.Sprint(want) {
		t.Errorf("decoded %+v, want %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Error(err)
	}
}

func TestInjectedClient(t *testing.T) {
	up := record(t, chatJSON)
	used := false
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	p := mustNew(t, "up", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}, Client: client})
	call(t, p, &providers.Request{Endpoint: providers.EndpointChat, Body: []byte(`{}`)})
	if !used {
		t.Error("Options.Client was not used")
	}
	if p.Name() != "up" {
		t.Errorf("Name() = %q", p.Name())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func benchmarkDo(b *testing.B, stream bool) {
	ct, name := providertest.ContentTypeJSON, providertest.OpenAIChat
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}]}`)
	if stream {
		ct, name = providertest.ContentTypeSSE, providertest.OpenAIChatStream
		body = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}],"stream":true,"stream_options":{"include_usage":true}}`)
	}
	up := httptest.NewServer(providertest.ServeFixture(ct, name))
	defer up.Close()
	p, err := New("bench", Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL, APIKey: "sk-bench"}})
	if err != nil {
		b.Fatal(err)
	}
	req := &providers.Request{Endpoint: providers.EndpointChat, Model: "gpt-4o-mini", Body: body, Stream: stream, RequestID: "req-bench"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := p.Do(context.Background(), req)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDo measures a whole round trip to a local upstream answering
// with the recorded chat.completion: the adapter, the HTTP client and the
// httptest server together.
func BenchmarkDo(b *testing.B) { benchmarkDo(b, false) }

// BenchmarkDoStream is BenchmarkDo with the recorded stream, flushed event
// by event.
func BenchmarkDoStream(b *testing.B) { benchmarkDo(b, true) }

// BenchmarkDoOverhead measures the adapter and providers.HTTPClient alone:
// the transport answers from memory, so no network or server is counted.
func BenchmarkDoOverhead(b *testing.B) {
	body := providertest.Fixture(providertest.OpenAIChat)
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "X-Ratelimit-Remaining-Requests": {"9999"}},
			Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
	})}
	p, err := New("bench", Options{HTTPOptions: providers.HTTPOptions{BaseURL: "https://api.example.com/v1", APIKey: "sk-bench"}, Client: client})
	if err != nil {
		b.Fatal(err)
	}
	req := &providers.Request{Endpoint: providers.EndpointChat, Model: "gpt-4o-mini", Body: []byte(`{"model":"gpt-4o-mini","messages":[]}`), RequestID: "req-bench"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := p.Do(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}
