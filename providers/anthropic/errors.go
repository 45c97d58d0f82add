package anthropic

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/semgate/semgate/providers"
)

// ErrInvalidRequest is wrapped, together with [providers.ErrUnsupported],
// by errors about requests that are malformed rather than merely
// untranslatable: wrong JSON types, tool call arguments that are not a JSON
// object, unparsable data: URLs.
var ErrInvalidRequest = errors.New("anthropic: invalid request")

// StatusOverloaded is the status Anthropic answers with when it is
// overloaded (error type overloaded_error).
const StatusOverloaded = 529

// errorKind describes one Anthropic error type in OpenAI's vocabulary.
type errorKind struct {
	anthropic string // Anthropic's error.type
	openAI    string // OpenAI's error.type
	code      string // OpenAI's error.code
	status    int    // the HTTP status Anthropic uses for it
}

// errorKinds lists Anthropic's documented error types.
var errorKinds = [...]errorKind{
	{"invalid_request_error", "invalid_request_error", "", http.StatusBadRequest},
	{"authentication_error", "invalid_request_error", "invalid_api_key", http.StatusUnauthorized},
	{"billing_error", "insufficient_quota", "insufficient_quota", http.StatusPaymentRequired},
	{"permission_error", "invalid_request_error", "permission_denied", http.StatusForbidden},
	{"not_found_error", "invalid_request_error", "not_found", http.StatusNotFound},
	{"request_too_large", "invalid_request_error", "request_too_large", http.StatusRequestEntityTooLarge},
	{"rate_limit_error", "rate_limit_error", "rate_limit_exceeded", http.StatusTooManyRequests},
	{"api_error", "server_error", "", http.StatusInternalServerError},
	{"timeout_error", "server_error", "timeout", http.StatusGatewayTimeout},
	{"overloaded_error", "server_error", "overloaded", StatusOverloaded},
}

func lookupErrorKind(anthropicType string) (errorKind, bool) {
	for _, k := range errorKinds {
		if k.anthropic == anthropicType {
			return k, true
		}
	}
	return errorKind{}, false
}

// parseError fills e from an Anthropic error body,
// {"type":"error","error":{"type":"overloaded_error","message":"..."}}.
// A body of another shape leaves e untouched, so the HTTP client falls back
// to the status text and raw body.
func parseError(body []byte, e *providers.Error) {
	if !gjson.ValidBytes(body) {
		return
	}
	root := gjson.ParseBytes(body)
	errObj := root.Get("error")
	if !errObj.IsObject() {
		return
	}
	applyErrorObject(errObj, e)
}

// applyErrorObject translates Anthropic's inner error object into e.
func applyErrorObject(errObj gjson.Result, e *providers.Error) {
	typ := errObj.Get("type")
	msg := errObj.Get("message")
	if typ.Type == gjson.String {
		if k, ok := lookupErrorKind(typ.Str); ok {
			e.Type, e.Code = k.openAI, k.code
		} else {
			e.Type, e.Code = "upstream_error", typ.Str
		}
	}
	if msg.Type == gjson.String {
		e.Message = msg.Str
	}
}

// streamError translates an Anthropic "error" event received mid-stream.
// The HTTP status was 200 by then, so Status is the one Anthropic uses for
// that error type outside streams (529 for overloaded_error), which keeps
// Retryable meaningful.
func streamError(name string, data []byte) error {
	e := &providers.Error{
		Provider: name,
		Status:   http.StatusInternalServerError,
		Type:     "upstream_error",
		Message:  "the upstream reported an error mid-stream",
		Err:      fmt.Errorf("%w: error event in stream", providers.ErrStatus),
	}
	errObj := gjson.GetBytes(data, "error")
	if errObj.IsObject() {
		if k, ok := lookupErrorKind(errObj.Get("type").String()); ok {
			e.Status = k.status
		}
		applyErrorObject(errObj, e)
	}
	return e
}

// badResponse reports an upstream answer that cannot be understood.
func badResponse(name string, status int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &providers.Error{
		Provider: name,
		Status:   status,
		Type:     "upstream_error",
		Message:  "malformed upstream response: " + msg,
		Err:      fmt.Errorf("%w: %s", providers.ErrBadResponse, msg),
	}
}

// unsupported reports a request feature Anthropic cannot honour.
func unsupported(name, param, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &providers.Error{
		Provider: name,
		Type:     "invalid_request_error",
		Code:     "unsupported_parameter",
		Param:    param,
		Message:  msg,
		Err:      fmt.Errorf("anthropic: %s: %w", msg, providers.ErrUnsupported),
	}
}

// invalid reports a malformed request.
func invalid(name, param, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &providers.Error{
		Provider: name,
		Type:     "invalid_request_error",
		Code:     "invalid_value",
		Param:    param,
		Message:  msg,
		Err:      fmt.Errorf("%w: %s: %w", ErrInvalidRequest, msg, providers.ErrUnsupported),
	}
}
