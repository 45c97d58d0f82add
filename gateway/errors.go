package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/route"
)

// apiError is an error semgate itself reports to a client, in OpenAI's
// shape.
type apiError struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
	// RetryAfter, in seconds, is sent as Retry-After when positive.
	RetryAfter int
}

func (e *apiError) Error() string { return "gateway: " + e.Message }

// OpenAI error types.
const (
	typeInvalidRequest = "invalid_request_error"
	typeNotFound       = "not_found_error"
	typeServer         = "server_error"
	typeUpstream       = "upstream_error"
	typeTimeout        = "timeout_error"
	typeRateLimit      = "rate_limit_error"
)

func badRequest(param, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: param, Message: msg}
}

// errClientGone marks a request whose client disconnected; nothing is
// written back.
var errClientGone = errors.New("gateway: client disconnected")

// toAPIError is the one place that decides the HTTP status and OpenAI
// error fields for any error the pipeline produces.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var re *route.Error
	if errors.As(err, &re) {
		return routeAPIError(re)
	}
	var pe *providers.Error
	if errors.As(err, &pe) {
		return upstreamAPIError(pe)
	}
	switch {
	case errors.Is(err, providers.ErrUnsupported):
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Type: typeTimeout, Message: "the request timed out"}
	}
	return &apiError{Status: http.StatusInternalServerError, Type: typeServer, Message: "internal error"}
}

// upstreamAPIError maps an upstream failure: the client's own mistakes
// that the upstream caught keep their 4xx status, rate limits stay 429,
// credentials problems and server failures become 502, timeouts 504.
func upstreamAPIError(pe *providers.Error) *apiError {
	ae := &apiError{Type: pe.Type, Code: pe.Code, Param: pe.Param, Message: pe.Message}
	if ae.Type == "" {
		ae.Type = typeUpstream
	}
	prefix := "upstream " + pe.Provider
	switch {
	case errors.Is(pe, providers.ErrUnsupported):
		ae.Status = http.StatusBadRequest
		ae.Type = typeInvalidRequest
		return ae
	case errors.Is(pe, providers.ErrTimeout):
		ae.Status = http.StatusGatewayTimeout
		ae.Type = typeTimeout
		ae.Message = prefix + " timed out: " + pe.Message
		return ae
	case errors.Is(pe, providers.ErrUnavailable), errors.Is(pe, providers.ErrBadResponse):
		ae.Status = http.StatusBadGateway
		ae.Type = typeUpstream
		ae.Message = prefix + ": " + pe.Message
		return ae
	}
	switch s := pe.Status; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		ae.Status = http.StatusBadGateway
		ae.Type = typeUpstream
		ae.Message = prefix + " rejected semgate's credentials (status " + strconv.Itoa(s) + "): " + pe.Message
	case s == http.StatusTooManyRequests:
		ae.Status = s
		ae.RetryAfter = pe.RetryAfter
		if ae.Type == typeUpstream {
			ae.Type = typeRateLimit
		}
	case s == http.StatusGatewayTimeout:
		ae.Status = s
		ae.Message = prefix + ": " + pe.Message
	case s >= 400 && s < 500:
		ae.Status = s
	default:
		ae.Status = http.StatusBadGateway
		ae.Message = prefix + " failed (status " + strconv.Itoa(s) + "): " + pe.Message
	}
	return ae
}

// routeAPIError maps a routing failure: a request no deployment can serve
// is the client's problem (400, context_length_exceeded when it is too
// long); no deployment in rotation is 503, or 429 when all sit out a rate
// limit, with Retry-After when a deployment is expected back.
func routeAPIError(re *route.Error) *apiError {
	switch {
	case errors.Is(re.Err, route.ErrContextLength):
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: "messages", Code: "context_length_exceeded", Message: re.Message}
	case errors.Is(re.Err, route.ErrCapability):
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "unsupported_feature", Message: re.Message}
	}
	ae := &apiError{Status: http.StatusServiceUnavailable, Type: typeUpstream, Code: "no_deployment_available", Message: re.Error()}
	if re.RateLimited {
		ae.Status, ae.Type, ae.Code = http.StatusTooManyRequests, typeRateLimit, "rate_limit_exceeded"
	}
	if re.RetryAfter > 0 {
		ae.RetryAfter = int((re.RetryAfter + time.Second - 1) / time.Second)
	}
	return ae
}

// writeError writes err as an OpenAI-shaped error body.
func writeError(w http.ResponseWriter, err *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(err.Status)
	w.Write(appendErrorJSON(make([]byte, 0, 128+len(err.Message)), err))
}

// appendErrorJSON appends {"error":{"message","type","param","code"}}.
func appendErrorJSON(b []byte, err *apiError) []byte {
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, err.Message)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, err.Type)
	b = append(b, `,"param":`...)
	b = appendNullable(b, err.Param)
	b = append(b, `,"code":`...)
	b = appendNullable(b, err.Code)
	return append(b, "}}"...)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}
