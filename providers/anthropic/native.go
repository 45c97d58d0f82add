package anthropic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/semgate/semgate/providers"
)

var (
	_ providers.Native       = (*Provider)(nil)
	_ providers.TokenCounter = (*Provider)(nil)
)

// forwardedHeaders are the client headers a pass-through forwards as
// sent, in canonical form.
var forwardedHeaders = [...]string{"Anthropic-Version", "Anthropic-Beta"}

// Speaks reports whether api is the Messages API, which Anthropic takes
// as it is.
func (p *Provider) Speaks(api providers.API) bool { return api == providers.APIMessages }

// DoNative passes a Messages request through: req.Body is sent as it is,
// with the client's anthropic-version and anthropic-beta headers. The
// upstream's answer goes to req.Raw byte for byte; the returned Body is
// its chat translation, usage always included in a stream. Content chat
// cannot carry (thinking, server tool blocks) is left out of the
// translation.
func (p *Provider) DoNative(ctx context.Context, req *providers.NativeRequest) (*providers.Response, error) {
	if req == nil || req.API != providers.APIMessages {
		return nil, unsupported(p.name, "", "Anthropic takes only Messages requests natively")
	}
	resp, err := p.send(ctx, p.url, req.Body, req.Stream, req.Header)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	if id := resp.Header.Get("Request-Id"); id != "" {
		header.Set("Request-Id", id)
	}
	created := p.now().Unix()
	raw := req.Raw
	if raw == nil {
		raw = io.Discard
	}
	if req.Stream {
		header.Set("Content-Type", "text/event-stream")
		header.Set("Cache-Control", "no-cache")
		body := &teeBody{r: io.TeeReader(resp.Body, raw), c: resp.Body}
		return &providers.Response{
			Status: resp.StatusCode,
			Header: header,
			Body:   newStream(p.name, body, modeChat, req.Model, created, true),
		}, nil
	}
	data, err := p.readAnswer(ctx, resp)
	if err != nil {
		return nil, err
	}
	out, err := chatResponse(p.name, resp.StatusCode, data, req.Model, created)
	if err != nil {
		return nil, err
	}
	raw.Write(data)
	header.Set("Content-Type", "application/json")
	return &providers.Response{Status: resp.StatusCode, Header: header, Body: io.NopCloser(bytes.NewReader(out))}, nil
}

// CountTokens asks Anthropic's POST /v1/messages/count_tokens.
func (p *Provider) CountTokens(ctx context.Context, req *providers.NativeRequest) ([]byte, error) {
	if req == nil || req.API != providers.APIMessages {
		return nil, unsupported(p.name, "", "Anthropic counts only Messages requests")
	}
	resp, err := p.send(ctx, strings.TrimSuffix(p.url, "/messages")+"/messages/count_tokens", req.Body, false, req.Header)
	if err != nil {
		return nil, err
	}
	data, err := p.readAnswer(ctx, resp)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return nil, badResponse(p.name, resp.StatusCode, "count_tokens answer is not a JSON object")
	}
	return data, nil
}

// readAnswer reads a whole 2xx answer body, bounded by MaxResponseBody.
func (p *Provider) readAnswer(ctx context.Context, resp *http.Response) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	resp.Body.Close()
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) || ctx.Err() != nil {
			return nil, err
		}
		return nil, &providers.Error{Provider: p.name, Status: resp.StatusCode, Type: "upstream_error", Message: "reading the upstream answer failed", Err: fmt.Errorf("%w: %v", providers.ErrUnavailable, err)}
	}
	if len(data) > MaxResponseBody {
		return nil, badResponse(p.name, resp.StatusCode, "answer larger than %d bytes", MaxResponseBody)
	}
	return data, nil
}

// teeBody is an upstream body whose reads are copied to a writer.
type teeBody struct {
	r io.Reader
	c io.Closer
}

func (b *teeBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *teeBody) Close() error               { return b.c.Close() }
