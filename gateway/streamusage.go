package gateway

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/semgate/semgate/providers"
)

// Values of a provider's stream_usage.
const (
	// StreamUsageAuto adds stream_options.include_usage to streamed
	// requests that lack it (to price the stream), and stops adding it to a
	// provider once it answers 400 naming the field, retrying that request
	// once without it.
	StreamUsageAuto = "auto"
	// StreamUsageInject always adds it.
	StreamUsageInject = "inject"
	// StreamUsageNever never adds it: the stream is priced by counting its
	// tokens.
	StreamUsageNever = "never"
)

// streamUsage is one provider's stream_usage setting and, for auto, what
// semgate learnt about the upstream.
type streamUsage struct {
	mode     string
	rejected atomic.Bool // auto: the upstream refused stream_options
}

// inject reports whether to add include_usage for this provider now.
func (u *streamUsage) inject() bool {
	if u == nil {
		return true
	}
	switch u.mode {
	case StreamUsageNever:
		return false
	case StreamUsageInject:
		return true
	}
	return !u.rejected.Load()
}

// retryWithout reports whether a failed attempt that carried the added
// stream_options should be sent once more without it: auto mode, and the
// upstream answered 400 naming the field. It remembers the refusal.
func (u *streamUsage) retryWithout(err error) bool {
	if u == nil || (u.mode != "" && u.mode != StreamUsageAuto) {
		return false
	}
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Status != 400 {
		return false
	}
	// The upstream's own words are all there is to go on.
	msg := strings.ToLower(pe.Message + " " + pe.Param + " " + pe.Code)
	if !strings.Contains(msg, "stream_options") && !strings.Contains(msg, "include_usage") {
		return false
	}
	u.rejected.Store(true)
	return true
}

// validStreamUsage checks a provider's stream_usage value.
func validStreamUsage(v string) error {
	switch v {
	case "", StreamUsageAuto, StreamUsageInject, StreamUsageNever:
		return nil
	}
	return fmt.Errorf("stream_usage: %q is not inject, never or auto", v)
}
