package gateway

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
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
