package gateway

import (
	"context"
	"net/http"

	"github.com/semgate/semgate/semcache/answer"
)

// follow serves a request from the identical request in flight (see
// flights). A streaming follower of a streaming leader gets the events as
// they arrive, from the first; any other follower gets the answer when it
// is complete, converted when it asked for the other form. Its outcome is
// not served when the leader failed before its first byte or its answer
// cannot be served in this form: the caller then tries again.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, ex *exchange, fl *flight) (out hitOutcome, err error) {
	defer fl.unref()
	ctx := r.Context()
	if ex.req.stream && fl.stream {
		return s.followStream(w, ctx, ex, fl)
	}
	for {
		fl.mu.Lock()
		ended, wake := fl.ended, fl.wake
		fl.mu.Unlock()
		if ended {
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return out, errClientGone
		}
	}
	a, ok := fl.shared(ex.req.stream)
	if !ok {
		return out, nil
	}
	s.followed(w, fl)
	out.served = true
	out.wroteHeader, err = s.writeAnswer(w, ex, a)
	return out, err
}

// followed sets a follower's response headers and counts it.
func (s *Server) followed(w http.ResponseWriter, fl *flight) {
	h := w.Header()
	h.Set(headerCache, cacheHitCoalesced)
	fl.mu.Lock()
	dep := fl.dep
	fl.mu.Unlock()
	if dep != nil {
		h.Set(headerProvider, dep.ProviderName)
		h.Set(headerModel, dep.Model)
	}
	s.cacheMetrics.lookups[cacheHitCoalesced].Inc()
}

// shared returns the ended flight's answer for a follower that asked for
// stream (or not), when it completed and can be served in that form.
func (f *flight) shared(stream bool) (storedAnswer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ok {
		return storedAnswer{}, false
	}
	if !f.stream {
		if stream && !f.splitChecked {
			f.splitChecked, f.splitOK = true, answer.CheckSplit(f.kind, f.body) == nil
		}
		if stream && !f.splitOK {
			return storedAnswer{}, false
		}
		return storedAnswer{kind: f.kind, body: f.body}, true
	}
	if stream {
		return storedAnswer{kind: f.kind, stream: true, body: answer.EncodeEvents(f.events)}, true
	}
	js, err := f.asm.Result()
	if err != nil {
		return storedAnswer{}, false
	}
	return storedAnswer{kind: f.kind, body: js}, true
}

// followStream relays a streaming leader's events to a streaming
// follower as they arrive: what was sent so far at once, then the rest.
// The follower ends as the leader's stream did: "[DONE]", or the error
// event it ended with.
func (s *Server) followStream(w http.ResponseWriter, ctx context.Context, ex *exchange, fl *flight) (out hitOutcome, err error) {
	for {
		fl.mu.Lock()
		n, ended, tooBig, wake := len(fl.events), fl.ended, fl.tooBig, fl.wake
		fl.mu.Unlock()
		if n > 0 || tooBig {
			break
		}
		if ended {
			return out, nil // failed before its first byte
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return out, errClientGone
		}
	}
	s.followed(w, fl)
	out.served = true
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out.wroteHeader = true
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 0, 1024)
	next := 0
	for {
		fl.mu.Lock()
		evs := fl.events // appended only: the elements read below do not change
		ended, sawDone, tooBig, errEvent, wake, cost := fl.ended, fl.sawDone, fl.tooBig, fl.errEvent, fl.wake, fl.costNano
		fl.mu.Unlock()
		buf = buf[:0]
		if tooBig {
			ae := &apiError{Status: 502, Type: typeUpstream, Message: "the shared upstream answer exceeds the size semgate relays to coalesced requests"}
			buf = answer.AppendData(buf, appendErrorJSON(nil, ae))
			w.Write(buf)
			return out, ae
		}
		for i := next; i < len(evs); i++ {
			buf = evs[i].AppendSSE(buf, ex.req.includeUsage)
		}
		next = len(evs)
		if ended {
			switch {
			case sawDone:
				buf = append(buf, answer.Done...)
			case errEvent != nil:
				buf = answer.AppendData(buf, errEvent)
			}
			out.savedUSD = float64(cost) / 1e9
		}
		if len(buf) > 0 {
			if _, err := w.Write(buf); err != nil {
				return out, errClientGone
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if ended {
			return out, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return out, errClientGone
		}
	}
}
