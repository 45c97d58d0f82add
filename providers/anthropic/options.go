package anthropic

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/semgate/semgate/providers"
)

// Defaults for Options.
const (
	// DefaultBaseURL is Anthropic's public API root.
	DefaultBaseURL = "https://api.anthropic.com"
	// DefaultVersion is the anthropic-version header sent by default.
	DefaultVersion = "2023-06-01"
	// DefaultMaxTokens is the max_tokens sent when the client sets no limit.
	DefaultMaxTokens = 4096
)

// Options configures a Provider. The zero value means defaults.
type Options struct {
	// HTTPOptions holds the base URL, API key, extra headers and timeouts.
	// BaseURL defaults to DefaultBaseURL; requests go to BaseURL +
	// "/v1/messages", or BaseURL + "/messages" when BaseURL already ends in
	// "/v1". Extra headers (e.g. anthropic-beta) are sent with every request
	// but cannot override x-api-key, anthropic-version or content-type.
	providers.HTTPOptions `yaml:",inline"`
	// Version is the anthropic-version header. Default: DefaultVersion
	// ("2023-06-01").
	Version string `yaml:"version"`
	// DefaultMaxTokens is the max_tokens sent, in tokens, when the client
	// sends neither max_tokens nor max_completion_tokens (Anthropic requires
	// one). Default: DefaultMaxTokens (4096).
	DefaultMaxTokens int `yaml:"default_max_tokens"`
}

// Validate reports every problem with o at once.
func (o *Options) Validate() error {
	var errs []error
	if err := o.HTTPOptions.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("base_url: %w", err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("base_url: scheme must be http or https, not %q", u.Scheme))
		case u.Host == "":
			errs = append(errs, errors.New("base_url: missing host"))
		case u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, errors.New("base_url: must not have a query or fragment"))
		}
	}
	if o.Version != "" && !validHeaderValue(o.Version) {
		errs = append(errs, fmt.Errorf("version: %q is not a valid header value", o.Version))
	}
	if o.DefaultMaxTokens < 0 {
		errs = append(errs, errors.New("default_max_tokens: must not be negative"))
	}
	keys := make([]string, 0, len(o.Headers))
	for k := range o.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validHeaderName(k) {
			errs = append(errs, fmt.Errorf("headers: %q is not a valid header name", k))
		} else if !validHeaderValue(o.Headers[k]) {
			errs = append(errs, fmt.Errorf("headers: %s: value is not a valid header value", k))
		}
	}
	return errors.Join(errs...)
}

// endpoint returns the Messages API URL.
func (o *Options) endpoint() string {
	base := o.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	base = strings.TrimRight(base, "/")
	if strings.HasSuffix(base, "/v1") {
		return base + "/messages"
	}
	return base + "/v1/messages"
}

func (o *Options) version() string {
	if o.Version != "" {
		return o.Version
	}
	return DefaultVersion
}

func (o *Options) maxTokens() int64 {
	if o.DefaultMaxTokens > 0 {
		return int64(o.DefaultMaxTokens)
	}
	return DefaultMaxTokens
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

// validHeaderValue rejects control characters other than tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
