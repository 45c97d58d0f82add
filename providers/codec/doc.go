// Package codec translates two more client-facing APIs to and from Chat
// Completions, the one format semgate's providers speak: OpenAI's
// Responses API (POST /v1/responses) and Anthropic's Messages API (POST
// /v1/messages, /v1/messages/count_tokens). It is pure wire-format code:
// bytes in, bytes out, no HTTP, no gateway state; the gateway wires it in
// front of an upstream that lacks the API natively (upstreams that speak
// it get the client's body as is).
//
// It lives under providers because it is the same kind of code as
// providers/anthropic (which translates the other way, Chat Completions to
// Messages for Anthropic upstreams), shares providers/sse and
// providers/jsonx with it, and must not depend on the gateway: both the
// gateway and, later, providers can import it.
//
// # Request flow
//
// For each request the caller:
//
//  1. validates the body: [ParseResponses], [ParseMessages] or
//     [ParseCountTokens]. A malformed body is an [*Error] wrapping
//     [ErrInvalid], naming the field in Param (e.g.
//     "input[1].content[0].image_url"); answer 400 with
//     [Error.OpenAIBody] or [Error.AnthropicBody];
//  2. picks an upstream for the request's Model. If it speaks the API
//     natively, it forwards the original body;
//  3. otherwise translates: [ResponsesRequest.ToChat] or
//     [MessagesRequest.ToChat]. What chat cannot express is an *Error
//     wrapping [ErrUnsupported] (answer 400, or try a native upstream).
//     For previous_response_id the caller first loads the conversation
//     it stored under that id and calls [ResponsesRequest.Prepend];
//  4. sends the chat body through the providers as usual (cache included:
//     the cache sees ordinary chat requests and answers);
//  5. translates the answer back. A JSON answer: [ResponsesRequest.Response]
//     or [MessagesRequest.Message]. A stream: [ResponsesRequest.NewStream]
//     or [MessagesRequest.NewStream] gives an incremental translator; feed
//     it each chat SSE event's data (chunks, then "[DONE]") and write what
//     Feed returns, flushing per call; call End if the upstream stream
//     ended without [DONE], Fail for an error seen elsewhere. A cache hit
//     is a chat.completion; [ResponsesRequest.Replay] and
//     [MessagesRequest.Replay] render it as the API's whole event stream,
//     by feeding the same translator the chunks a live stream would have
//     had;
//  6. for Responses with store (the default), keeps
//     [ResponsesRequest.Conversation] under the response id, for later
//     previous_response_id requests.
//
// Upstream errors keep the gateway's OpenAI shape for Responses; for
// Messages, [AnthropicErrorBody] renders them in Anthropic's shape with
// Anthropic's error types.
//
// # Responses to chat
//
// input (a string, or items: messages with input_text, input_image and
// input_file parts, earlier output messages with output_text and refusal
// parts, function_call and function_call_output items) becomes chat
// messages; consecutive function_call items join one assistant message's
// tool_calls. instructions become a leading system message (developer
// messages become system messages too: every chat server knows that
// role). Function tools become chat tools, tool_choice and
// parallel_tool_calls carry over, text.format json_schema and json_object
// become response_format, text.verbosity verbosity, reasoning.effort
// reasoning_effort, max_output_tokens max_completion_tokens; temperature,
// top_p, user, safety_identifier, prompt_cache_key, prompt_cache_retention
// and service_tier pass through. metadata, store, truncation, include,
// max_tool_calls and reasoning.summary are accepted and echoed in the
// Response but not sent: chat's store and metadata mean OpenAI's stored
// completions, not conversation state. Reasoning input items are dropped.
//
// Refused (ErrUnsupported): non-function tools (web_search, file_search,
// computer_use, mcp, code_interpreter, custom...) and tool_choice naming
// them, background, conversation, prompt templates, logprobs
// (top_logprobs, include message.output_text.logprobs), item_reference
// and other item types, images or files by file_id/URL where chat has no
// such form, images in tool outputs, unknown fields, and a
// previous_response_id that was not resolved with Prepend.
//
// # Chat to Responses
//
// The answer becomes a Response: a message item holding an output_text
// part (and a refusal part for a refusal), then a function_call item per
// tool call; ids are "resp_…", with item ids derived from it. finish_reason
// "length" gives status "incomplete" and incomplete_details.reason
// "max_output_tokens", "content_filter" reason "content_filter". usage maps
// prompt, cached, completion, reasoning and total tokens. Request
// parameters are echoed as OpenAI does (defaults where absent).
//
// Streams give response.created and response.in_progress, then per item
// response.output_item.added, for messages response.content_part.added,
// response.output_text.delta (response.refusal.delta), .done events and
// response.content_part.done, for calls
// response.function_call_arguments.delta and .done, then
// response.output_item.done; last response.completed (or
// response.incomplete, or response.failed), each with its sequence_number
// and an SSE event: line naming it. Usage arrives with the chat stream's
// last chunk, so the translated request asks for it.
//
// # Messages to chat
//
// system (a string or text blocks) becomes a system message; text, image
// (base64 and url sources, as image_url parts with data: URLs for base64),
// document (base64 PDF as a file part, plain text as text) blocks become
// content parts; an assistant turn's tool_use blocks become its
// tool_calls (arguments: the input's JSON); a user turn's tool_result
// blocks become tool messages placed before the rest of the turn.
// cache_control, citations and is_error are ignored; thinking and
// redacted_thinking blocks of earlier turns are dropped. Tools'
// input_schema become parameters; tool_choice auto, any, tool and none
// become "auto", "required", a named function and "none";
// disable_parallel_tool_use sets parallel_tool_calls false. max_tokens
// (required) becomes max_completion_tokens, stop_sequences stop,
// metadata.user_id user; temperature and top_p pass through. top_k and
// extended thinking have no chat equivalent: [MessagesOptions] says
// whether to refuse them (the default, so the caller can use an Anthropic
// upstream), pass them on (top_k as an extra field, thinking as
// reasoning_effort) or drop them. service_tier and a top-level cache_control are ignored. Server and
// client tools, container, mcp_servers, context_management, output_config
// and file sources are refused.
//
// # Chat to Messages
//
// The answer becomes a Message ("msg_…"): a text block, then a tool_use
// block per call with its parsed input; a refusal becomes text with
// stop_reason "refusal". finish_reason stop, length, tool_calls and
// content_filter map to end_turn, max_tokens, tool_use and refusal;
// stop_sequence is reported when the server names the matched string (as
// vLLM does in stop_reason). usage.input_tokens leaves out cached tokens,
// reported as cache_read_input_tokens. Streams give message_start,
// content_block_start (a ping after the first), content_block_delta with
// text_delta or input_json_delta, content_block_stop, message_delta with
// stop_reason and the usage, and message_stop; failures give an error
// event. message_start's usage holds AnswerOptions.InputTokens, since chat
// streams report usage only at the end; message_delta carries all counts.
//
// # Limits
//
// Only the first choice is translated (the translated requests never ask
// for more). A chat stream that interleaves argument fragments of one
// tool call after another part of the answer began (which OpenAI never
// does) fails, since both APIs close a part before the next begins.
package codec
