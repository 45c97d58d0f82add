// Package gateway is semgate's HTTP front: the OpenAI-compatible API, the
// request pipeline, configuration, health, metrics and logs.
//
// # Request flow
//
// Each API request goes through named steps: the auth step (authenticate
// in auth.go: the request's virtual key becomes its principal, key id and
// tenant, or 401), then (see serveExchange) read the body (415, 413),
// decode and validate the fields semgate needs (400 naming the field in
// "param"), resolve the model alias (404 listing the ones the key may use,
// 403 for one it may not), the limits step (rate limits, 429: limits.go),
// the cache (partitioned by tenant: tenancy.go), forward to the alias's
// deployments in order (the prompt's tokens and the budget reservation
// taken before the first upstream call, settled when the exchange ends),
// falling back while nothing has reached the client, and relay the answer: JSON whole, or
// Server-Sent Events flushed per event. The client's JSON bytes are
// forwarded with only "model" rewritten, so fields semgate does not know
// reach the upstream untouched, and upstream fields reach the client
// untouched.
//
// # Responses and Messages APIs
//
// /v1/responses and /v1/messages are fronts (front.go, responses.go,
// messages.go): each decodes its API's request with providers/codec,
// translates it into a Chat Completions body, and runs it through the same
// pipeline (serveEndpoint with that body: auth, limits, cache, routing,
// accounting), writing to a frontWriter that turns the chat answer into
// its API's: JSON whole, SSE event by event, errors in the API's shape.
// An attempt whose deployment speaks the front's API (providers.Native:
// Anthropic for Messages, OpenAI with responses: true, the mock) sends the
// client's body instead and relays the upstream's bytes (native.go), the
// chat form it also yields feeding the cache and accounting.
// Stored responses (previous_response_id) live in store table 'r'.
//
// # Access control
//
// Virtual keys live in package auth (stored as SHA-256 hashes, checked in
// memory); the admin API (/admin/..., keys in adminkeys.go) takes the
// admin token or, without one, loopback clients naming a loopback host
// (adminGuard).
//
// # Cluster mode
//
// With cluster.redis_url set, replicas share keys and cache fills through
// Redis (package cluster, wired in clustermode.go): the auth store reports
// its changes and applies the other replicas', storeAnswer publishes each
// fill, and with cluster.on_unreachable "closed" the auth step and /readyz
// answer 503 while Redis is unreachable.
//
// # Errors
//
// Every error the client sees is OpenAI-shaped,
// {"error":{"message","type","param","code"}}; toAPIError is the one place
// that picks its HTTP status.
//
// # Configuration
//
// [LoadConfig] reads one YAML file with unknown keys rejected, ${ENV}
// expansion, and every problem reported at once with its line.
package gateway
