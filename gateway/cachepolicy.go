package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Cache request and response headers.
const (
	headerCache          = "X-Semgate-Cache"
	headerCacheKey       = "X-Semgate-Cache-Key"
	headerSimilarity     = "X-Semgate-Similarity"
	headerVerify         = "X-Semgate-Verify"
	headerCacheTTL       = "X-Semgate-Cache-Ttl"
	headerCacheThreshold = "X-Semgate-Cache-Threshold"
	headerCacheNamespace = "X-Semgate-Cache-Namespace"
)

// Values of x-semgate-cache on responses.
const (
	cacheHitExact    = "hit-exact"
	cacheHitSemantic = "hit-semantic"
	// cacheHitCoalesced: served from an identical request's upstream call
	// that was in flight.
	cacheHitCoalesced = "hit-coalesced"
	cacheMiss         = "miss"
	cacheBypass       = "bypass"
	cacheRefresh      = "refresh"
)

// cachePolicy is what one request asks of the cache.
type cachePolicy struct {
	bypass    bool          // x-semgate-cache: off
	noCache   bool          // Cache-Control: no-cache: skip lookup, refresh the entry
	noStore   bool          // Cache-Control: no-store: do not store the answer
	maxAge    time.Duration // Cache-Control: max-age=N: only entries this young; 0 = any
	ttl       time.Duration // x-semgate-cache-ttl; 0 = configured
	threshold float64       // x-semgate-cache-threshold; 0 = configured
	namespace string        // x-semgate-cache-namespace
}

func headerError(name, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: strings.ToLower(name), Message: name + ": " + msg}
}

// parseCachePolicy reads the cache headers. configured is the threshold
// in force for the model; a request may only raise it.
func parseCachePolicy(h http.Header, configured float64) (cachePolicy, error) {
	return parseCachePolicyFor(h, configured, false)
}

// parseCachePolicyFor is parseCachePolicy for a caller that may (mayLower:
// its key's cache.lower_threshold right) ask for a threshold below the
// configured one.
func parseCachePolicyFor(h http.Header, configured float64, mayLower bool) (cachePolicy, error) {
	var p cachePolicy
	switch v := strings.ToLower(strings.TrimSpace(h.Get(headerCache))); v {
	case "":
	case "off", "bypass", "false", "0":
		p.bypass = true
	case "on", "true", "1":
	default:
		return p, headerError(headerCache, `must be "on" or "off"`)
	}
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			d = strings.TrimSpace(strings.ToLower(d))
			switch {
			case d == "no-cache":
				p.noCache = true
			case d == "no-store":
				p.noStore = true
			case strings.HasPrefix(d, "max-age="):
				n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
				if err != nil || n < 0 {
					return p, headerError("Cache-Control", "max-age must be a non-negative number of seconds")
				}
				if n == 0 {
					p.noCache = true // max-age=0: nothing cached is fresh enough
				} else {
					p.maxAge = time.Duration(min(n, 1<<31)) * time.Second
				}
			}
		}
	}
	if v := strings.TrimSpace(h.Get(headerCacheTTL)); v != "" {
		d, err := parseSecondsOrDuration(v)
		if err != nil || d <= 0 {
			return p, headerError(headerCacheTTL, `must be a positive number of seconds or a duration such as "10m"`)
		}
		p.ttl = d
	}
	if v := strings.TrimSpace(h.Get(headerCacheThreshold)); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return p, headerError(headerCacheThreshold, "must be a number in (0, 1]")
		}
		if f < configured && !mayLower {
			return p, headerError(headerCacheThreshold, "may only raise the configured threshold ("+
				strconv.FormatFloat(configured, 'g', -1, 64)+") for this model")
		}
		p.threshold = f
	}
	if v := h.Get(headerCacheNamespace); v != "" {
		if len(v) > 128 || !printableASCII(v) {
			return p, headerError(headerCacheNamespace, "must be at most 128 printable ASCII characters")
		}
		p.namespace = v
	}
	return p, nil
}

func parseSecondsOrDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}
