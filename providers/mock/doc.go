// Package mock is semgate's deterministic upstream for tests and benchmarks.
// It speaks OpenAI's API both in-process, as a [providers.Provider] built by
// [New], and over HTTP, as the [http.Handler] built by [NewHandler] that
// `semgate mock --listen ADDR` serves. Both produce the same bytes for the
// same request. Both also serve Anthropic's Messages API (POST /v1/messages
// and /v1/messages/count_tokens) and OpenAI's Responses API (POST
// /v1/responses) natively (in process: [providers.Native]), answering a
// request as its Chat Completions translation would be answered, in the
// API's own shape, so a gateway's pass-through paths run offline.
//
// # Answers
//
// Answers are a pure function of the request: a stable 64-bit hash
// (FNV-1a-like, fixed across processes and releases) of the model name and
// the prompt (for chat, every message's role, name, content,
// tool_call_id and tool calls in order; for completions, the prompt; for
// embeddings, the input) seeds a small PRNG that writes English-looking text
// from a fixed word list, e.g. "Mock answer 3f9a1c: The cache will hold a
// clear reply." The same request gives byte-identical answers in every run
// and process: ids derive from the hash, "created" is the fixed [Created]
// timestamp and "system_fingerprint" is [SystemFingerprint]. Different
// prompts or models give different answers; choice i of n > 1 is seeded by
// the hash and i, so choice 0 does not depend on n.
//
// An answer's natural length is drawn from [Options.MinTokens,
// Options.MaxTokens] by the hash; max_tokens or max_completion_tokens cut it
// (finish_reason "length"), always at the same place, so a shorter limit
// gives a prefix of the longer answer. Every word or punctuation mark is one
// token: a stream carries one per chunk and usage.completion_tokens counts
// them. Prompt tokens are estimated like a BPE tokenizer would (words of up
// to 7 letters are one token, longer ones one per 4 characters,
// punctuation one each) plus OpenAI's per-message overhead.
//
// With tools and tool_choice "required" or naming a function, every choice
// calls that function (the first tool for "required") with arguments built
// from the schema's required properties, and finish_reason is "tool_calls".
//
// Embeddings are deterministic unit vectors of Options.Dimensions (or the
// request's dimensions) float32 values; a shorter dimension gives the
// re-normalised prefix of a longer one. encoding_format "base64" encodes the
// same float32 values little-endian.
//
// # Latency
//
// A streamed answer sends its headers and first chunks after Options.TTFT,
// then waits Options.InterTokenDelay before each further token. A
// non-streamed answer arrives when the stream would have finished: after
// TTFT + InterTokenDelay × (tokens − 1), tokens being the longest choice.
// Embeddings wait TTFT. The request field "mock_latency_ms" (or the header
// x-mock-latency-ms) replaces TTFT for one request.
//
// # Faults
//
// A share Options.FaultRate of requests, drawn by a PRNG seeded with
// Options.Seed, fails with a kind picked from Options.Faults; a request can
// force a kind with the header x-mock-fault or the top-level body field
// "mock_fault" ("none" forces success). The kinds:
//
//   - "400" to "599": that status with an OpenAI error body (Retry-After on
//     429); in-process, a *providers.Error wrapping providers.ErrStatus.
//   - "reset": the server closes the TCP connection abruptly; in-process,
//     providers.ErrUnavailable.
//   - "stall": a non-streamed request hangs until the client gives up; a
//     stream stops sending halfway and hangs.
//   - "truncate": a stream ends halfway without "data: [DONE]"; a JSON
//     body is cut in half (with a matching Content-Length).
//   - "malformed": a stream carries an invalid JSON chunk halfway (and then
//     goes on); a JSON body is not valid JSON.
//
// Injected faults wrap [ErrFault]; bad requests get OpenAI-shaped 400
// errors wrapping [ErrBadRequest].
package mock
