package openai

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/codec"
)

var _ providers.Native = (*Provider)(nil)

// Speaks reports whether api is the Responses API and the upstream serves
// it (Options.Responses).
func (p *Provider) Speaks(api providers.API) bool {
	return api == providers.APIResponses && p.responses != ""
}

// DoNative passes a Responses request through to the upstream's
// /responses, byte for byte. The upstream's answer goes to req.Raw as it
// is; the returned Body is its Chat Completions translation
// (codec.ChatFromResponse, codec.ChatStreamFromResponses).
func (p *Provider) DoNative(ctx context.Context, req *providers.NativeRequest) (*providers.Response, error) {
	if req == nil || !p.Speaks(req.API) {
		return nil, &providers.Error{Provider: p.name, Type: "invalid_request_error",
			Message: "this upstream does not serve the Responses API (set responses: true)", Err: providers.ErrUnsupported}
	}
	resp, err := p.send(ctx, p.responses, req.Body, req.Stream, req.RequestID)
	if err != nil {
		return nil, err
	}
	raw := req.Raw
	if raw == nil {
		raw = io.Discard
	}
	header := safeHeader(resp.Header)
	if req.Stream {
		header.Set("Content-Type", "text/event-stream")
		body := struct {
			io.Reader
			io.Closer
		}{io.TeeReader(resp.Body, raw), resp.Body}
		return &providers.Response{Status: resp.StatusCode, Header: header, Body: codec.ChatStreamFromResponses(body)}, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	resp.Body.Close()
	if err != nil {
		return nil, p.bodyError(ctx, resp.StatusCode, err)
	}
	if len(data) > maxAnswer {
		return nil, p.badAnswer(resp.StatusCode, "the answer exceeds the size semgate reads")
	}
	chat, err := codec.ChatFromResponse(data)
	if err != nil {
		return nil, p.badAnswer(resp.StatusCode, err.Error())
	}
	raw.Write(data)
	header.Set("Content-Type", "application/json")
	return &providers.Response{Status: resp.StatusCode, Header: header, Body: io.NopCloser(bytes.NewReader(chat))}, nil
}

// maxAnswer bounds a Responses JSON answer read whole: 32 MiB.
const maxAnswer = 32 << 20

func (p *Provider) badAnswer(status int, msg string) error {
	return &providers.Error{Provider: p.name, Status: status, Type: "upstream_error", Message: msg, Err: providers.ErrBadResponse}
}

func (p *Provider) bodyError(ctx context.Context, status int, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var pe *providers.Error
	if errors.As(err, &pe) {
		return err
	}
	return &providers.Error{Provider: p.name, Status: status, Type: "upstream_error",
		Message: "reading the upstream answer failed: " + err.Error(), Err: providers.ErrUnavailable}
}
