package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/semgate/semgate/gateway/auth"
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
	typePermission     = "permission_error"
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
	if ae := authAPIError(err); ae != nil {
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

// authAPIError maps the errors of access control (auth.go) and key
// management (adminkeys.go): 401 for a request's missing or refused key,
// 403 for what its key may not do, 401/403 for the admin guard, 404 for an
// unknown key id, 400 naming the first invalid setting. nil for other
// errors.
func authAPIError(err error) *apiError {
	switch {
	case errors.Is(err, auth.ErrMissing):
		return &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "missing_api_key",
			Message: "You didn't provide an API key. Send your semgate key as \"Authorization: Bearer sk-sg-...\" or in the x-api-key header."}
	case errors.Is(err, auth.ErrMalformed):
		return &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_api_key",
			Message: "Incorrect API key provided: semgate keys are \"sk-sg-\" and " + strconv.Itoa(auth.SecretLen-len(auth.SecretPrefix)) + " characters, sent as \"Authorization: Bearer KEY\" or \"x-api-key: KEY\"."}
	case errors.Is(err, auth.ErrUnknown):
		return &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_api_key",
			Message: "Incorrect API key provided."}
	case errors.Is(err, auth.ErrRevoked):
		return &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_api_key",
			Message: "The API key provided has been revoked."}
	case errors.Is(err, auth.ErrExpired):
		return &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_api_key",
			Message: "The API key provided has expired."}
	case errors.Is(err, errModelNotAllowed):
		return &apiError{Status: http.StatusForbidden, Type: typePermission, Code: "model_not_allowed", Param: "model",
			Message: "This API key may not use this model."}
	case errors.Is(err, errBypassNotAllowed):
		return &apiError{Status: http.StatusForbidden, Type: typePermission, Code: "cache_bypass_not_allowed",
			Message: "This API key may not bypass or refresh the cache (x-semgate-cache: off, Cache-Control: no-cache or max-age=0)."}
	case errors.Is(err, errAdminToken):
		return &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_admin_token",
			Message: "The admin API needs the admin token: \"Authorization: Bearer TOKEN\" (auth.admin_token)."}
	case errors.Is(err, errAdminLoopback):
		return &apiError{Status: http.StatusForbidden, Type: typePermission, Code: "admin_loopback_only",
			Message: "Without auth.admin_token the admin API answers only loopback clients that address it as localhost or a loopback IP."}
	case errors.Is(err, auth.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "key_not_found", Message: "No API key with that id."}
	}
	var ie *auth.InvalidError
	if errors.As(err, &ie) {
		ae := badRequest("", ie.Error())
		if len(ie.Problems) > 0 {
			ae.Param = ie.Problems[0].Field
		}
		return ae
	}
	return nil
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
