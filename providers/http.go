package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPOptions configures an HTTP upstream; the openai and anthropic adapters
// embed it. The zero value means defaults.
type HTTPOptions struct {
	// BaseURL is the API root, e.g. "https://api.openai.com/v1". Default:
	// the adapter's public endpoint.
	BaseURL string `yaml:"base_url"`
	// APIKey authenticates semgate to the upstream. Usually "${ENV_VAR}".
	APIKey Secret `yaml:"api_key"`
	// Headers are extra headers sent with every upstream request (e.g. an
	// organization id). Default: none.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds the wait for the upstream's response headers, which for
	// a non-streamed answer is the whole generation. Default: 120s.
	Timeout time.Duration `yaml:"timeout"`
	// IdleTimeout bounds the silence between two reads of a response body
	// (a stalled stream). Default: 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// Defaults for HTTPOptions.
const (
	DefaultTimeout     = 120 * time.Second
	DefaultIdleTimeout = 60 * time.Second
)

// Validate reports every problem with o at once.
func (o *HTTPOptions) Validate() error {
	var errs []error
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must not be negative"))
	}
	if o.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("idle_timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

func (o *HTTPOptions) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func (o *HTTPOptions) idleTimeout() time.Duration {
	if o.IdleTimeout > 0 {
		return o.IdleTimeout
	}
	return DefaultIdleTimeout
}

// NewTransport returns an http.Transport tuned for a gateway: many idle
// connections per upstream host (the default of 2 makes a busy gateway open
// a connection per request), bounded dial and TLS handshakes.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// MaxErrorBody bounds how much of an upstream error body is read.
const MaxErrorBody = 1 << 20

// HTTPClient sends requests to one HTTP upstream with semgate's timeout
// rules and error mapping. Adapters build the *http.Request; Send does the
// rest.
type HTTPClient struct {
	// Name is the provider name recorded in errors.
	Name string
	// Client sends the requests; nil means a client on a shared tuned
	// transport.
	Client *http.Client
	// Options supplies the timeouts.
	Options HTTPOptions
	// ParseError turns a non-2xx body into e's Type, Code, Param and
	// Message; nil leaves the body's text as the message.
	ParseError func(body []byte, e *Error)
}

var sharedClient = &http.Client{Transport: NewTransport()}

// Send performs req. On a 2xx answer it returns the response, whose body
// enforces the idle timeout and cancels the request when closed. Otherwise
// it returns an *Error and the response is already closed.
func (c *HTTPClient) Send(ctx context.Context, req *http.Request) (*http.Response, error) {
	client := c.Client
	if client == nil {
		client = sharedClient
	}
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(c.Options.timeout(), func() { cancel(ErrTimeout) })
	resp, err := client.Do(req.WithContext(ctx))
	if !timer.Stop() && err == nil {
		// The deadline fired just as headers arrived; honour it.
		resp.Body.Close()
		err = ErrTimeout
	}
	if err != nil {
		err = c.transportError(ctx, err)
		cancel(nil)
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel(nil)
		defer resp.Body.Close()
		return nil, c.statusError(resp)
	}
	idle := c.Options.idleTimeout()
	b := &watchedBody{rc: resp.Body, cancel: cancel, ctx: ctx, c: c}
	b.timer = time.AfterFunc(idle, func() { cancel(ErrTimeout) })
	b.idle = idle
	resp.Body = b
	return resp, nil
}

// transportError maps a failure to reach the upstream to *Error. The
// *url.Error that http.Client returns repeats the URL, whose query may
// carry a credential: that part is redacted.
func (c *HTTPClient) transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	if errors.Is(err, ErrTimeout) || errors.Is(context.Cause(ctx), ErrTimeout) {
		return &Error{Provider: c.Name, Type: "upstream_timeout", Message: "the upstream did not answer in time", Err: ErrTimeout}
	}
	if errors.Is(context.Cause(ctx), context.Canceled) {
		// The client went away; not the upstream's fault.
		return fmt.Errorf("providers: %s: %w", c.Name, context.Canceled)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Provider: c.Name, Type: "upstream_timeout", Message: "the upstream did not answer in time", Err: fmt.Errorf("%w: %v", ErrTimeout, err)}
	}
	return &Error{Provider: c.Name, Type: "upstream_error", Message: "the upstream could not be reached", Err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
}

// statusError reads a non-2xx answer into *Error.
func (c *HTTPClient) statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	e := &Error{Provider: c.Name, Status: resp.StatusCode, Type: "upstream_error", Err: ErrStatus}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(ra); err == nil && n >= 0 {
			e.RetryAfter = n
		} else if t, err := http.ParseTime(ra); err == nil {
			if d := time.Until(t); d > 0 {
				e.RetryAfter = int(d.Seconds() + 0.5)
			}
		}
	}
	if c.ParseError != nil {
		c.ParseError(body, e)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
		if len(body) > 0 && len(body) < 512 {
			e.Message += ": " + string(body)
		}
	}
	// Upstreams sometimes echo the key they rejected, or the URL they
	// were asked with its query (which may hold a key); never pass either
	// on.
	secrets := []string{c.Options.APIKey.Reveal()}
	if resp.Request != nil && resp.Request.URL != nil {
		for _, vs := range resp.Request.URL.Query() {
			for _, v := range vs {
				secrets = append(secrets, v, url.QueryEscape(v))
			}
		}
	}
	for _, k := range secrets {
		if len(k) < 4 {
			continue
		}
		for _, f := range []*string{&e.Message, &e.Type, &e.Code, &e.Param} {
			*f = strings.ReplaceAll(*f, k, "[redacted]")
		}
	}
	return e
}

// RedactURL returns the URL raw with the values of its query parameters
// and its password, if any, redacted: a URL may carry a credential
// (?api-key=..., a signature), and URLs reach logs, errors and `semgate
// config check`. A URL that does not parse is redacted whole.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[redacted URL]"
	}
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			if name, _, ok := strings.Cut(p, "="); ok {
				params[i] = name + "=[redacted]"
			} else if p != "" {
				params[i] = "[redacted]"
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	return u.Redacted()
}

// watchedBody enforces the idle timeout on a response body and releases
// the request's context when closed.
type watchedBody struct {
	rc     io.ReadCloser
	timer  *time.Timer
	idle   time.Duration
	cancel context.CancelCauseFunc
	ctx    context.Context
	c      *HTTPClient
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		if errors.Is(context.Cause(b.ctx), ErrTimeout) {
			return n, &Error{Provider: b.c.Name, Type: "upstream_timeout", Message: "the upstream stream stalled", Err: ErrTimeout}
		}
		if b.ctx.Err() == nil {
			return n, &Error{Provider: b.c.Name, Type: "upstream_error", Message: "the upstream connection failed mid-answer", Err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
