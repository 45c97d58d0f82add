package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/semgate/semgate/providers/mock"
)

// benchServer is a gateway (cache as configured by extra) in front of the
// mock upstream over loopback HTTP, driven through its handler.
func benchServer(b *testing.B, extra string) http.Handler {
	h, err := mock.NewHandler(mock.Options{})
	if err != nil {
		b.Fatal(err)
	}
	up := httptest.NewServer(h)
	b.Cleanup(func() { up.Close(); h.Close() })
	cfg, err := ParseConfig([]byte(cacheConfig(up.URL+"/v1", "log:\n  requests: false\n"+extra)), noEnv)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Storage.Dir = b.TempDir()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv.Handler()
}

const benchBody = `{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},{"role":"user","content":"What are three good reasons to use a semantic cache in front of an LLM API?"}],"temperature":0.2}`

func runBench(b *testing.B, h http.Handler, body string) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkChatPassthrough: cache off, one upstream round trip per request.
func BenchmarkChatPassthrough(b *testing.B) {
	runBench(b, benchServer(b, "cache:\n  disabled: true\n"), benchBody)
}

// BenchmarkChatCacheHitExact: the same request served from the cache.
func BenchmarkChatCacheHitExact(b *testing.B) {
	runBench(b, benchServer(b, ""), benchBody)
}

// BenchmarkDecodeRequest: validation and field extraction alone.
func BenchmarkDecodeRequest(b *testing.B) {
	body := []byte(benchBody)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decodeRequest(1, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatCacheHitSemantic: a paraphrase of a cached request served
// by a semantic hit with the built-in neural encoder (the shipped
// default), its embedding cache off so that every request embeds: the
// whole semantic path (embed, index search, guard, replay).
func BenchmarkChatCacheHitSemantic(b *testing.B) {
	h := benchServer(b, "embed:\n  model: use-lite-en\n  cache_size: -1\n")
	// A variant the verifier explains: a numeral and a typo
	// (numeral(three→3); typo(cache→cahce)).
	para := strings.Replace(benchBody, "What are three good reasons to use a semantic cache", "What are 3 good reasons to use a semantic cahce", 1)
	for i, body := range []string{benchBody, para} {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if got := w.Header().Get("X-Semgate-Cache"); w.Code != 200 || (i == 1 && got != "hit-semantic") {
			b.Fatalf("request %d: status %d, cache %q", i, w.Code, got)
		}
	}
	runBench(b, h, para)
}

var benchStreamBody = strings.TrimSuffix(benchBody, "}") + `,"stream":true,"stream_options":{"include_usage":true}}`

// warm sends body once so that the benchmark's requests are hits.
func warm(b *testing.B, h http.Handler, body string) {
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || w.Header().Get("X-Semgate-Cache") != "miss" {
		b.Fatalf("warm-up: status %d, cache %q", w.Code, w.Header().Get("X-Semgate-Cache"))
	}
}

// BenchmarkChatCacheHitStreamReplay: a streamed answer stored as its
// events, replayed to a streaming client.
func BenchmarkChatCacheHitStreamReplay(b *testing.B) {
	h := benchServer(b, "")
	warm(b, h, benchStreamBody)
	runBench(b, h, benchStreamBody)
}

// BenchmarkChatCacheHitStreamAsJSON: a stored stream served as JSON
// (assembled at serve time).
func BenchmarkChatCacheHitStreamAsJSON(b *testing.B) {
	h := benchServer(b, "")
	warm(b, h, benchStreamBody)
	runBench(b, h, benchBody)
}

// BenchmarkChatCacheHitJSONAsStream: a stored JSON answer served as a
// stream (split at serve time).
func BenchmarkChatCacheHitJSONAsStream(b *testing.B) {
	h := benchServer(b, "")
	warm(b, h, benchBody)
	runBench(b, h, benchStreamBody)
}
