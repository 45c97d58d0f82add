package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/codec"
	"github.com/semgate/semgate/providers/tokens"
	"github.com/tidwall/gjson"
)

// Anthropic's Messages API (POST /v1/messages, POST
// /v1/messages/count_tokens), served by translation to Chat Completions
// (front.go), or passed through to Anthropic deployments (native.go). Errors are in Anthropic's shape,
// {"type":"error","error":{"type","message"}}.

// messagesOptions: top_k and extended thinking have no chat equivalent;
// they are dropped rather than refused, so clients that send them by
// default (Claude Code) get an answer, without thinking blocks.
var messagesOptions = codec.MessagesOptions{TopK: codec.Drop, Thinking: codec.Drop}

// createMessage serves POST /v1/messages.
func (s *Server) createMessage(f *frontWriter, r *http.Request, body []byte) {
	req, err := codec.ParseMessages(body)
	if err != nil {
		f.writeCodecError(err)
		return
	}
	// Anthropic deployments get the request as it is (native.go).
	nat := newNativeCall(providers.APIMessages, body, req.Model, forwardHeaders(r.Header, anthropicHeaders...), f)
	chat, err := req.ToChat(messagesOptions)
	if err != nil {
		var ok bool
		if chat, ok = s.untranslatable(nat, r, err, req.ApproxChat); !ok {
			f.writeCodecError(err)
			return
		}
	}
	opt := codec.AnswerOptions{ID: codec.NewMessageID()}
	if req.Stream {
		// message_start reports the prompt's tokens before the upstream's
		// count arrives at the end.
		opt.InputTokens = int64(tokens.Prompt(s.encodingModel(req.Model), providers.EndpointChat.String(), chat))
		f.stream = req.NewStream(opt)
	} else {
		f.toJSON = func(c []byte) ([]byte, error) { return req.Message(c, opt) }
	}
	if req.Thinking || gjson.GetBytes(body, "top_k").Exists() {
		// The chat translation, which keys the cache, leaves these out,
		// though they change the answer: such a request neither takes an
		// answer stored without them nor stores its own (one with thinking
		// blocks would lose them anyway, see native.go).
		r.Header.Set(headerCache, "off")
	}
	s.runChatNative(f, r, chat, nat)
}

// anthropicHeaders are the client headers a Messages pass-through
// forwards as sent.
var anthropicHeaders = []string{"anthropic-version", "anthropic-beta"}

// countTokens serves POST /v1/messages/count_tokens: the upstream's count
// where the alias has a deployment whose provider counts Messages
// prompts (Anthropic's count_tokens endpoint; providers.TokenCounter),
// else, or when that upstream fails, the prompt tokens of the translated
// chat request, counted as the gateway counts prompts (providers/tokens)
// with the alias's first deployment's tokenizer.
func (s *Server) countTokens(f *frontWriter, r *http.Request, body []byte) {
	req, err := codec.ParseCountTokens(body)
	if err != nil {
		f.writeCodecError(err)
		return
	}
	chat, err := req.ToChat(messagesOptions)
	if err != nil {
		f.writeCodecError(err)
		return
	}
	p := principalOf(r.Context())
	model, err := s.router.Lookup(req.Model)
	if err != nil {
		f.writeAPIError(s.unknownModelFor(p, req.Model))
		return
	}
	if !p.MayUse(req.Model) {
		f.writeAPIError(errModelNotAllowed)
		return
	}
	if out, err := s.upstreamCount(f, r, model, req.Model, body); out != nil || err != nil {
		if err != nil {
			f.writeAPIError(err)
			return
		}
		f.writeJSON(http.StatusOK, out)
		return
	}
	n := tokens.Prompt(s.encodingModel(req.Model), providers.EndpointChat.String(), chat)
	f.writeJSON(http.StatusOK, codec.CountTokensBody(int64(n)))
}

// countTimeout bounds an upstream count_tokens call.
const countTimeout = 10 * time.Second

// upstreamCount asks the first of the model's deployments that counts
// Messages prompts. It returns the upstream's answer, the upstream's
// refusal of the request (a client error), or neither: no deployment
// counts, or the upstream failed, and the gateway counts itself.
func (s *Server) upstreamCount(f *frontWriter, r *http.Request, model *providers.Model, alias string, body []byte) ([]byte, error) {
	for _, dep := range model.Deployments {
		tc, ok := dep.Provider.(providers.TokenCounter)
		if !ok {
			continue
		}
		if np, ok := dep.Provider.(providers.Native); !ok || !np.Speaks(providers.APIMessages) {
			continue
		}
		ctx, cancel := context.WithTimeout(r.Context(), countTimeout)
		out, err := tc.CountTokens(ctx, &providers.NativeRequest{API: providers.APIMessages, Model: dep.Model,
			Body: bodyWithModel(body, alias, dep.Model), Header: forwardHeaders(r.Header, anthropicHeaders...),
			RequestID: f.Header().Get(headerRequestID)})
		cancel()
		if err == nil {
			return out, nil
		}
		if r.Context().Err() != nil {
			return nil, errClientGone
		}
		if !upstreamFault(err) && !errors.Is(err, providers.ErrUnsupported) {
			return nil, err // the request's own fault: the upstream's 4xx
		}
		s.log.Warn("messages: upstream count_tokens failed; counting locally", "provider", dep.ProviderName, "error", err)
		return nil, nil
	}
	return nil, nil
}

// encodingModel is the upstream model whose tokenizer counts an alias's
// prompts: its first deployment's.
func (s *Server) encodingModel(alias string) string {
	if m, err := s.router.Lookup(alias); err == nil && len(m.Deployments) > 0 {
		return m.Deployments[0].Model
	}
	return alias
}
