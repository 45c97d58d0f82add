package mock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/semgate/semgate/providers"
)

// Provider is the in-process mock upstream. It answers without a network,
// with the bytes the Handler would send, and reports faults as
// *providers.Error values. It is safe for concurrent use.
type Provider struct {
	name string
	c    *core
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Named    = (*Provider)(nil)
)

// New returns a Provider configured under name (default "mock") with
// opts, which must pass Validate.
func New(name string, opts Options) (*Provider, error) {
	c, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = DefaultModel
	}
	return &Provider{name: name, c: c}, nil
}

// Name returns the provider's configured name.
func (p *Provider) Name() string { return p.name }

// Stats returns the provider's counters.
func (p *Provider) Stats() Stats { return p.c.stats() }

// Header values, shared: net/http and callers replace values, never
// write into them.
var (
	jsonContentType = []string{"application/json"}
	sseContentType  = []string{"text/event-stream"}
	noCache         = []string{"no-cache"}
	textContentType = []string{"text/plain; charset=utf-8"}
)

// Do answers req; the body's "stream" field decides whether the answer
// streams. A bad request is a 400 *providers.Error wrapping
// ErrBadRequest; injected faults wrap ErrFault: a status fault is a
// *providers.Error with that Status (and RetryAfter on 429) wrapping
// providers.ErrStatus, "reset" one wrapping providers.ErrUnavailable, and
// "stall" blocks until ctx ends. "truncate" and "malformed" damage the
// body. A streamed body produces its events as it is read, with the
// configured delays, and stops when ctx ends or it is closed.
func (p *Provider) Do(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	p.c.requests.Add(1)
	switch req.Endpoint {
	case providers.EndpointChat, providers.EndpointCompletions, providers.EndpointEmbeddings:
	default:
		return nil, &providers.Error{Provider: p.name, Type: "invalid_request_error", Message: "the mock does not serve endpoint " + req.Endpoint.String(), Err: providers.ErrUnsupported}
	}
	var r request
	if err := parseRequest(req.Endpoint, req.Body, &r); err != nil {
		p.c.bad.Add(1)
		return nil, p.badRequest(err)
	}
	f := p.c.draw(&r)
	switch {
	case f.isStatus():
		return nil, p.statusError(int(f))
	case f == faultReset:
		return nil, &providers.Error{Provider: p.name, Type: "upstream_error", Message: "connection reset by peer", Err: fmt.Errorf("%w: %w", providers.ErrUnavailable, ErrFault)}
	case f == faultStall && !r.stream:
		<-ctx.Done()
		return nil, ctxError(ctx)
	}
	var sl sleeper
	if r.stream {
		if err := sl.sleep(ctx, nil, p.c.latency(&r, 0)); err != nil {
			return nil, err
		}
		return &providers.Response{
			Status: http.StatusOK,
			Header: http.Header{"Content-Type": sseContentType, "Cache-Control": noCache},
			Body:   newStreamBody(ctx, p.c.newStream(&r, f)),
		}, nil
	}
	body, pieces := p.c.render(make([]byte, 0, 1024), &r)
	if err := sl.sleep(ctx, nil, p.c.latency(&r, pieces)); err != nil {
		return nil, err
	}
	return &providers.Response{
		Status: http.StatusOK,
		Header: http.Header{"Content-Type": jsonContentType},
		Body:   io.NopCloser(bytes.NewReader(corruptBody(body, f))),
	}, nil
}

// badRequest turns a parse error into the 400 an upstream would give.
func (p *Provider) badRequest(err error) error {
	e := &providers.Error{Provider: p.name, Status: http.StatusBadRequest, Type: "invalid_request_error", Message: err.Error(), Err: fmt.Errorf("%w: %w", providers.ErrStatus, err)}
	if re := (*requestError)(nil); errors.As(err, &re) {
		e.Param, e.Code, e.Message = re.Param, re.Code, re.Message
	}
	return e
}

// statusError is the *providers.Error of a status fault.
func (p *Provider) statusError(status int) error {
	typ, code, msg := statusInfo(status)
	e := &providers.Error{Provider: p.name, Status: status, Type: typ, Code: code, Message: msg, Err: fmt.Errorf("%w: %w", providers.ErrStatus, ErrFault)}
	if status == http.StatusTooManyRequests {
		e.RetryAfter = p.c.retryAfter
	}
	return e
}
