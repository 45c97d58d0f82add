package gateway

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/semgate/semgate/semcache/answer"
)

// storedAnswer is an answer as the upstream sent it: a JSON body, or (when
// stream) a stream's events in answer's stored form.
type storedAnswer struct {
	kind   string
	stream bool
	body   []byte
}

var sseBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writeAnswer writes a stored answer in the form the client asked for,
// converting it when the forms differ (the caller knows the conversion is
// lossless: it was checked when the answer was stored). It reports
// whether the headers (status 200) were written, also with an error.
func (s *Server) writeAnswer(w http.ResponseWriter, ex *exchange, a storedAnswer) (wroteHeader bool, err error) {
	h := w.Header()
	if !ex.req.stream {
		body := a.body
		if a.stream {
			if body, err = answer.AssembleStored(a.kind, a.body); err != nil {
				return false, err
			}
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write(body); err != nil {
			return true, errClientGone
		}
		return true, nil
	}
	bp := sseBufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 {
			sseBufPool.Put(bp)
		}
	}()
	if a.stream {
		*bp, err = answer.AppendStoredSSE((*bp)[:0], a.body, ex.req.includeUsage)
	} else {
		*bp, err = answer.AppendStreamSSE((*bp)[:0], a.kind, a.body, ex.req.includeUsage)
	}
	if err != nil {
		return false, err
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(*bp); err != nil {
		return true, errClientGone
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return true, nil
}
