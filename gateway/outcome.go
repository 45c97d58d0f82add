package gateway

import (
	"bytes"
	"net/http"
	"time"

	"github.com/semgate/semgate/semcache/answer"
	"github.com/tidwall/gjson"
)

// relayOutcome is what relaying one upstream answer produced, returned by the
// relay (relayJSON, relayStream) rather than written into the exchange:
// attemptOnce records it (exchange.record), the one place the exchange
// learns an attempt's result. The first step of the issue's "each step
// returns its result".
type relayOutcome struct {
	ttft        time.Duration // attempt start to the answer's first byte relayed
	wroteHeader bool          // the answer's headers reached the client
	status      int           // their status
	usage       usage         // the answer's usage, reported or counted
	cacheWrites int           // prompt tokens the upstream wrote to its prompt cache
	text        []byte        // a stream's answer text, to count when no usage came
	costNano    int64         // the answer's cost
}

// record takes an attempt's outcome into the exchange, for routing,
// accounting, limits, metrics and the access log.
func (ex *exchange) record(o *relayOutcome) {
	ex.ttft, ex.usage, ex.costNano = o.ttft, o.usage, o.costNano
	ex.outText = o.text // its buffer is reused by the next attempt
	if o.wroteHeader {
		ex.wroteHeader, ex.status = true, o.status
	}
}

// hitOutcome is what serving a request from the cache produced, returned
// by the cache's steps (serveHit for an exact or semantic hit, follow for
// an identical request's answer) rather than written into the exchange:
// serveExchange records it (exchange.recordHit). The zero value is a
// request the cache did not serve (a miss, forwarded).
type hitOutcome struct {
	served      bool    // the cache answered the request (ex.cacheHit)
	wroteHeader bool    // the answer's headers (200) reached the client
	savedUSD    float64 // the original answer's cost, saved
	hitTokens   int     // the original answer's tokens (exact and semantic hits)
}

// recordHit takes a cache hit's outcome into the exchange, for accounting,
// limits, metrics and the access log. A request the cache did not serve
// leaves the exchange as the relay's outcome left it (record).
func (ex *exchange) recordHit(o *hitOutcome) {
	if !o.served {
		return
	}
	ex.cacheHit, ex.savedUSD, ex.lim.hitTokens = true, o.savedUSD, o.hitTokens
	if o.wroteHeader {
		ex.wroteHeader, ex.status = true, http.StatusOK
	}
}

// headers records that the answer's headers were written.
func (o *relayOutcome) headers(status int) { o.wroteHeader, o.status = true, status }

// fromJSON reads a whole answer's usage (counting it when the upstream
// reported none, or taking a passed-through answer's native usage) and
// prices it.
func (o *relayOutcome) fromJSON(ex *exchange, body []byte) {
	o.usage = ex.usageFromJSON(body)
	o.settle(ex)
}

// observeChunk reads a stream chunk's usage and answer text. It returns
// the data to relay: the chunk itself, the chunk without its usage, or nil
// to drop a usage-only chunk the client did not ask for.
func (o *relayOutcome) observeChunk(ex *exchange, data []byte) []byte {
	if bytes.Contains(data, usageField) {
		if u, ok := parseUsage(gjson.GetBytes(data, "usage")); ok {
			o.usage = u
		}
		if ex.stripUsage {
			out, drop := answer.WithoutUsage(data)
			if drop {
				return nil
			}
			data = out
		}
	}
	gjson.GetBytes(data, "choices").ForEach(func(_, c gjson.Result) bool {
		if d := c.Get("delta"); d.Exists() {
			o.text = appendAnswerText(o.text, d)
		} else if t := c.Get("text"); t.Type == gjson.String {
			o.text = append(o.text, t.Str...)
		}
		return true
	})
	return data
}

// settle completes the usage (a passed-through answer's native usage;
// else, when the upstream sent none, counted from the text) and prices
// it.
func (o *relayOutcome) settle(ex *exchange) {
	if u, writes, ok := ex.native.nativeUsage(); ok {
		o.usage, o.cacheWrites = u, writes
	}
	if !o.usage.known {
		o.usage = ex.countUsage(o.text)
	}
	o.costNano = ex.costOf(o.usage, o.cacheWrites)
}
