package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/sse"
	"github.com/tidwall/gjson"
)

// relayStream relays an upstream's SSE answer event by event, flushing
// each one. Headers are sent only once the first event arrived and is
// valid, so a deployment that fails before that can still be replaced.
// After that, a failure ends the stream with an OpenAI-style error event
// and no [DONE], so clients see an error rather than a silently short
// answer. It returns what it relayed, also with an error.
func (s *Server) relayStream(w http.ResponseWriter, ex *exchange, resp *providers.Response, fl *flight) (out relayOutcome, err error) {
	defer resp.Body.Close()
	out.text = ex.outText[:0] // the previous attempt's buffer
	rd := sse.NewReader(resp.Body)
	ev, err := rd.Next()
	if err == nil {
		err = checkChunk(ex.dep, ev.Data)
	}
	if err != nil {
		return out, streamError(ex.dep, err)
	}
	if e := gjson.GetBytes(ev.Data, "error"); e.Exists() {
		// An error before anything was relayed is a failed attempt: it may
		// be retried or fall back, and never reaches the client under a 200.
		return out, firstEventError(ex.dep, e)
	}
	if out.ttft, err = ex.firstByte(); err != nil {
		return out, err
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set(headerProvider, ex.dep.ProviderName)
	h.Set(headerModel, ex.dep.Model)
	setUpstreamID(h, resp.Header)
	s.setRouteHeaders(h, ex)
	// The cost is known only at the end: it goes in a trailer.
	h.Del(headerCost)
	h.Set("Trailer", headerCost)
	w.WriteHeader(http.StatusOK)
	out.headers(http.StatusOK)
	fl.begin(ex.dep)
	flusher, _ := w.(http.Flusher)

	buf := make([]byte, 0, 512)
	for {
		done := bytes.Equal(ev.Data, sse.Done)
		data := ev.Data
		if ex.native.isLossy() {
			fl.unshareable()
		}
		if !done {
			// Followers get the event as the upstream sent it, at once.
			fl.addChunk(ev.Data)
			data = out.observeChunk(ex, ev.Data)
		} else {
			out.settle(ex)
			h.Set(headerCost, formatUSD(out.costNano))
			// The answer is recorded (and stored, with its cost) and its
			// cost settled on the budgets before the client receives its
			// end.
			s.settleBudget(ex, out.costNano)
			fl.finishStream(out.costNano)
		}
		if data != nil {
			buf = sse.AppendEvent(buf[:0], nil, data)
			if _, err := w.Write(buf); err != nil {
				out.settle(ex) // what was generated is still billed
				return out, errClientGone
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if done {
			return out, nil
		}
		if gjson.GetBytes(ev.Data, "error").Exists() {
			out.settle(ex)
			return out, &providers.Error{Provider: ex.dep.ProviderName, Type: typeUpstream,
				Message: "the upstream reported an error mid-stream", Err: providers.ErrBadResponse}
		}
		ev, err = rd.Next()
		if err == nil {
			err = checkChunk(ex.dep, ev.Data)
		}
		if err != nil {
			err = streamError(ex.dep, err)
			ae := toAPIError(err)
			buf = sse.AppendEvent(buf[:0], nil, appendErrorJSON(nil, ae))
			fl.fail(appendErrorJSON(nil, ae))
			if _, werr := w.Write(buf); werr == nil && flusher != nil {
				flusher.Flush()
			}
			out.settle(ex)
			h.Set(headerCost, formatUSD(out.costNano))
			return out, err
		}
	}
}

var usageField = []byte(`"usage"`)

// checkChunk accepts "[DONE]" and JSON objects.
func checkChunk(dep *providers.Deployment, data []byte) error {
	if bytes.Equal(data, sse.Done) || (len(data) > 0 && data[0] == '{' && gjson.ValidBytes(data)) {
		return nil
	}
	return &providers.Error{Provider: dep.ProviderName, Type: typeUpstream,
		Message: "the upstream sent a malformed stream event", Err: providers.ErrBadResponse}
}

// streamError types a failure to read an upstream stream.
func streamError(dep *providers.Deployment, err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &providers.Error{Provider: dep.ProviderName, Type: typeUpstream,
			Message: "the upstream stream ended before [DONE]", Err: providers.ErrBadResponse}
	case errors.Is(err, sse.ErrTooLong):
		return &providers.Error{Provider: dep.ProviderName, Type: typeUpstream,
			Message: "the upstream sent an oversized stream event", Err: providers.ErrBadResponse}
	}
	return upstreamBodyError(dep, err)
}

// firstEventError types a stream whose first event is an error object.
func firstEventError(dep *providers.Deployment, e gjson.Result) error {
	pe := &providers.Error{Provider: dep.ProviderName, Type: typeUpstream, Err: providers.ErrBadResponse,
		Message: "the upstream's stream began with an error"}
	if msg := e.Get("message"); msg.Type == gjson.String && msg.Str != "" {
		pe.Message += ": " + msg.Str
	} else if e.Type == gjson.String && e.Str != "" {
		pe.Message += ": " + e.Str
	}
	if c := e.Get("code"); c.Type == gjson.String {
		pe.Code = c.Str
	}
	return pe
}
