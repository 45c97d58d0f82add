package gateway

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/providers/mock"
	"github.com/semgate/semgate/semcache/answer"
	"github.com/tidwall/gjson"
)

// slowMock is the mock upstream streaming 20 tokens 30 ms apart, counting
// calls.
func slowMock(t *testing.T) (*countingMock, string) {
	t.Helper()
	h, err := mock.NewHandler(mock.Options{TTFT: 20 * time.Millisecond, InterTokenDelay: 30 * time.Millisecond, MinTokens: 20, MaxTokens: 20})
	if err != nil {
		t.Fatal(err)
	}
	cm := &countingMock{h: h}
	s := httptest.NewServer(cm)
	t.Cleanup(func() { s.Close(); h.Close() })
	return cm, s.URL + "/v1"
}

// timedEvent is an SSE event's data and when the client read it.
type timedEvent struct {
	data string
	at   time.Time
}

func streamTimed(ctx context.Context, t *testing.T, url, body string) (*http.Response, []timedEvent, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var out []timedEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, timedEvent{d, time.Now()})
		}
	}
	return resp, out, sc.Err()
}

func firstContent(evs []timedEvent) (time.Time, bool) {
	for _, e := range evs {
		if strings.Contains(e.data, `"content":"`) && !strings.Contains(e.data, `"content":""`) {
			return e.at, true
		}
	}
	return time.Time{}, false
}

func streamText(t *testing.T, evs []timedEvent) string {
	t.Helper()
	var chunks [][]byte
	for _, e := range evs {
		if e.data != "[DONE]" {
			chunks = append(chunks, []byte(e.data))
		}
	}
	js, err := answer.Assemble(answer.KindChat, chunks)
	if err != nil {
		t.Fatalf("stream does not assemble: %v", err)
	}
	return string(js)
}

// TestCoalescedStreamIsLive: a streaming request identical to one in
// flight receives the leader's events as they arrive (its first content
// event comes before the leader's last event), from one upstream call, and
// a JSON request joining the same flight gets the whole answer.
func TestCoalescedStreamIsLive(t *testing.T) {
	up, url := slowMock(t)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	body := chatBody("Stream this to everyone", `"stream":true`)
	var wg sync.WaitGroup
	var leader, follower []timedEvent
	var leaderResp, followerResp, jsonResp *http.Response
	var jsonBody string
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		leaderResp, leader, err = streamTimed(context.Background(), t, ts.URL+"/v1/chat/completions", body)
		if err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(150 * time.Millisecond) // the leader is streaming by now
	wg.Add(2)
	go func() {
		defer wg.Done()
		var err error
		followerResp, follower, err = streamTimed(context.Background(), t, ts.URL+"/v1/chat/completions", body)
		if err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer wg.Done()
		jsonResp, jsonBody = chat(t, ts, chatBody("Stream this to everyone"))
	}()
	wg.Wait()
	if t.Failed() {
		return
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("%d upstream calls, want 1", n)
	}
	if leaderResp.Header.Get("X-Semgate-Cache") != "miss" || followerResp.Header.Get("X-Semgate-Cache") != "hit-coalesced" || jsonResp.Header.Get("X-Semgate-Cache") != "hit-coalesced" {
		t.Fatalf("cache headers: leader %q, follower %q, json %q", leaderResp.Header.Get("X-Semgate-Cache"),
			followerResp.Header.Get("X-Semgate-Cache"), jsonResp.Header.Get("X-Semgate-Cache"))
	}
	fc, ok := firstContent(follower)
	if !ok {
		t.Fatalf("follower got no content: %v", follower)
	}
	last := leader[len(leader)-1].at
	if !fc.Before(last) {
		t.Fatalf("the follower's first content event (%v) came after the leader's last event (%v)", fc, last)
	}
	if follower[len(follower)-1].data != "[DONE]" {
		t.Fatal("follower's stream has no [DONE]")
	}
	if streamText(t, follower) != streamText(t, leader) {
		t.Fatalf("follower and leader got different answers:\n%s\n%s", streamText(t, follower), streamText(t, leader))
	}
	if !answer.SameJSON([]byte(gjson.Get(jsonBody, "choices").Raw), []byte(gjson.Get(streamText(t, leader), "choices").Raw)) ||
		!gjson.Get(jsonBody, "usage.total_tokens").Exists() {
		t.Fatalf("JSON follower got %s", jsonBody)
	}
	// The answer was stored once: the next request is an exact hit.
	r, _ := chat(t, ts, chatBody("Stream this to everyone"))
	if r.Header.Get("X-Semgate-Cache") != "hit-exact" || up.calls.Load() != 1 {
		t.Fatalf("after the flight: %s, %d calls", r.Header.Get("X-Semgate-Cache"), up.calls.Load())
	}
}

// TestCoalescingSurvivesTheLeadersClient: when the leader's client goes
// away, the upstream call goes on for the follower, which gets the whole
// answer, and the answer is stored.
func TestCoalescingSurvivesTheLeadersClient(t *testing.T) {
	up, url := slowMock(t)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	body := chatBody("Who stays to the end?", `"stream":true`)
	ctx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		streamTimed(ctx, t, ts.URL+"/v1/chat/completions", body)
	}()
	time.Sleep(150 * time.Millisecond)
	var follower []timedEvent
	followerDone := make(chan struct{})
	go func() {
		defer close(followerDone)
		var err error
		if _, follower, err = streamTimed(context.Background(), t, ts.URL+"/v1/chat/completions", body); err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	cancel() // the leader's client disconnects mid-stream
	<-leaderDone
	<-followerDone
	if len(follower) == 0 || follower[len(follower)-1].data != "[DONE]" {
		t.Fatalf("the follower's stream was cut: %d events", len(follower))
	}
	streamText(t, follower)
	r, _ := chat(t, ts, chatBody("Who stays to the end?"))
	if r.Header.Get("X-Semgate-Cache") != "hit-exact" || up.calls.Load() != 1 {
		t.Fatalf("after the flight: %s, %d upstream calls", r.Header.Get("X-Semgate-Cache"), up.calls.Load())
	}
}

// TestCoalescingHandsOverOnFailure: when the leader's upstream call fails
// before its first byte, one follower becomes the next leader and the
// others follow it: two upstream calls for five requests, not five.
func TestCoalescingHandsOverOnFailure(t *testing.T) {
	var calls atomic.Int32
	h, err := mock.NewHandler(mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		time.Sleep(300 * time.Millisecond)
		if n == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"message":"bad luck","type":"invalid_request_error","param":null,"code":null}}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ts := newTestServer(t, cacheConfig(srv.URL+"/v1", ""), nil)
	var wg sync.WaitGroup
	statuses := make([]int, 5)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i > 0 {
				time.Sleep(50 * time.Millisecond) // the first one leads
			}
			r, _ := chat(t, ts, chatBody("Try, try again"))
			statuses[i] = r.StatusCode
		}(i)
	}
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d upstream calls, want 2 (statuses %v)", n, statuses)
	}
	if statuses[0] != 400 {
		t.Fatalf("the first leader's client got %d, want the upstream's 400", statuses[0])
	}
	for i, s := range statuses[1:] {
		if s != 200 {
			t.Fatalf("follower %d got %d", i+1, s)
		}
	}
}
