package gateway

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMaxInFlight: past server.max_in_flight a request gets 503 with
// Retry-After at once, in OpenAI's shape; capacity comes back after.
func TestMaxInFlight(t *testing.T) {
	_, url := newCountingMock(t, 400*time.Millisecond)
	ts := newTestServer(t, cacheConfig(url, "server: {max_in_flight: 2}\ncache: {disabled: true}\n"), nil)
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := chat(t, ts, chatBody("slow "+string(rune('a'+i))))
			codes <- r.StatusCode
		}()
	}
	time.Sleep(150 * time.Millisecond) // both are upstream now
	t0 := time.Now()
	r, body := chat(t, ts, chatBody("one too many"))
	if r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" || time.Since(t0) > 300*time.Millisecond {
		t.Fatalf("status %d, Retry-After %q after %v", r.StatusCode, r.Header.Get("Retry-After"), time.Since(t0))
	}
	if e := decodeError(t, []byte(body)); e.Code == nil || *e.Code != "overloaded" {
		t.Fatalf("%+v", e)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("an admitted request got %d", c)
		}
	}
	if r, _ := chat(t, ts, chatBody("room again")); r.StatusCode != 200 {
		t.Fatalf("after the load: %d", r.StatusCode)
	}
}

// TestEmbedSlotsBounded: with every embedding slot busy a request is still
// served (exact tier, then upstream) and the skip is counted.
func TestEmbedSlotsBounded(t *testing.T) {
	_, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, "server: {max_embeds: 1}\n"), nil)
	ts.embeds <- struct{}{} // the one slot is busy
	r, _ := chat(t, ts, chatBody("What is the capital of France?"))
	if r.StatusCode != 200 || r.Header.Get("X-Semgate-Cache") != "miss" {
		t.Fatalf("%d %s", r.StatusCode, r.Header.Get("X-Semgate-Cache"))
	}
	if n := ts.cacheMetrics.embedSkipped.Get(); n == 0 {
		t.Fatal("the skipped embedding was not counted")
	}
	<-ts.embeds
	if r, _ := chat(t, ts, chatBody("What is the capital of France?")); r.Header.Get("X-Semgate-Cache") != "hit-exact" {
		t.Fatalf("the answer stored without a vector is not an exact hit: %s", r.Header.Get("X-Semgate-Cache"))
	}
}

// TestUpstreamAndEntrySizeBounds: a JSON answer over
// server.max_upstream_bytes is a 502; a stream over cache.max_entry_bytes
// is relayed whole but not stored.
func TestUpstreamAndEntrySizeBounds(t *testing.T) {
	big := strings.Repeat("x", 300_000)
	var rc *recorder
	rc, url := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(string(*rc.body.Load()), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"` + big + `"},"finish_reason":"stop"}]}`))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for range 4 {
			w.Write([]byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` + big[:100_000] + `"},"finish_reason":null}]}` + "\n\n"))
		}
		w.Write([]byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"))
	})
	ts := newTestServer(t, cacheConfig(url, "server: {max_upstream_bytes: 200000}\ncache: {max_entry_bytes: 200000}\n"), nil)
	r, body := chat(t, ts, chatBody("big json"))
	if r.StatusCode != 502 {
		t.Fatalf("oversized JSON answer: %d", r.StatusCode)
	}
	decodeError(t, []byte(body))
	for i := range 2 {
		resp := post(t, ts.URL+"/v1/chat/completions", chatBody("big stream", `"stream":true`))
		events := readEvents(t, resp.Body)
		n := 0
		for _, e := range events {
			n += strings.Count(e, strings.Repeat("x", 1000))
		}
		if resp.StatusCode != 200 || n != 400 || events[len(events)-1] != "[DONE]" {
			t.Fatalf("stream %d: status %d, %d bytes of content", i, resp.StatusCode, n)
		}
		if resp.Header.Get("X-Semgate-Cache") != "miss" {
			t.Fatalf("an answer over max_entry_bytes was stored: %s", resp.Header.Get("X-Semgate-Cache"))
		}
	}
}
