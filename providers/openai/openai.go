// Package openai is the upstream adapter for any OpenAI-compatible server:
// OpenAI itself, Azure OpenAI, vLLM, Ollama, LM Studio, Together and the
// like.
//
// Requests and answers already are in OpenAI's wire format, so the adapter
// forwards the request body byte for byte and hands the upstream's body
// back untouched: fields semgate does not know pass through both ways.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/semgate/semgate/providers"
)

// DefaultBaseURL is OpenAI's public API root.
const DefaultBaseURL = "https://api.openai.com/v1"

// Options configures an OpenAI-compatible upstream. The zero value talks to
// OpenAI with no key.
type Options struct {
	providers.HTTPOptions `yaml:",inline"`
	// AuthHeader names the header carrying APIKey. Default "" sends
	// "Authorization: Bearer <key>"; any other name sends the raw key in
	// that header, e.g. "api-key" for Azure OpenAI.
	AuthHeader string `yaml:"auth_header"`
	// Query holds extra URL query parameters sent with every request, e.g.
	// {api-version: "2024-10-21"} for Azure OpenAI. Default: none.
	Query map[string]string `yaml:"query"`
	// Responses says the upstream serves OpenAI's Responses API (POST
	// /responses under the base URL): semgate's /v1/responses then passes
	// requests through to it instead of translating them to Chat
	// Completions. Default: false (vLLM, Ollama and most OpenAI-compatible
	// servers speak chat only).
	Responses bool `yaml:"responses"`
	// Client sends the requests; nil means a client on a shared transport
	// tuned for a gateway. For tests.
	Client *http.Client `yaml:"-"`
}

// Validate reports every problem with o at once.
func (o *Options) Validate() error {
	var errs []error
	if err := o.HTTPOptions.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.BaseURL != "" {
		if err := checkBaseURL(o.BaseURL); err != nil {
			errs = append(errs, fmt.Errorf("base_url: %w", err))
		}
	}
	if o.AuthHeader != "" && !validHeaderName(o.AuthHeader) {
		errs = append(errs, fmt.Errorf("auth_header: %q is not a valid header name", o.AuthHeader))
	}
	for _, k := range slices.Sorted(maps.Keys(o.Headers)) {
		if !validHeaderName(k) {
			errs = append(errs, fmt.Errorf("headers: %q is not a valid header name", k))
		}
		// The value is not quoted: it may be a credential.
		if strings.ContainsAny(o.Headers[k], "\r\n\x00") {
			errs = append(errs, fmt.Errorf("headers: %s: the value contains a line break or NUL", k))
		}
	}
	if _, ok := o.Query[""]; ok {
		errs = append(errs, errors.New("query: a parameter has an empty name"))
	}
	return errors.Join(errs...)
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error would repeat the URL, credentials included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("the scheme must be http or https")
	}
	if u.Host == "" {
		return errors.New("the URL has no host")
	}
	return nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Provider sends requests to one OpenAI-compatible upstream. It is safe for
// concurrent use.
type Provider struct {
	name string
	// urls holds each endpoint's full URL, indexed by providers.Endpoint;
	// "" for endpoints it does not know.
	urls [providers.EndpointEmbeddings + 1]string
	// responses is the Responses API's URL, "" when the upstream does not
	// serve it (Options.Responses).
	responses string
	// header holds the headers of every request, Accept set for a JSON
	// answer ([0]) or a stream ([1]); the key is added per request.
	header [2]http.Header
	// authName and auth are the authentication header, auth holding the
	// key; authName is "" when there is no key.
	authName string
	auth     providers.Secret
	key      providers.Secret
	client   providers.HTTPClient
}

// New returns a provider named name with opts, which it validates.
func New(name string, opts Options) (*Provider, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("openai provider %q: %w", name, err)
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("openai provider %q: base_url: %w", name, err)
	}
	if len(opts.Query) > 0 {
		q := u.Query()
		for k, v := range opts.Query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode() // sorted by key
	}
	p := &Provider{
		name: name,
		key:  opts.APIKey,
		client: providers.HTTPClient{
			Name:    name,
			Client:  opts.Client,
			Options: opts.HTTPOptions,
		},
	}
	p.client.ParseError = p.parseError
	for _, ep := range []providers.Endpoint{providers.EndpointChat, providers.EndpointCompletions, providers.EndpointEmbeddings} {
		p.urls[ep] = u.JoinPath(ep.Path()).String()
	}
	if opts.Responses {
		p.responses = u.JoinPath("/responses").String()
	}
	h := make(http.Header, len(opts.Headers)+3)
	for k, v := range opts.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	p.header[0], p.header[1] = h.Clone(), h
	p.header[0].Set("Accept", "application/json")
	p.header[1].Set("Accept", "text/event-stream")
	if key := opts.APIKey.Reveal(); key != "" {
		if opts.AuthHeader == "" {
			p.authName, p.auth = "Authorization", providers.Secret("Bearer "+key)
		} else {
			p.authName, p.auth = http.CanonicalHeaderKey(opts.AuthHeader), opts.APIKey
		}
		// A configured header of the same name would be sent alongside.
		delete(p.header[0], p.authName)
		delete(p.header[1], p.authName)
	}
	return p, nil
}

// Name returns the name the provider was configured under.
func (p *Provider) Name() string { return p.name }

// String describes the provider without its credentials.
func (p *Provider) String() string { return "openai provider " + p.name }

// GoString keeps %#v from printing the provider's fields.
func (p *Provider) GoString() string { return "openai.Provider(" + p.name + ")" }

// Do sends req to the upstream: a POST of req.Body, byte for byte, to the
// endpoint's path under the base URL. The answer's body is the upstream's,
// untouched.
func (p *Provider) Do(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	var target string
	if int(req.Endpoint) < len(p.urls) {
		target = p.urls[req.Endpoint]
	}
	if target == "" {
		return nil, &providers.Error{Provider: p.name, Type: "invalid_request_error",
			Message: "endpoint " + req.Endpoint.String() + " is not supported", Err: providers.ErrUnsupported}
	}
	resp, err := p.send(ctx, target, req.Body, req.Stream, req.RequestID)
	if err != nil {
		return nil, err
	}
	return &providers.Response{Status: resp.StatusCode, Header: safeHeader(resp.Header), Body: resp.Body}, nil
}

// send POSTs body to target with the provider's headers and key.
func (p *Provider) send(ctx context.Context, target string, body []byte, stream bool, requestID string) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, &providers.Error{Provider: p.name, Type: "upstream_error",
			Message: "building the upstream request failed", Err: fmt.Errorf("%w: %v", providers.ErrUnavailable, err)}
	}
	accept := 0
	if stream {
		accept = 1
	}
	// A copy per request: http.Client may add headers (cookies).
	hr.Header = p.header[accept].Clone()
	if p.authName != "" {
		hr.Header[p.authName] = []string{p.auth.Reveal()}
	}
	if requestID != "" {
		hr.Header["X-Request-Id"] = []string{requestID}
	}
	return p.client.Send(ctx, hr)
}

// safeHeader returns the upstream response headers worth passing on to a
// client: the content type, OpenAI's timing and version, and rate limits.
// Cookies, credentials and upstream account details stay behind.
func safeHeader(h http.Header) http.Header {
	out := make(http.Header, 8)
	for k, v := range h {
		switch {
		case k == "Content-Type", k == "Openai-Processing-Ms", k == "Openai-Version", k == "X-Request-Id",
			strings.HasPrefix(k, "X-Ratelimit-"):
			out[k] = v
		}
	}
	return out
}
