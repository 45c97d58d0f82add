package gateway

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/codec"
	"github.com/semgate/semgate/providers/sse"
	"github.com/tidwall/gjson"
)

// A front serves another client API (OpenAI's Responses API, Anthropic's
// Messages API) on top of the Chat Completions pipeline: it decodes its
// API's request (providers/codec), translates it into a chat body, and
// runs that through serveEndpoint, the same pipeline /v1/chat/completions
// uses (auth, limits, cache keyed on the chat body, routing, fallback,
// accounting), writing to a frontWriter that turns the chat answer into
// its API's answer: a JSON chat.completion into the API's JSON object, an
// SSE chat stream into the API's event stream, event by event, and an
// error into the API's error shape.

// frontAPI names the API a front serves.
type frontAPI uint8

const (
	apiResponses frontAPI = iota + 1
	apiMessages
)

// chatTranslator is codec's incremental stream translator
// (*codec.ResponsesStream, *codec.MessagesStream).
type chatTranslator interface {
	Feed(data []byte) ([]byte, error)
	End() []byte
	Done() bool
}

// frontWriter is the ResponseWriter a front hands the pipeline. The
// headers are the client's (x-semgate-* pass through); the status and body
// are translated. JSON bodies (answers and errors) are buffered until
// finish; a 200 event stream is translated and written as it arrives,
// flushed when the pipeline flushes.
type frontWriter struct {
	w   http.ResponseWriter
	api frontAPI

	// Set by the front once it knows the request: toJSON translates a
	// whole chat.completion; stream translates a chat stream; onDone runs
	// once the stream's terminal event is ready, before it is written.
	toJSON func(chat []byte) ([]byte, error)
	stream chatTranslator
	onDone func()

	// nat, when not nil, is the request as the client sent it, for
	// deployments that take it natively (native.go). While an attempt
	// passes it through, the frontWriter relays the upstream's raw bytes
	// and ignores the chat form written to it; nativeDone then runs with
	// the native answer (a stream's final object) instead of onDone.
	nat        *nativeCall
	nativeDone func(answer []byte)
	chatErr    []byte // the chat error event a passed-through stream ended with

	status    int
	streaming bool   // translating a 200 event stream
	buf       []byte // the buffered JSON body, or a partial SSE event
	werr      error  // the client's connection failed
	ended     bool   // the translated stream's terminal event was written
}

func newFrontWriter(w http.ResponseWriter, api frontAPI) *frontWriter {
	return &frontWriter{w: w, api: api}
}

func (f *frontWriter) Header() http.Header { return f.w.Header() }

func (f *frontWriter) WriteHeader(code int) {
	if f.status != 0 || code < 200 {
		return
	}
	f.status = code
	if code == http.StatusOK && f.stream != nil && isEventStream(f.w.Header().Get("Content-Type")) {
		f.streaming = true
		f.w.Header().Del("Content-Length")
		f.w.WriteHeader(code)
		if n := f.nat; n.active() && len(n.raw) > 0 {
			f.writeRaw(n.raw)
			n.raw = n.raw[:0]
		}
	}
}

// writeRaw relays bytes of a passed-through stream and flushes them.
func (f *frontWriter) writeRaw(p []byte) {
	if f.werr != nil {
		return
	}
	if _, err := f.w.Write(p); err != nil {
		f.werr = err
		return
	}
	http.NewResponseController(f.w).Flush()
}

func (f *frontWriter) Write(b []byte) (int, error) {
	if f.status == 0 {
		f.WriteHeader(http.StatusOK)
	}
	if !f.streaming {
		f.buf = append(f.buf, b...)
		return len(b), nil
	}
	if f.werr != nil {
		return 0, f.werr
	}
	f.buf = append(f.buf, b...)
	for !f.ended {
		i := bytes.Index(f.buf, []byte("\n\n"))
		if i < 0 {
			break
		}
		ev := f.buf[:i]
		if f.nat.active() {
			// The client gets the upstream's bytes (nativeCall.Write); the
			// chat form only tells whether the relay ended in an error.
			if d, ok := bytes.CutPrefix(ev, []byte("data: ")); ok && gjson.GetBytes(d, "error").Exists() {
				f.chatErr = append(f.chatErr[:0], d...)
			}
		} else {
			f.event(ev)
		}
		f.buf = f.buf[i+2:]
	}
	if f.ended {
		f.buf = f.buf[:0]
	}
	if f.werr != nil {
		return 0, f.werr
	}
	return len(b), nil
}

// event feeds one chat SSE event's data to the translator and writes what
// it gives.
func (f *frontWriter) event(ev []byte) {
	var data []byte
	lines := 0
	for line := range bytes.SplitSeq(ev, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		v, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // comments, event: and id: lines
		}
		v = bytes.TrimPrefix(v, []byte(" "))
		if lines > 0 {
			data = append(data, '\n')
		}
		data = append(data, v...)
		lines++
	}
	if lines == 0 {
		return
	}
	out, _ := f.stream.Feed(data) // a failure is in out: the API's error event
	f.emit(out)
}

// emit writes translated events, running onDone first when they end the
// stream.
func (f *frontWriter) emit(out []byte) {
	if f.stream.Done() && !f.ended {
		f.ended = true
		if f.onDone != nil {
			f.onDone()
		}
	}
	if len(out) == 0 || f.werr != nil {
		return
	}
	if _, err := f.w.Write(out); err != nil {
		f.werr = err
	}
}

// Flush sends what was translated so far; a buffered JSON body waits for
// finish.
func (f *frontWriter) Flush() {
	if f.streaming && f.werr == nil {
		http.NewResponseController(f.w).Flush()
	}
}

// finish completes the response once the pipeline returned: it ends a
// stream that stopped without its terminal event, or translates and
// writes the buffered JSON answer or error.
func (f *frontWriter) finish() {
	switch {
	case f.streaming && f.nat.active():
		n := f.nat
		if !n.terminal && !n.failed {
			// The upstream's stream broke off: end it with the API's
			// error event, as the translated stream would.
			f.writeRaw(f.nativeErrorEvent())
		}
		if n.terminal && !n.failed && f.nativeDone != nil {
			f.nativeDone(n.final)
		}
	case f.streaming:
		if !f.ended && f.werr == nil {
			f.emit(f.stream.End())
			f.Flush()
		}
	case f.status == 0:
	case f.status == http.StatusOK && f.nat.active():
		f.writeJSON(http.StatusOK, f.nat.raw)
		if f.nativeDone != nil {
			f.nativeDone(f.nat.raw)
		}
	case f.status == http.StatusOK && f.toJSON != nil:
		out, err := f.toJSON(f.buf)
		if err != nil {
			f.writeCodecError(err)
			return
		}
		f.writeJSON(http.StatusOK, out)
	case f.status == http.StatusOK && f.stream != nil:
		// A stream request answered with something other than a stream:
		// not something the pipeline does.
		f.writeJSON(http.StatusBadGateway, f.errorBody(&apiError{Status: http.StatusBadGateway, Type: typeUpstream, Message: "the answer could not be translated"}))
	default:
		f.writeJSON(f.status, f.translateError(f.status, f.buf))
	}
}

// nativeErrorEvent is the API's error event ending a passed-through
// stream that broke off, carrying the relay's error when there was one.
func (f *frontWriter) nativeErrorEvent() []byte {
	e := gjson.GetBytes(f.chatErr, "error")
	typ, msg, code := e.Get("type").Str, e.Get("message").Str, e.Get("code").Str
	if msg == "" {
		typ, msg = typeUpstream, "the upstream stream ended early"
	}
	if f.api == apiMessages {
		if code == "insufficient_quota" {
			typ = code
		}
		return sse.AppendEvent(nil, []byte("error"), codec.AnthropicErrorBody(http.StatusBadGateway, typ, msg))
	}
	if code == "" {
		code = typ
	}
	b := append([]byte(`{"type":"error","code":`), appendJSONString(nil, code)...)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"param":null,"sequence_number":`...)
	b = strconv.AppendInt(b, int64(f.nat.seq), 10)
	return sse.AppendEvent(nil, []byte("error"), append(b, '}'))
}

// translateError renders an OpenAI-shaped error body from the pipeline in
// the front's API's shape.
func (f *frontWriter) translateError(status int, body []byte) []byte {
	if f.api == apiResponses && gjson.GetBytes(body, "error.message").Exists() {
		return body // OpenAI's shape already
	}
	e := gjson.GetBytes(body, "error")
	msg := e.Get("message").String()
	if msg == "" {
		msg = http.StatusText(status)
	}
	return f.errorBody(&apiError{Status: status, Type: e.Get("type").String(), Code: e.Get("code").String(),
		Param: e.Get("param").String(), Message: msg})
}

// errorBody renders an error in the front's API's shape.
func (f *frontWriter) errorBody(ae *apiError) []byte {
	if f.api == apiMessages {
		typ := ae.Type
		if ae.Code == "insufficient_quota" {
			typ = ae.Code
		}
		return codec.AnthropicErrorBody(ae.Status, typ, ae.Message)
	}
	return appendErrorJSON(nil, ae)
}

// writeCodecError answers a codec error (a malformed or untranslatable
// request, an answer that could not be translated) in the API's shape.
func (f *frontWriter) writeCodecError(err error) {
	var ce *codec.Error
	if !errors.As(err, &ce) {
		f.writeJSON(http.StatusInternalServerError, f.errorBody(&apiError{Status: http.StatusInternalServerError, Type: typeServer, Message: "internal error"}))
		return
	}
	if f.api == apiMessages {
		f.writeJSON(ce.Status(), ce.AnthropicBody())
		return
	}
	f.writeJSON(ce.Status(), ce.OpenAIBody())
}

// writeAPIError answers a gateway error in the API's shape.
func (f *frontWriter) writeAPIError(err error) {
	if errors.Is(err, errClientGone) {
		return
	}
	ae := toAPIError(err)
	if ae.RetryAfter > 0 {
		f.w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	f.writeJSON(ae.Status, f.errorBody(ae))
}

func (f *frontWriter) writeJSON(status int, body []byte) {
	h := f.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Trailer")
	f.w.WriteHeader(status)
	f.w.Write(body)
}

// serveFront runs a front's handler behind the auth step, with auth
// errors, like all others, in the front's API's shape.
func (s *Server) serveFront(api frontAPI, serve func(f *frontWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := newFrontWriter(w, api)
		s.authenticate(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { serve(f, r) })).ServeHTTP(f, r)
		f.finish()
	})
}

// withBody admits a front's request (server.max_in_flight) before its
// body is read, reads the body, and hands it to serve; the request counts
// as in flight until serve returns.
func (s *Server) withBody(serve func(f *frontWriter, r *http.Request, body []byte)) func(*frontWriter, *http.Request) {
	return func(f *frontWriter, r *http.Request) {
		if !s.admitFront(f) {
			return
		}
		defer s.leave()
		body, err := s.readBody(f, r)
		if err != nil {
			f.writeAPIError(err)
			return
		}
		serve(f, r, body)
	}
}

// runChatNative runs a translated chat body through the pipeline, passing
// the request as the client sent it (nat) to deployments that speak its
// API.
func (s *Server) runChatNative(f *frontWriter, r *http.Request, chat []byte, nat *nativeCall) {
	s.servePipeline(f, r, providers.EndpointChat, chat, f.api, nat)
}
