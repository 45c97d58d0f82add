package codec

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/semgate/semgate/providers/jsonx"
)

// Sentinel causes carried by *Error; test with errors.Is.
var (
	// ErrInvalid: the request is malformed for its own API (wrong JSON
	// type, missing required field, value out of range). The caller answers
	// 400 in that API's error shape.
	ErrInvalid = errors.New("codec: invalid request")
	// ErrUnsupported: the request is valid for its API but cannot be
	// translated to Chat Completions (a hosted tool, a stored-prompt
	// reference, top_k, extended thinking...). The caller may pass the
	// request through to an upstream that speaks the API natively, or
	// answer 400.
	ErrUnsupported = errors.New("codec: not translatable to chat completions")
	// ErrUpstream: a chat answer or chunk could not be understood. The
	// caller treats it like a malformed upstream response (502).
	ErrUpstream = errors.New("codec: malformed chat completions answer")
)

// Error is a request or answer problem, naming the field at fault.
type Error struct {
	// Param is the JSON path of the field at fault, in the request's own
	// API (e.g. "input[2].content[0].image_url", "messages[1].content[0].source"),
	// empty when the whole body is at fault.
	Param string
	// Code is a short machine-readable reason: "invalid_type",
	// "missing_required_parameter", "invalid_value",
	// "unsupported_parameter", "unknown_parameter", "bad_upstream_answer".
	Code string
	// Message is a sentence for the client.
	Message string
	// Err is ErrInvalid, ErrUnsupported or ErrUpstream.
	Err error
}

func (e *Error) Error() string {
	if e.Param != "" {
		return e.Param + ": " + e.Message
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// OpenAIBody renders e as an OpenAI error body (the Responses API's shape):
// {"error":{"message","type":"invalid_request_error","param","code"}}.
func (e *Error) OpenAIBody() []byte {
	typ := "invalid_request_error"
	if errors.Is(e.Err, ErrUpstream) {
		typ = "server_error"
	}
	b := append([]byte(nil), `{"error":{"message":`...)
	b = jsonx.AppendString(b, e.Error())
	b = append(b, `,"type":`...)
	b = jsonx.AppendString(b, typ)
	b = append(b, `,"param":`...)
	if e.Param == "" {
		b = append(b, "null"...)
	} else {
		b = jsonx.AppendString(b, e.Param)
	}
	b = append(b, `,"code":`...)
	if e.Code == "" {
		b = append(b, "null"...)
	} else {
		b = jsonx.AppendString(b, e.Code)
	}
	return append(b, "}}"...)
}

// AnthropicBody renders e in Anthropic's error shape,
// {"type":"error","error":{"type":"invalid_request_error","message":...}}
// (the message starts with the param path, as Anthropic's own do).
func (e *Error) AnthropicBody() []byte {
	status := http.StatusBadRequest
	if errors.Is(e.Err, ErrUpstream) {
		status = http.StatusBadGateway
	}
	return AnthropicErrorBody(status, "", e.Error())
}

// Status is the HTTP status for e: 400 for request problems, 502 for
// answers that could not be understood.
func (e *Error) Status() int {
	if errors.Is(e.Err, ErrUpstream) {
		return http.StatusBadGateway
	}
	return http.StatusBadRequest
}

// StatusOverloaded is Anthropic's status for overloaded_error.
const StatusOverloaded = 529

// AnthropicErrorType maps an HTTP status and, where the status says
// little (0, 200 mid-stream, or an unusual code), an OpenAI error type
// ("invalid_request_error", "rate_limit_error", "insufficient_quota",
// "authentication_error", "permission_error", "not_found_error",
// "server_error", ...) to Anthropic's error type.
func AnthropicErrorType(status int, openAIType string) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		if openAIType == "insufficient_quota" {
			return "billing_error"
		}
		return "rate_limit_error"
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return "timeout_error"
	case http.StatusServiceUnavailable, StatusOverloaded:
		return "overloaded_error"
	}
	switch openAIType {
	case "invalid_request_error", "invalid_request", "invalid_value", "unsupported_parameter":
		return "invalid_request_error"
	case "authentication_error", "invalid_api_key":
		return "authentication_error"
	case "permission_error", "permission_denied":
		return "permission_error"
	case "not_found_error", "not_found", "model_not_found":
		return "not_found_error"
	case "rate_limit_error", "rate_limit_exceeded":
		return "rate_limit_error"
	case "insufficient_quota":
		return "billing_error"
	case "overloaded_error", "overloaded":
		return "overloaded_error"
	case "timeout", "timeout_error":
		return "timeout_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// AnthropicErrorBody renders an error in Anthropic's shape,
// {"type":"error","error":{"type":...,"message":...}}, the type chosen by
// [AnthropicErrorType]. The caller keeps its HTTP status (Anthropic's
// clients retry 429, 5xx and 529 alike).
func AnthropicErrorBody(status int, openAIType, message string) []byte {
	b := append([]byte(nil), `{"type":"error","error":{"type":`...)
	b = jsonx.AppendString(b, AnthropicErrorType(status, openAIType))
	b = append(b, `,"message":`...)
	b = jsonx.AppendString(b, message)
	return append(b, "}}"...)
}

func invalidf(param, code, format string, args ...any) *Error {
	if code == "" {
		code = "invalid_value"
	}
	return &Error{Param: param, Code: code, Message: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

func unsupportedf(param, format string, args ...any) *Error {
	return &Error{Param: param, Code: "unsupported_parameter", Message: fmt.Sprintf(format, args...), Err: ErrUnsupported}
}

func upstreamf(format string, args ...any) *Error {
	return &Error{Code: "bad_upstream_answer", Message: "malformed chat completions answer: " + fmt.Sprintf(format, args...), Err: ErrUpstream}
}
