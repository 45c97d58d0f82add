// Package route is semgate's cost-aware router: it decides, for each
// request that misses the cache, which upstream deployment of a model alias
// serves it, in which order the others are tried when one fails, how long
// to wait between attempts, and which deployments are out of rotation.
//
// # Pools and policies
//
// An alias is a [Pool] of [Member]s, each a [providers.Deployment] with
// routing attributes ([MemberOptions]): capabilities (tools, vision,
// json_schema, streaming), a quality tier, a weight, the upstream
// account's rpm/tpm limits and a per-attempt timeout. Prices, context
// windows and capabilities not given in the configuration come from a
// shipped table of OpenAI and Anthropic models ([Lookup], dated
// [PricesDate]).
//
// [Pool.Plan] first drops the members that cannot serve the request: a
// capability it uses is missing ([Inspect] reads them from the body), or
// the prompt plus max_tokens exceeds the context window. The prompt's byte
// length bounds its token count, so tokenizing (package tokens) happens only
// for prompts near a window. The policy then orders the rest, members in
// rotation first:
//
//   - cost (default): cheapest expected cost (prompt estimate and
//     max_tokens, or routing.expected_output, at the member's prices);
//     ties go to the lower time-to-first-token EWMA, then config order.
//   - latency: lowest time-to-first-token EWMA (unmeasured members first).
//   - weighted: weighted random order (Efraimidis-Spirakis).
//   - priority: config order.
//   - auto: [Difficulty] scores the request; [AutoOptions].Thresholds map
//     the score to a tier; that tier's members by cost come first, then
//     stronger tiers, then weaker ones.
//
// [Plan.Reason] explains the choice (the x-semgate-route header).
//
// # Failures
//
// [Plan.Next] yields the next member and how long to wait: another member
// at once (fallback, across providers too), one that already failed this
// request after a jittered exponential backoff, and never before its
// Retry-After; within [RetryOptions] MaxAttempts and Timeout. Every member
// has a [Health] shared by all aliases using the same provider and model: a
// circuit breaker (consecutive failures or an error rate over a window
// open it; after the cooldown one half-open probe decides), a cooldown
// after a 429 for its Retry-After, rpm/tpm budgets, and the EWMA. Outcomes
// are reported with [Plan.Succeeded], [Plan.Failed] and [Plan.Released]
// (client cancellations and client errors, which never count against a
// deployment). When no member is in rotation, [Plan.Unavailable] says why,
// with the last upstream error.
//
// # Configuration
//
//	routing:
//	  retry: {max_attempts: 3, timeout: 120s, backoff: 100ms, max_backoff: 2s, max_retry_after: 5s}
//	  breaker: {failures: 5, error_rate: 0.5, window: 20, cooldown: 30s, rate_limit_cooldown: 1s}
//	  prices: {my-model: {input: 0.3, cached_input: 0.15, output: 1.2}}
//	models:
//	  - name: chat
//	    policy: cost
//	    retry: {max_attempts: 4}
//	    deployments:
//	      - {provider: openai, model: gpt-4o-mini, timeout: 20s, rpm: 5000}
//	      - {provider: anthropic, model: claude-haiku-4-5, capabilities: [tools, vision, streaming]}
//	  - name: auto
//	    policy: auto
//	    auto: {thresholds: [0.3]}
//	    deployments:
//	      - {provider: openai, model: gpt-4o-mini, tier: 1}
//	      - {provider: openai, model: gpt-4o, tier: 2}
//
// # Calibrating auto
//
// See [AutoOptions]. The score is a weighted sum of fixed signals (weights
// in auto.go): prompt length (log scale, 50 to 1600 tokens), code (fences,
// code-like lines, keywords), math (formulas, operators between numbers,
// keywords), multi-step asks (numbered steps, "step by step", several
// questions), reasoning words (why, compare, trade-offs, design) and a
// requested long output (max_tokens >= 1000, "essay", "detailed").
// `go run ./bench routing --scores` prints the histogram for the
// benchmark's labelled workload; do the same for a sample of your own
// traffic and put the threshold where the cheap tier stops being good
// enough.
package route
