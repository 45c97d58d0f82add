package gateway

import (
	"context"
	"net/http"
	"sync"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/answer"
)

// flight is one upstream answer as it arrives: what the relay saw (the
// JSON body, or the stream's events exactly as sent), for storing it and
// for the identical requests that joined while it was in progress
// (followers). The leader's relay writes it; followers read it under mu,
// waking on wake.
type flight struct {
	kind   string // "chat" or "completions"
	stream bool   // the leader asked for a stream
	// limit bounds what the flight holds (cache.max_entry_bytes): a
	// larger answer is relayed to its own client only, never stored.
	limit int

	mu       sync.Mutex
	wake     chan struct{} // closed and replaced when events grow or the flight ends
	events   []answer.Event
	asm      *answer.Assembler
	body     []byte // JSON answer
	status   int    // its HTTP status
	size     int
	tooBig   bool
	dep      *providers.Deployment // who answered, once the first byte is known
	complete bool                  // the whole answer arrived
	sawDone  bool                  // the stream's "[DONE]" arrived
	ended    bool
	ok       bool   // ended with a complete, shareable 2xx answer
	errEvent []byte // the error event a failed stream ended with
	costNano int64
	// splitChecked and splitOK cache whether a JSON answer streams
	// losslessly, for streaming followers.
	splitChecked, splitOK bool
	refs                  int // the leader (until its client leaves) and waiting followers
	cancel                context.CancelFunc

	// onComplete runs once the answer is whole, before its last bytes
	// reach the leader's client (the cache stores it there, so an answer
	// a client has received survives a crash). It gets the deployment
	// that answered (begin) and the answer's cost, from the relay's
	// outcome.
	onComplete func(dep *providers.Deployment, costNano int64)
}

func newFlight(kind string, stream bool, limit int) *flight {
	f := &flight{kind: kind, stream: stream, limit: limit, wake: make(chan struct{})}
	if stream {
		f.asm = answer.NewAssembler(kind)
	}
	return f
}

// broadcast wakes the waiting followers; f.mu is held.
func (f *flight) broadcast() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// begin records the deployment whose answer is being relayed.
func (f *flight) begin(dep *providers.Deployment) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.dep = dep
	f.mu.Unlock()
}

// addChunk records one stream event (not "[DONE]") as the upstream sent it.
func (f *flight) addChunk(data []byte) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tooBig {
		return
	}
	if f.size += len(data); f.size > f.limit {
		f.tooBig, f.events, f.asm = true, nil, nil
		f.broadcast()
		return
	}
	f.asm.Add(data) // a malformed chunk makes the answer incomplete
	f.events = append(f.events, answer.NewEvent(data))
	f.broadcast()
}

// finishStream is called at the stream's "[DONE]", before it is relayed;
// costNano is the answer's cost.
func (f *flight) finishStream(costNano int64) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.complete = !f.tooBig && f.asm.Complete()
	f.sawDone = true
	dep := f.dep
	f.mu.Unlock()
	if f.onComplete != nil {
		f.onComplete(dep, costNano)
	}
}

// setBody records a whole JSON answer, its status and its cost, before it
// is relayed.
func (f *flight) setBody(body []byte, status int, costNano int64) {
	if f == nil {
		return
	}
	f.mu.Lock()
	if len(body) <= f.limit {
		f.body, f.status, f.complete = body, status, true
	}
	dep := f.dep
	f.mu.Unlock()
	if f.onComplete != nil {
		f.onComplete(dep, costNano)
	}
}

// fail records the error event a stream ended with after it started.
func (f *flight) fail(event []byte) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.errEvent = append([]byte(nil), event...)
	f.mu.Unlock()
}

// end marks the flight over: ok when the leader relayed a complete 2xx
// answer that others may share.
func (f *flight) end(ok bool, costNano int64) {
	f.mu.Lock()
	f.ended, f.ok, f.costNano = true, ok && f.complete, costNano
	f.broadcast()
	f.mu.Unlock()
}

// ref takes a reference for a follower; it fails when everyone who wanted
// the answer has gone and the upstream call is being cancelled.
func (f *flight) ref() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refs == 0 || f.ended {
		return false
	}
	f.refs++
	return true
}

// unref drops a reference; the last one cancels the upstream call.
func (f *flight) unref() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refs > 0 {
		f.refs--
		if f.refs == 0 && !f.ended && f.cancel != nil {
			f.cancel()
		}
	}
}

// wanted reports whether anyone still waits for the answer.
func (f *flight) wanted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refs > 0
}

// flights coalesces concurrent identical cache misses: the first request
// for a key (the leader) goes upstream; the others (followers) are served
// from its flight — a stream live from its first event, a JSON answer when
// it is complete — so N identical requests arriving together cost one
// upstream call. When the leader fails before its first byte, or its
// answer cannot be shared, the followers try again: one of them becomes
// the next leader.
type flights struct {
	mu sync.Mutex
	m  map[semcache.ID]*flight
}

// lead registers f as the flight for id and returns nil, or returns the
// flight in progress with a follower's reference taken.
func (fs *flights) lead(id semcache.ID, f *flight) (other *flight) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if cur, ok := fs.m[id]; ok && cur.ref() {
		return cur
	}
	if fs.m == nil {
		fs.m = make(map[semcache.ID]*flight)
	}
	fs.m[id] = f
	return nil
}

// remove unregisters f, if it is still id's flight.
func (fs *flights) remove(id semcache.ID, f *flight) {
	fs.mu.Lock()
	if fs.m[id] == f {
		delete(fs.m, id)
	}
	fs.mu.Unlock()
}

// leaderWriter is the leader's ResponseWriter while followers may depend
// on its upstream call: when the leader's client goes away the relay keeps
// reading the upstream for them, and only stops once no one waits.
type leaderWriter struct {
	http.ResponseWriter
	f    *flight
	gone sync.Once
	dead bool
}

func (w *leaderWriter) Write(p []byte) (int, error) {
	if !w.dead {
		n, err := w.ResponseWriter.Write(p)
		if err == nil {
			return n, nil
		}
		w.dead = true
		w.gone.Do(w.f.unref)
	}
	if w.f.wanted() {
		return len(p), nil
	}
	return 0, errClientGone
}

func (w *leaderWriter) Flush() {
	if fl, ok := w.ResponseWriter.(http.Flusher); ok && !w.dead {
		fl.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *leaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ http.Flusher = (*leaderWriter)(nil)
