// Package anthropic is semgate's adapter for Anthropic's Messages API
// (POST /v1/messages). It speaks OpenAI's wire format to the gateway and
// Anthropic's to the upstream, translating both ways:
//
//   - chat completions requests become Messages requests: system and
//     developer messages become the system prompt, tool calls become
//     tool_use blocks, tool messages become tool_result blocks, consecutive
//     turns of one role are merged, image_url parts become image blocks;
//   - legacy text completions (POST /v1/completions) become a single user
//     turn, and their answers come back in text_completion shape;
//   - Messages answers become chat.completion objects, and Messages event
//     streams become chat.completion.chunk events ending in "data: [DONE]",
//     translated on the fly by a pull-based reader (no goroutine);
//   - Anthropic error bodies become [providers.Error] values in OpenAI's
//     vocabulary.
//
// # What is translated, and how
//
// Sampling parameters: max_completion_tokens (preferred) or max_tokens
// becomes max_tokens, with [Options.DefaultMaxTokens] when the client sends
// neither, since Anthropic requires it. temperature is accepted in OpenAI's
// range 0–2; values above 1, Anthropic's maximum, are clamped to 1 (not
// scaled: scaling would change the meaning of every common value such as
// 0.7). top_p passes through, except 1, which means no nucleus sampling and
// is dropped because some models refuse temperature and top_p together; stop (a string or an array) becomes
// stop_sequences; user becomes metadata.user_id.
//
// Tools: function tools become Anthropic tools with their parameters as
// input_schema. tool_choice "auto", "required", "none" and a named function
// become {"type":"auto"}, {"type":"any"}, {"type":"none"} and
// {"type":"tool","name":...}; parallel_tool_calls false sets
// disable_parallel_tool_use. With "none" the tools are still sent, because
// Anthropic refuses conversations holding tool_use blocks without tool
// definitions.
//
// Ignored, because Anthropic has no equivalent and they are only hints:
// seed, frequency_penalty, presence_penalty, store, metadata, service_tier,
// prediction, reasoning_effort, and unknown fields. Thinking blocks in
// answers are dropped.
//
// Refused with an error wrapping [providers.ErrUnsupported] and naming the
// field in [providers.Error.Param]: n > 1, logprobs, top_logprobs,
// logit_bias, response_format other than "text", audio output, non-function
// tools, the deprecated functions/function_call fields, unknown message
// roles and content part types, and for legacy completions echo, suffix,
// best_of > 1 and token-array prompts. Malformed requests (wrong JSON
// types, tool call arguments that are not a JSON object, bad data: URLs)
// additionally wrap [ErrInvalidRequest].
//
// # Streaming
//
// The chunk sequence is: a first chunk carrying the assistant role; one
// chunk per text delta; for each tool_use block a chunk with the call's
// index, id and name, then one per argument fragment; a chunk with
// finish_reason; a usage chunk with empty choices only when the client sent
// stream_options.include_usage; then "data: [DONE]". An Anthropic error
// event, or a stream that ends before message_stop, makes Read return an
// error wrapping [providers.ErrStatus] or [providers.ErrBadResponse]; the
// translated stream never ends with a [DONE] it did not earn.
package anthropic
