package mock

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrOptions: Options failed validation.
	ErrOptions = errors.New("mock: invalid options")
	// ErrBadRequest: the request was not a valid OpenAI request. In-process it
	// is wrapped by a 400 *providers.Error.
	ErrBadRequest = errors.New("mock: bad request")
	// ErrFault: the failure was injected on purpose.
	ErrFault = errors.New("mock: injected fault")
	// ErrClosed: a response body was read after Close, or a Handler was
	// closed while it was waiting.
	ErrClosed = errors.New("mock: closed")
)

// requestError is an OpenAI invalid_request_error.
type requestError struct {
	Param, Code, Message string
}

func (e *requestError) Error() string { return "mock: bad request: " + e.Message }
func (e *requestError) Unwrap() error { return ErrBadRequest }

// ctxError reports why ctx ended, keeping both its error and its cause.
func ctxError(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || cause == err {
		return fmt.Errorf("mock: %w", err)
	}
	return fmt.Errorf("mock: %w: %w", err, cause)
}
