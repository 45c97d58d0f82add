package gateway

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// readBody checks the content type and reads the request body within the
// size limit: 415 for a non-JSON content type, 413 over the limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONContentType(ct) {
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Type: typeInvalidRequest, Code: "unsupported_media_type",
			Message: "Content-Type must be application/json, not " + strconv.Quote(ct)}
	}
	if r.ContentLength > s.maxBody {
		return nil, s.tooLarge()
	}
	rd := http.MaxBytesReader(w, r.Body, s.maxBody)
	var body []byte
	var err error
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, s.tooLarge()
		}
		// net/http cancels the context on any read error; a client too
		// slow for server.read_timeout, or one that stopped short of its
		// Content-Length, may still be reading: tell it why.
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &apiError{Status: http.StatusRequestTimeout, Type: typeInvalidRequest, Code: "request_timeout",
				Message: "the request body did not arrive within " + orDuration(s.cfg.Server.ReadTimeout, DefaultReadTimeout).String() + " (server.read_timeout)"}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, badRequest("", "the request body ended before its Content-Length")
		}
		if r.Context().Err() != nil {
			return nil, errClientGone
		}
		return nil, badRequest("", "could not read the request body: "+err.Error())
	}
	return body, nil
}

func (s *Server) tooLarge() *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest, Code: "request_too_large",
		Message: "the request body exceeds the limit of " + strconv.FormatInt(s.maxBody, 10) + " bytes"}
}

// isJSONContentType accepts application/json and any +json type, with
// parameters, case-insensitively.
func isJSONContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "application/json") ||
		(len(mt) > 5 && strings.EqualFold(mt[len(mt)-5:], "+json"))
}

// Bounds on discarding a request body a handler left unread (linger).
const (
	// LingerBytes is the most unread request body, in bytes, read and
	// discarded after the answer: 16 MiB. A body known to be longer is not
	// read at all.
	LingerBytes = 16 << 20
	// LingerTimeout bounds the time spent discarding it: 5 seconds.
	LingerTimeout = 5 * time.Second
)

// linger reads and discards, within LingerBytes and LingerTimeout, what
// is left of a request body once the handler has answered (a 413, a 415,
// a 404, ...), as nginx's lingering close does. A client that writes its
// whole body before reading (Python's http.client and the SDKs built on
// it) would otherwise have its connection reset under it, and never see
// its error. The answer goes out when the handler returns, after this.
func linger(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 1 || r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r) // HTTP/2 streams are reset, not connections
			return
		}
		b := &lingerBody{rc: r.Body}
		// A copy: net/http inspects the original request's Body afterwards.
		rb := r.WithContext(r.Context())
		rb.Body = b
		next.ServeHTTP(w, rb)
		b.discard(w, r)
	})
}

// lingerBody is a request body that knows how much of it was read.
type lingerBody struct {
	rc     io.ReadCloser
	read   int64
	used   bool // Read was called
	eof    bool
	failed bool // a Read failed: a timeout, a short body, a reset
}

func (b *lingerBody) Read(p []byte) (int, error) {
	b.used = true
	n, err := b.rc.Read(p)
	b.read += int64(n)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.failed = true
	}
	return n, err
}

func (b *lingerBody) Close() error { return b.rc.Close() }

// discard reads the rest of the body within the bounds; past them the
// connection is closed after the answer, as before.
func (b *lingerBody) discard(w http.ResponseWriter, r *http.Request) {
	switch {
	case b.eof, r.ContentLength > 0 && b.read >= r.ContentLength:
		return
	case b.failed:
		return // past server.read_timeout, or gone: answer now, then close
	case !b.used && strings.EqualFold(r.Header.Get("Expect"), "100-continue"):
		return // the client waits for "100 Continue" before sending; it will not get one
	case r.ContentLength > 0 && r.ContentLength-b.read > LingerBytes:
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(LingerTimeout)) != nil {
		return // no way to bound the wait
	}
	io.CopyN(io.Discard, b.rc, LingerBytes)
}
