// Package answer keeps an upstream's answer exactly as it was sent and
// converts it between the two forms a client can ask for, never losing a
// field: a JSON body (chat.completion or text_completion) and a stream of
// SSE events (chat.completion.chunk or streamed text_completion).
//
// # Stored forms
//
// A JSON answer is stored as its bytes. A streamed answer is stored as its
// events ([Events]): each event's data as the upstream sent it, plus the
// byte span of its top-level "usage" member, so a client that did not ask
// for usage (semgate asks upstreams for it to price streams) gets the
// events without it and without the usage-only chunk, with no parsing at
// serve time.
//
// # Conversions
//
// [Assembler] folds a stream's chunks into one JSON answer: text fields
// (content, refusal, reasoning_content, reasoning, tool and function call
// arguments, completions text) are concatenated, arrays (logprobs entries,
// annotations) are joined, tool calls are merged by index, and every other
// field must carry one value across the chunks (null never overrides a
// value). A field that cannot be merged that way, or streamed audio (its
// chunks are pcm16 while the JSON form is a whole file), makes the stream
// unconvertible: [ErrLossy]. Unknown fields are kept, under the same rule.
//
// [AppendStreamSSE] turns a JSON answer into stream events: per choice a
// role chunk, one chunk with everything else the message holds (and its
// logprobs), and a finish chunk; then the usage chunk when the client asked
// for it. [CheckSplit] verifies once, when the answer is stored, that the
// events assemble back into the same JSON document, so a conversion served
// from the cache is known to be lossless; when it is not, the request is a
// miss rather than a degraded answer.
package answer
