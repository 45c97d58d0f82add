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
// answer.
func (s *Server) relayStream(w http.ResponseWriter, ex *exchange, resp *providers.Response, capture *capture) error {
	defer resp.Body.Close()
	rd := sse.NewReader(resp.Body)
	ev, err := rd.Next()
	if err == nil {
		err = checkChunk(ex.dep, ev.Data)
	}
	if err != nil {
		return streamError(ex.dep, err)
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set(headerProvider, ex.dep.ProviderName)
	h.Set(headerModel, ex.dep.Model)
	w.WriteHeader(http.StatusOK)
	ex.wroteHeader, ex.status = true, http.StatusOK
	flusher, _ := w.(http.Flusher)

	buf := make([]byte, 0, 512)
	for {
		buf = sse.AppendEvent(buf[:0], nil, ev.Data)
		if _, err := w.Write(buf); err != nil {
			return errClientGone
		}
		if flusher != nil {
			flusher.Flush()
		}
		if bytes.Equal(ev.Data, sse.Done) {
			if capture != nil {
				capture.finishStream()
			}
			return nil
		}
		if capture != nil {
			capture.addChunk(ev.Data)
		}
		if gjson.GetBytes(ev.Data, "error").Exists() {
			return &providers.Error{Provider: ex.dep.ProviderName, Type: typeUpstream,
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
			if _, werr := w.Write(buf); werr == nil && flusher != nil {
				flusher.Flush()
			}
			return err
		}
	}
}

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
