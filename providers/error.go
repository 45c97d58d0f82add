package providers

import (
	"errors"
	"strconv"
)

// Sentinel causes carried by *Error; test with errors.Is.
var (
	// ErrTimeout: the upstream did not answer in time.
	ErrTimeout = errors.New("providers: upstream timeout")
	// ErrUnavailable: the upstream could not be reached (connection refused,
	// reset, DNS, TLS).
	ErrUnavailable = errors.New("providers: upstream unavailable")
	// ErrStatus: the upstream answered with a non-2xx status.
	ErrStatus = errors.New("providers: upstream error status")
	// ErrBadResponse: the upstream's answer could not be understood
	// (malformed JSON, truncated stream, unexpected shape).
	ErrBadResponse = errors.New("providers: malformed upstream response")
	// ErrUnsupported: the provider does not support the endpoint or a
	// feature the request uses. It is the client's problem, not the
	// upstream's.
	ErrUnsupported = errors.New("providers: unsupported by this provider")
)

// Error describes a failed upstream call. The gateway turns it into the
// client's HTTP status in one place; Error only records what happened.
type Error struct {
	// Provider is the configured provider name.
	Provider string
	// Status is the upstream's HTTP status, 0 when there was no answer.
	Status int
	// Type, Code, Param and Message come from the upstream's error body when
	// it had one (translated to OpenAI's vocabulary), or describe the
	// failure otherwise.
	Type, Code, Param, Message string
	// RetryAfter is the upstream's Retry-After in seconds, 0 if none.
	RetryAfter int
	// Err is the cause: one of the sentinels above, possibly wrapping more.
	Err error
}

func (e *Error) Error() string {
	s := "upstream " + e.Provider
	if e.Status != 0 {
		s += " status " + strconv.Itoa(e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed when sent again,
// to this or another deployment: connection failures, timeouts, 408, 409,
// 429 and 5xx.
func (e *Error) Retryable() bool {
	if errors.Is(e.Err, ErrUnavailable) || errors.Is(e.Err, ErrTimeout) {
		return true
	}
	switch e.Status {
	case 408, 409, 429, 500, 502, 503, 504, 529: // 529: Anthropic overloaded
		return true
	}
	return false
}
