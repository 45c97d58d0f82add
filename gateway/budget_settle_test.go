package gateway

import (
	"bufio"
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/gateway/limits"
)

// watchedBudgets are budgets whose Settle waits a while for the client
// to receive its answer's end: if it does, the answer's spend would have
// been settled after the client had its answer, and a crash then would
// have lost it.
type watchedBudgets struct {
	limits.Budgets
	clientHasEnd chan struct{}
	late         atomic.Int32 // settles with a cost made after the client had its answer
	settled      atomic.Int64 // the cost settled
}

func (b *watchedBudgets) Settle(ctx context.Context, r limits.Reservation, actualNano int64) error {
	if actualNano > 0 {
		select {
		case <-b.clientHasEnd:
			b.late.Add(1)
		case <-time.After(300 * time.Millisecond):
		}
		b.settled.Add(actualNano)
	}
	return b.Budgets.Settle(ctx, r, actualNano)
}

// TestBudgetSettledBeforeAnswerEnds: an answer's cost is settled on the
// budgets before the client receives the answer's end (a JSON body, a
// stream's [DONE]), so spend a client was answered for survives a crash
// (cmd/semgate's crash test kills the process at random moments).
func TestBudgetSettledBeforeAnswerEnds(t *testing.T) {
	// Long answers: net/http sends a short JSON body only once the handler
	// has returned, after every deferred step.
	ts := newTestServer(t, "providers:\n  - {name: mock, type: mock, mock: {ttft: 5ms, min_tokens: 3000, max_tokens: 3000}}\n"+
		"models:\n  - {name: m, deployments: [{provider: mock, model: mock-a, price: {input: 100, output: 100}}]}\n", nil)
	_, sk := newKey(t, ts, auth.Spec{Budget: auth.Budget{MaxUSD: 100, Period: "day"}})
	for _, stream := range []bool{false, true} {
		name := "json"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			wb := &watchedBudgets{Budgets: ts.quota.budgets, clientHasEnd: make(chan struct{})}
			ts.quota.budgets = wb
			defer func() { ts.quota.budgets = wb.Budgets }()
			extra := []string{}
			if stream {
				extra = append(extra, `"stream":true`)
			}
			resp := post(t, ts.URL+"/v1/chat/completions", chatBody("what does the "+name+" answer cost?", extra...), bearer(sk)...)
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if stream {
				rd := bufio.NewReader(resp.Body)
				for {
					line, err := rd.ReadString('\n')
					if err != nil {
						t.Fatalf("the stream ended without [DONE]: %v", err)
					}
					if strings.HasPrefix(line, "data: [DONE]") {
						break
					}
				}
			} else if _, err := io.ReadAll(resp.Body); err != nil {
				t.Fatal(err)
			}
			close(wb.clientHasEnd)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			deadline := time.Now().Add(5 * time.Second)
			for wb.settled.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if wb.settled.Load() == 0 {
				t.Fatal("the answer's cost was never settled")
			}
			if n := wb.late.Load(); n != 0 {
				t.Fatalf("the answer's cost was settled after the client had its end")
			}
		})
	}
}
