package providers

import "log/slog"

// Secret is a credential read from configuration. It formats as
// "[redacted]" everywhere (fmt, slog, JSON, YAML) so keys never reach logs,
// errors or `semgate config check` output; Reveal returns the value.
type Secret string

var _ slog.LogValuer = Secret("")

// Reveal returns the secret's value, for building upstream requests only.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (JSON and YAML output).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
