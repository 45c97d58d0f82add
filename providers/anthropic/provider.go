package anthropic

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/semgate/semgate/providers"
)

// MaxResponseBody bounds a non-streamed answer: 32 MiB.
const MaxResponseBody = 32 << 20

// Provider sends OpenAI-format requests to one Anthropic account. It is
// safe for concurrent use.
type Provider struct {
	name    string
	opts    Options
	url     string
	headers [][2]string // Options.Headers, sorted by name
	client  providers.HTTPClient
	tr      translator
	now     func() time.Time // for created; tests pin it
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Named    = (*Provider)(nil)
)

// New returns a Provider for the named upstream, or an error listing every
// problem with opts.
func New(name string, opts Options) (*Provider, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("anthropic: provider %q: %w", name, err)
	}
	p := &Provider{
		name: name,
		opts: opts,
		url:  opts.endpoint(),
		client: providers.HTTPClient{
			Name:       name,
			Options:    opts.HTTPOptions,
			ParseError: parseError,
		},
		tr:  translator{name: name, maxTokens: opts.maxTokens()},
		now: time.Now,
	}
	for k, v := range opts.Headers {
		p.headers = append(p.headers, [2]string{k, v})
	}
	slices.SortFunc(p.headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return p, nil
}

// send POSTs body to url with the account's headers and key. hdr, when
// not nil, holds the client's anthropic-version and anthropic-beta, which
// replace the configured ones.
func (p *Provider) send(ctx context.Context, url string, body []byte, stream bool, hdr http.Header) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &providers.Error{Provider: p.name, Type: "upstream_error", Message: "building the upstream request failed", Err: fmt.Errorf("%w: %v", providers.ErrUnavailable, err)}
	}
	for _, h := range p.headers {
		hreq.Header.Set(h[0], h[1])
	}
	if key := p.opts.APIKey.Reveal(); key != "" {
		hreq.Header.Set("X-Api-Key", key)
	} else {
		hreq.Header.Del("X-Api-Key")
	}
	hreq.Header.Set("Anthropic-Version", p.opts.version())
	for _, name := range forwardedHeaders {
		if v := hdr.Values(name); len(v) > 0 {
			hreq.Header[name] = v
		}
	}
	hreq.Header.Set("Content-Type", "application/json")
	if stream {
		hreq.Header.Set("Accept", "text/event-stream")
	} else {
		hreq.Header.Set("Accept", "application/json")
	}
	return p.client.Send(ctx, hreq)
}

// Name returns the name the provider was configured under.
func (p *Provider) Name() string { return p.name }

// Do translates req to a Messages request, sends it, and translates the
// answer back to OpenAI's format. Requests Anthropic cannot honour fail
// before anything is sent, with a *providers.Error wrapping
// providers.ErrUnsupported.
func (p *Provider) Do(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	if req == nil {
		return nil, invalid(p.name, "", "nil request")
	}
	var (
		t    *translated
		err  error
		mode streamMode
	)
	switch req.Endpoint {
	case providers.EndpointChat:
		t, err = p.tr.chat(req.Body)
		mode = modeChat
	case providers.EndpointCompletions:
		t, err = p.tr.completion(req.Body)
		mode = modeCompletion
	case providers.EndpointEmbeddings:
		return nil, unsupported(p.name, "", "Anthropic has no embeddings endpoint")
	default:
		return nil, unsupported(p.name, "", "endpoint %s is not supported", req.Endpoint)
	}
	if err != nil {
		return nil, err
	}
	if req.Model != "" {
		t.req.Model = req.Model
	}
	if t.req.Model == "" {
		return nil, invalid(p.name, "model", "model is required")
	}
	t.req.Stream = req.Stream
	body, err := marshal(&t.req)
	if err != nil {
		return nil, err
	}

	resp, err := p.send(ctx, p.url, body, req.Stream, nil)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	if id := resp.Header.Get("Request-Id"); id != "" {
		header.Set("Request-Id", id)
	}
	created := p.now().Unix()
	if req.Stream {
		header.Set("Content-Type", "text/event-stream")
		header.Set("Cache-Control", "no-cache")
		return &providers.Response{
			Status: resp.StatusCode,
			Header: header,
			Body:   newStream(p.name, resp.Body, mode, t.req.Model, created, t.includeUsage),
		}, nil
	}

	data, err := p.readAnswer(ctx, resp)
	if err != nil {
		return nil, err
	}
	var out []byte
	if mode == modeChat {
		out, err = chatResponse(p.name, resp.StatusCode, data, t.req.Model, created)
	} else {
		out, err = completionResponse(p.name, resp.StatusCode, data, t.req.Model, created)
	}
	if err != nil {
		return nil, err
	}
	header.Set("Content-Type", "application/json")
	return &providers.Response{Status: resp.StatusCode, Header: header, Body: io.NopCloser(bytes.NewReader(out))}, nil
}
