package mock

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/semgate/semgate/providers"
)

// MaxRequestBody bounds a request body; larger ones get a 413.
const MaxRequestBody = 32 << 20

// Handler is the mock upstream as an OpenAI-compatible HTTP server:
// POST /v1/chat/completions, /v1/completions and /v1/embeddings, GET
// /v1/models and GET /healthz. It is safe for concurrent use.
type Handler struct {
	c         *core
	models    []byte // the /v1/models body
	done      chan struct{}
	closeOnce sync.Once
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler configured with opts, which must pass
// Validate.
func NewHandler(opts Options) (*Handler, error) {
	c, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	h := &Handler{c: c, done: make(chan struct{})}
	h.models = append(h.models, `{"object":"list","data":[`...)
	for i, m := range c.models {
		if i > 0 {
			h.models = append(h.models, ',')
		}
		h.models = append(h.models, `{"id":`...)
		h.models = appendJSONString(h.models, m)
		h.models = append(h.models, `,"object":"model","created":`...)
		h.models = strconv.AppendInt(h.models, Created, 10)
		h.models = append(h.models, `,"owned_by":"semgate-mock"}`...)
	}
	h.models = append(h.models, "]}"...)
	return h, nil
}

// Stats returns the handler's counters.
func (h *Handler) Stats() Stats { return h.c.stats() }

// Close releases every request waiting in a delay or a stall, so that a
// server can shut down: their connections are aborted. Later requests that
// would wait are aborted at once.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.done) })
}

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4096)
	return &b
}}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // let the odd huge buffer go
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var ep providers.Endpoint
	switch req.URL.Path {
	case "/v1/chat/completions":
		ep = providers.EndpointChat
	case "/v1/completions":
		ep = providers.EndpointCompletions
	case "/v1/embeddings":
		ep = providers.EndpointEmbeddings
	case "/v1/messages":
		h.serveNative(w, req, providers.APIMessages, false)
		return
	case "/v1/messages/count_tokens":
		h.serveNative(w, req, providers.APIMessages, true)
		return
	case "/v1/responses":
		h.serveNative(w, req, providers.APIResponses, false)
		return
	case "/v1/models":
		if h.method(w, req, http.MethodGet) {
			writeBody(w, http.StatusOK, jsonContentType, h.models)
		}
		return
	case "/healthz":
		if h.method(w, req, http.MethodGet) {
			writeBody(w, http.StatusOK, textContentType, []byte("ok\n"))
		}
		return
	default:
		writeError(w, http.StatusNotFound, "Invalid URL ("+req.Method+" "+req.URL.Path+")", "invalid_request_error", "", "")
		return
	}
	if !h.method(w, req, http.MethodPost) {
		return
	}
	h.c.requests.Add(1)
	in := getBuf()
	defer putBuf(in)
	body, err := readBody(req, (*in)[:0])
	*in = body
	if err != nil {
		if errors.Is(err, errTooLarge) {
			h.c.bad.Add(1)
			writeError(w, http.StatusRequestEntityTooLarge, "The request body is larger than "+strconv.Itoa(MaxRequestBody)+" bytes.", "invalid_request_error", "", "")
		}
		return // otherwise the client is gone
	}
	var r request
	err = parseRequest(ep, body, &r)
	if err == nil {
		err = r.parseHeaders(req.Header)
	}
	if err != nil {
		h.c.bad.Add(1)
		re := &requestError{Message: err.Error()}
		errors.As(err, &re)
		writeError(w, http.StatusBadRequest, re.Message, "invalid_request_error", re.Param, re.Code)
		return
	}
	ctx := req.Context()
	var sl sleeper
	f := h.c.draw(&r)
	switch {
	case f.isStatus():
		h.writeFault(w, int(f))
		return
	case f == faultReset:
		reset(w)
		return
	case f == faultStall && !r.stream:
		h.wait(ctx, &sl, -1)
		return
	}
	if r.stream {
		if h.wait(ctx, &sl, h.c.latency(&r, 0)) {
			h.serveStream(ctx, w, &sl, h.c.newStream(&r, f))
		}
		return
	}
	out := getBuf()
	defer putBuf(out)
	answer, pieces := h.c.render((*out)[:0], &r)
	*out = answer
	if !h.wait(ctx, &sl, h.c.latency(&r, pieces)) {
		return
	}
	writeBody(w, http.StatusOK, jsonContentType, corruptBody(answer, f))
}

// wait sleeps d (forever if negative) and reports whether to go on. It
// returns false when the client is gone, and aborts the connection when
// the Handler is closed, so that the client sees a failure rather than an
// empty answer.
func (h *Handler) wait(ctx context.Context, sl *sleeper, d time.Duration) bool {
	err := sl.sleep(ctx, h.done, d)
	if errors.Is(err, ErrClosed) {
		panic(http.ErrAbortHandler)
	}
	return err == nil
}

// parseHeaders applies the x-mock-fault and x-mock-latency-ms overrides,
// which win over the body's.
func (r *request) parseHeaders(h http.Header) error {
	if v := h["X-Mock-Fault"]; len(v) > 0 {
		if err := r.setFault(v[0], "x-mock-fault"); err != nil {
			return err
		}
	}
	if v := h["X-Mock-Latency-Ms"]; len(v) > 0 {
		ms, err := strconv.ParseFloat(v[0], 64)
		if err != nil {
			ms = -1
		}
		if err := r.setLatency(ms, "x-mock-latency-ms"); err != nil {
			return err
		}
	}
	return nil
}

// method checks the request method, answering 405 when it is wrong.
func (h *Handler) method(w http.ResponseWriter, req *http.Request, want string) bool {
	if req.Method == want {
		return true
	}
	w.Header()["Allow"] = []string{want}
	writeError(w, http.StatusMethodNotAllowed, "Method "+req.Method+" not allowed for "+req.URL.Path+"; use "+want+".", "invalid_request_error", "", "")
	return false
}

var errTooLarge = errors.New("mock: request body too large")

// readBody reads the request body into buf.
func readBody(req *http.Request, buf []byte) ([]byte, error) {
	if req.ContentLength > MaxRequestBody {
		return buf, errTooLarge
	}
	if n := int(req.ContentLength); n >= 0 {
		if cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		buf = buf[:n]
		_, err := io.ReadFull(req.Body, buf)
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := req.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxRequestBody {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// writeBody sends a complete answer. Bodies up to net/http's chunking
// buffer (2 KiB) get their Content-Length from net/http, saving two
// allocations on the hot path.
func writeBody(w http.ResponseWriter, status int, contentType []string, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = contentType
	if len(body) > 2048 {
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError sends an OpenAI error body.
func writeError(w http.ResponseWriter, status int, msg, typ, param, code string) {
	b := getBuf()
	defer putBuf(b)
	*b = appendErrorBody((*b)[:0], msg, typ, param, code)
	writeBody(w, status, jsonContentType, *b)
}

// writeFault sends a status fault.
func (h *Handler) writeFault(w http.ResponseWriter, status int) {
	typ, code, msg := statusInfo(status)
	if status == http.StatusTooManyRequests {
		w.Header()["Retry-After"] = []string{strconv.Itoa(h.c.retryAfter)}
	}
	writeError(w, status, msg, typ, "", code)
}

// reset closes the client's connection abruptly: a TCP RST where the
// connection is TCP, an aborted stream otherwise.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: net/http resets the stream
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// serveStream sends s, flushing each event.
func (h *Handler) serveStream(ctx context.Context, w http.ResponseWriter, sl *sleeper, s *stream) {
	hdr := w.Header()
	hdr["Content-Type"] = sseContentType
	hdr["Cache-Control"] = noCache
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	b := getBuf()
	defer putBuf(b)
	for {
		d, st := s.pending()
		switch st {
		case stepEnd:
			return
		case stepStall:
			_ = rc.Flush()
			h.wait(ctx, sl, -1)
			return
		}
		if !h.wait(ctx, sl, d) {
			return
		}
		*b = s.emit((*b)[:0])
		if _, err := w.Write(*b); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}
