package mock

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/semgate/semgate/providers"
)

// benchChat is a typical small chat request.
var benchChat = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France? Answer in one short sentence, please."}],"temperature":0.2,"max_tokens":256}`)

// discardWriter is a minimal http.ResponseWriter, so that the benchmark
// measures the handler rather than net/http.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

func BenchmarkHandlerChat(b *testing.B) {
	h, err := NewHandler(Options{})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	body := bytes.NewReader(benchChat)
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchChat)))
	for b.Loop() {
		body.Reset(benchChat)
		req.Body = io.NopCloser(body)
		req.ContentLength = int64(len(benchChat))
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

func BenchmarkProviderChat(b *testing.B) {
	p, err := New("mock", Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := &providers.Request{Endpoint: providers.EndpointChat, Model: "gpt-4o-mini", Body: benchChat}
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := p.Do(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

func BenchmarkProviderStream(b *testing.B) {
	p, err := New("mock", Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	body := bytes.Replace(benchChat, []byte(`"max_tokens"`), []byte(`"stream":true,"max_tokens"`), 1)
	req := &providers.Request{Endpoint: providers.EndpointChat, Body: body, Stream: true}
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := p.Do(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

func BenchmarkEmbeddings(b *testing.B) {
	p, err := New("mock", Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := &providers.Request{Endpoint: providers.EndpointEmbeddings, Body: []byte(`{"model":"text-embedding-3-small","input":"What is the capital of France?"}`)}
	buf := make([]byte, 8192)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := p.Do(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
	}
}

// BenchmarkServerHTTP measures whole loopback round trips, client included:
// the ceiling of direct calls to `semgate mock`.
func BenchmarkServerHTTP(b *testing.B) {
	_, srv := newServer(b, Options{})
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	url := srv.URL + "/v1/chat/completions"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(benchChat))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
