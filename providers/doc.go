// Package providers holds semgate's upstream side: the [Provider] interface
// every upstream adapter implements, the wire-level [Request] and [Response]
// types (always in OpenAI's format, whatever the upstream speaks), the typed
// upstream [Error], and the [Router] that maps a public model alias to the
// deployments that can serve it.
//
// # Adapters
//
// Adapters live in subpackages: providers/openai (any OpenAI-compatible
// server), providers/anthropic (the Messages API, translated both ways) and
// providers/mock (a deterministic upstream for tests and benchmarks). They
// know nothing of caching; the gateway composes them.
//
// # Wire format
//
// A [Request] carries the client's original JSON bytes with only the model
// name rewritten, so fields semgate does not know pass through untouched. A
// [Response] body is OpenAI JSON, or for streams OpenAI chat/completion chunks
// as Server-Sent Events ending with "data: [DONE]".
package providers
