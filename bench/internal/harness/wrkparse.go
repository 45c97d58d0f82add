package harness

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what one wrk run reports.
type WrkResult struct {
	Requests       int64         // completed requests
	Elapsed        time.Duration // wall time wrk measured
	RequestsPerSec float64
	// Latency percentiles from "--latency"; zero when absent.
	P50, P75, P90, P99 time.Duration
	// Non2xx counts responses with a status of 400 or more (wrk calls them
	// "Non-2xx or 3xx responses").
	Non2xx int64
	// Socket errors by kind.
	ConnectErrors, ReadErrors, WriteErrors, Timeouts int64
	// CPU is the user and system time wrk itself used (set by Wrk.Run,
	// not parsed).
	CPU time.Duration
}

// Errors is the total of error responses and socket errors.
func (r *WrkResult) Errors() int64 {
	return r.Non2xx + r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.Timeouts
}

// ErrorSummary describes the errors of a run, or returns "" when there were
// none.
func (r *WrkResult) ErrorSummary() string {
	if r.Errors() == 0 {
		return ""
	}
	var parts []string
	if r.Non2xx > 0 {
		parts = append(parts, fmt.Sprintf("%d error responses", r.Non2xx))
	}
	for _, e := range []struct {
		n    int64
		name string
	}{{r.ConnectErrors, "connect"}, {r.ReadErrors, "read"}, {r.WriteErrors, "write"}, {r.Timeouts, "timeout"}} {
		if e.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s errors", e.n, e.name))
		}
	}
	return strings.Join(parts, ", ")
}

// ErrNoResult is returned by ParseWrk for output without a "Requests/sec"
// line, e.g. when wrk could not connect at all.
var ErrNoResult = errors.New("wrk output has no result")

// ParseWrk parses the text that wrk 4.x prints (with or without --latency).
func ParseWrk(out string) (*WrkResult, error) {
	var r WrkResult
	var sawRPS, inDist bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		switch {
		case line == "Latency Distribution":
			inDist = true
		case inDist && len(fields) == 2 && strings.HasSuffix(fields[0], "%"):
			d, err := parseWrkDuration(fields[1])
			if err != nil {
				return nil, fmt.Errorf("parse wrk latency line %q: %w", line, err)
			}
			switch fields[0] {
			case "50%":
				r.P50 = d
			case "75%":
				r.P75 = d
			case "90%":
				r.P90 = d
			case "99%":
				r.P99 = d
			}
		case len(fields) >= 5 && fields[1] == "requests" && fields[2] == "in":
			inDist = false
			n, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse wrk request count %q: %w", line, err)
			}
			d, err := parseWrkDuration(strings.TrimSuffix(fields[3], ","))
			if err != nil {
				return nil, fmt.Errorf("parse wrk elapsed time %q: %w", line, err)
			}
			r.Requests, r.Elapsed = n, d
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "Non-2xx or 3xx responses:")), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse wrk error responses %q: %w", line, err)
			}
			r.Non2xx = n
		case strings.HasPrefix(line, "Socket errors:"):
			if err := parseSocketErrors(strings.TrimPrefix(line, "Socket errors:"), &r); err != nil {
				return nil, fmt.Errorf("parse wrk socket errors %q: %w", line, err)
			}
		case strings.HasPrefix(line, "Requests/sec:"):
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "Requests/sec:")), 64)
			if err != nil {
				return nil, fmt.Errorf("parse wrk requests/sec %q: %w", line, err)
			}
			r.RequestsPerSec, sawRPS = v, true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read wrk output: %w", err)
	}
	if !sawRPS {
		return nil, fmt.Errorf("%w: %s", ErrNoResult, firstLine(out))
	}
	return &r, nil
}

// parseSocketErrors parses " connect 0, read 0, write 0, timeout 8".
func parseSocketErrors(s string, r *WrkResult) error {
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			return fmt.Errorf("unexpected part %q", part)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("count in %q: %w", part, err)
		}
		switch f[0] {
		case "connect":
			r.ConnectErrors = n
		case "read":
			r.ReadErrors = n
		case "write":
			r.WriteErrors = n
		case "timeout":
			r.Timeouts = n
		default:
			return fmt.Errorf("unknown kind %q", f[0])
		}
	}
	return nil
}

// parseWrkDuration parses wrk's time format: a number followed by us, ms,
// s, m or h ("401.00us", "0.90ms", "1.20s", "2.01s").
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		return time.Duration(math.Round(v * float64(u.unit))), nil
	}
	return 0, fmt.Errorf("duration %q: unknown unit", s)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
