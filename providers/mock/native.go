package mock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/codec"
	"github.com/tidwall/gjson"
)

// The mock serves Anthropic's Messages API (POST /v1/messages, and
// /v1/messages/count_tokens) and OpenAI's Responses API (POST
// /v1/responses) natively: over HTTP (Handler) and in process (Provider's
// providers.Native), so a gateway's pass-through paths run offline. A
// native request is answered as its chat translation (providers/codec)
// would be, in the API's own shape: JSON, event streams, errors.

var (
	_ providers.Native       = (*Provider)(nil)
	_ providers.TokenCounter = (*Provider)(nil)
)

// nativeCodec is one native request and the translation of its answer.
type nativeCodec struct {
	api  providers.API
	msgs *codec.MessagesRequest
	resp *codec.ResponsesRequest
	chat []byte // the request's chat translation
	opt  codec.AnswerOptions
}

// messagesOptions: the mock answers thinking and top_k requests without
// them, as a model without extended thinking would.
var messagesOptions = codec.MessagesOptions{TopK: codec.Drop, Thinking: codec.Drop}

// parseNative decodes a native request body.
func parseNative(api providers.API, body []byte) (*nativeCodec, error) {
	nc := &nativeCodec{api: api}
	// Ids derive from the request, as the mock's chat ids do.
	h := fnv.New64a()
	h.Write(body)
	prefix := "resp_"
	if api == providers.APIMessages {
		prefix = "msg_"
	}
	nc.opt = codec.AnswerOptions{ID: fmt.Sprintf("%s%016x", prefix, h.Sum64()), CreatedAt: Created}
	var err error
	switch api {
	case providers.APIMessages:
		if nc.msgs, err = codec.ParseMessages(body); err == nil {
			nc.chat, err = nc.msgs.ToChat(messagesOptions)
		}
	case providers.APIResponses:
		if nc.resp, err = codec.ParseResponses(body); err == nil {
			nc.chat, err = nc.resp.ToChat()
		}
	default:
		err = fmt.Errorf("mock: API %s is not served natively", api)
	}
	if err == nil {
		// A stream's message_start reports the prompt's tokens, as
		// Anthropic's does: the mock's count of the chat translation.
		var cr request
		if parseRequest(providers.EndpointChat, nc.chat, &cr) == nil {
			nc.opt.InputTokens = int64(cr.promptTokens)
		}
	}
	return nc, err
}

// json translates a chat.completion into the API's answer.
func (nc *nativeCodec) json(chat []byte) ([]byte, error) {
	if nc.api == providers.APIMessages {
		return nc.msgs.Message(chat, nc.opt)
	}
	return nc.resp.Response(chat, nc.opt)
}

// translator is codec's incremental stream translator.
type translator interface {
	Feed(data []byte) ([]byte, error)
	End() []byte
	Done() bool
}

func (nc *nativeCodec) stream() translator {
	if nc.api == providers.APIMessages {
		return nc.msgs.NewStream(nc.opt)
	}
	return nc.resp.NewStream(nc.opt)
}

// errorBody renders an OpenAI error body in the API's shape.
func (nc *nativeCodec) errorBody(status int, openAI []byte) []byte {
	if nc.api != providers.APIMessages {
		return openAI
	}
	e := gjson.GetBytes(openAI, "error")
	return codec.AnthropicErrorBody(status, e.Get("type").Str, e.Get("message").Str)
}

// codecRefusal is a codec error as the mock's request error, naming the
// field at fault.
func codecRefusal(err error) *requestError {
	re := &requestError{Message: err.Error()}
	var ce *codec.Error
	if errors.As(err, &ce) {
		re.Message, re.Param, re.Code = ce.Message, ce.Param, ce.Code
	}
	return re
}

// codecStatus is the status of a request the codec refused.
func codecStatus(err error) int {
	var ce *codec.Error
	if errors.As(err, &ce) {
		return ce.Status()
	}
	return http.StatusBadRequest
}

// Speaks reports true for the Messages and Responses APIs.
func (p *Provider) Speaks(api providers.API) bool {
	return api == providers.APIMessages || api == providers.APIResponses
}

// DoNative answers a Messages or Responses request as Do answers its chat
// translation: req.Raw gets the answer in the API's shape (an event
// stream as it is read), the returned Body the chat form.
func (p *Provider) DoNative(ctx context.Context, req *providers.NativeRequest) (*providers.Response, error) {
	nc, err := parseNative(req.API, req.Body)
	if err != nil {
		p.c.bad.Add(1)
		return nil, p.badRequest(codecRefusal(err))
	}
	resp, err := p.Do(ctx, &providers.Request{Endpoint: providers.EndpointChat, Model: req.Model, Body: nc.chat, Stream: req.Stream, RequestID: req.RequestID})
	if err != nil {
		return nil, err
	}
	raw := req.Raw
	if raw == nil {
		raw = io.Discard
	}
	if req.Stream {
		resp.Body = &nativeBody{rc: resp.Body, t: nc.stream(), raw: raw}
		return resp, nil
	}
	chat, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	// A fault may have damaged the answer: it then reaches the client as
	// it would from a real upstream, malformed.
	out, err := nc.json(chat)
	if err != nil {
		out = chat
	}
	raw.Write(out)
	resp.Body = io.NopCloser(bytes.NewReader(chat))
	return resp, nil
}

// CountTokens answers a count_tokens request with the mock's count of the
// prompt's chat translation.
func (p *Provider) CountTokens(ctx context.Context, req *providers.NativeRequest) ([]byte, error) {
	if req.API != providers.APIMessages {
		return nil, &providers.Error{Provider: p.name, Type: "invalid_request_error", Message: "the mock counts Messages requests only", Err: providers.ErrUnsupported}
	}
	n, err := countPrompt(req.Body)
	if err != nil {
		p.c.bad.Add(1)
		return nil, p.badRequest(&requestError{Message: err.Error()})
	}
	return codec.CountTokensBody(n), nil
}

// countPrompt counts a count_tokens body's prompt: its chat translation's
// words, as the mock counts usage.
func countPrompt(body []byte) (int64, error) {
	r, err := codec.ParseCountTokens(body)
	if err != nil {
		return 0, err
	}
	chat, err := r.ToChat(messagesOptions)
	if err != nil {
		return 0, err
	}
	var req request
	if err := parseRequest(providers.EndpointChat, chat, &req); err != nil {
		return 0, err
	}
	return int64(req.promptTokens), nil
}

// nativeBody passes a chat stream through while writing its translation
// to raw, event by event: an event's translation is written in the Read
// that returns the event's last byte.
type nativeBody struct {
	rc   io.ReadCloser
	t    translator
	raw  io.Writer
	part []byte
	end  bool
}

func (b *nativeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.part = append(b.part, p[:n]...)
	for {
		i := bytes.Index(b.part, []byte("\n\n"))
		if i < 0 {
			break
		}
		b.feed(b.part[:i])
		b.part = b.part[:copy(b.part, b.part[i+2:])]
	}
	if err != nil && !b.end {
		b.end = true
		if !b.t.Done() {
			b.raw.Write(b.t.End())
		}
	}
	return n, err
}

func (b *nativeBody) feed(ev []byte) {
	for line := range bytes.SplitSeq(ev, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			out, _ := b.t.Feed(d)
			b.raw.Write(out)
		}
	}
}

func (b *nativeBody) Close() error { return b.rc.Close() }

// nativeWriter is the ResponseWriter the Handler answers a native request
// with: it translates the chat answer written to it into the API's shape
// (JSON when the handler returns, a stream event by event).
type nativeWriter struct {
	w      http.ResponseWriter
	nc     *nativeCodec
	t      translator
	status int
	buf    []byte
}

func (w *nativeWriter) Header() http.Header { return w.w.Header() }

func (w *nativeWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if code == http.StatusOK && w.w.Header().Get("Content-Type") == "text/event-stream" {
		w.t = w.nc.stream()
		w.w.WriteHeader(code)
	}
}

func (w *nativeWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.buf = append(w.buf, p...)
	if w.t == nil {
		return len(p), nil
	}
	for {
		i := bytes.Index(w.buf, []byte("\n\n"))
		if i < 0 {
			break
		}
		for line := range bytes.SplitSeq(w.buf[:i], []byte("\n")) {
			if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				out, _ := w.t.Feed(d)
				if _, err := w.w.Write(out); err != nil {
					return 0, err
				}
			}
		}
		w.buf = w.buf[:copy(w.buf, w.buf[i+2:])]
	}
	return len(p), nil
}

// Flush sends a stream's translated events.
func (w *nativeWriter) Flush() {
	if w.t != nil {
		http.NewResponseController(w.w).Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (reset faults).
func (w *nativeWriter) Unwrap() http.ResponseWriter { return w.w }

// finish writes a JSON answer or error, or ends a stream cut short.
func (w *nativeWriter) finish() {
	switch {
	case w.t != nil:
		if !w.t.Done() {
			w.w.Write(w.t.End())
		}
	case w.status == 0:
	case w.status == http.StatusOK:
		out, err := w.nc.json(w.buf)
		if err != nil {
			out = w.buf // damaged by a fault: passed on as it is
		}
		w.writeJSON(http.StatusOK, out)
	default:
		w.writeJSON(w.status, w.nc.errorBody(w.status, w.buf))
	}
}

func (w *nativeWriter) writeJSON(status int, body []byte) {
	h := w.w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.w.WriteHeader(status)
	w.w.Write(body)
}

// serveNative answers POST /v1/messages, /v1/messages/count_tokens and
// /v1/responses.
func (h *Handler) serveNative(w http.ResponseWriter, req *http.Request, api providers.API, count bool) {
	if !h.method(w, req, http.MethodPost) {
		return
	}
	body, err := readBody(req, nil)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "The request body is larger than "+strconv.Itoa(MaxRequestBody)+" bytes.", "invalid_request_error", "", "")
		}
		return
	}
	nc := &nativeCodec{api: api}
	if count {
		n, err := countPrompt(body)
		if err != nil {
			h.c.bad.Add(1)
			w.Header()["Content-Type"] = jsonContentType
			w.WriteHeader(codecStatus(err))
			w.Write(nc.errorBody(codecStatus(err), appendErrorBody(nil, err.Error(), "invalid_request_error", "", "")))
			return
		}
		writeBody(w, http.StatusOK, jsonContentType, codec.CountTokensBody(n))
		return
	}
	nc, err = parseNative(api, body)
	if err != nil {
		h.c.bad.Add(1)
		status, re := codecStatus(err), codecRefusal(err)
		w.Header()["Content-Type"] = jsonContentType
		w.WriteHeader(status)
		w.Write(nc.errorBody(status, appendErrorBody(nil, re.Message, "invalid_request_error", re.Param, re.Code)))
		return
	}
	chatReq := req.Clone(req.Context())
	chatReq.URL.Path = "/v1/chat/completions"
	chatReq.Body = io.NopCloser(bytes.NewReader(nc.chat))
	chatReq.ContentLength = int64(len(nc.chat))
	nw := &nativeWriter{w: w, nc: nc}
	h.ServeHTTP(nw, chatReq)
	nw.finish()
}
