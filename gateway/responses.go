package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/codec"
	"github.com/semgate/semgate/semcache"
	"github.com/tidwall/gjson"
)

// OpenAI's Responses API (POST /v1/responses, GET and DELETE
// /v1/responses/{id}), served by translation to Chat Completions (front.go),
// or passed through to upstreams that serve it (native.go).
// With store (the default) the response and the conversation a
// previous_response_id continues are kept, per tenant, for
// storedResponseTTL.

// tableResponses is the store table of stored responses: keys 'r' <tenant>
// 0x00 <response id>; values storedResponse JSON.
const tableResponses = 'r'

// storedResponseTTL is how long a stored response stays retrievable, as
// OpenAI keeps them: 30 days.
const storedResponseTTL = 30 * 24 * time.Hour

// storedResponse is one stored response.
type storedResponse struct {
	Expires  int64             `json:"expires"` // Unix seconds
	Response json.RawMessage   `json:"response"`
	Items    []json.RawMessage `json:"items"` // codec's Conversation
}

func responseKey(tenant, id string) []byte {
	b := make([]byte, 0, len(tenant)+1+len(id))
	b = append(b, tenant...)
	b = append(b, 0)
	return append(b, id...)
}

func (s *Server) responsesKV() (*semcache.KV, error) { return s.store.KV(tableResponses) }

// keepResponse stores a finished response (not a failed one) for later
// retrieval and previous_response_id.
func (s *Server) keepResponse(tenant string, req *codec.ResponsesRequest, response []byte) {
	if len(response) == 0 || gjson.GetBytes(response, "status").Str == "failed" {
		return
	}
	id := gjson.GetBytes(response, "id").Str
	items, err := req.Conversation(response)
	if err != nil || id == "" {
		return
	}
	v, err := json.Marshal(storedResponse{Expires: time.Now().Add(storedResponseTTL).Unix(), Response: response, Items: items})
	if err != nil {
		return
	}
	kv, err := s.responsesKV()
	if err == nil {
		err = kv.Set(responseKey(tenant, id), v)
	}
	if err != nil {
		s.log.Warn("responses: storing a response failed", "response_id", id, "error", err)
	}
}

// loadResponse returns the tenant's stored response id, or nil if there
// is none (or it expired).
func (s *Server) loadResponse(tenant, id string) (*storedResponse, error) {
	kv, err := s.responsesKV()
	if err != nil {
		return nil, err
	}
	key := responseKey(tenant, id)
	v, err := kv.Get(key)
	if errors.Is(err, semcache.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sr storedResponse
	if err := json.Unmarshal(v, &sr); err != nil {
		return nil, err
	}
	if time.Now().Unix() >= sr.Expires {
		kv.Delete(key)
		return nil, nil
	}
	return &sr, nil
}

func responseNotFound(param, id string) *apiError {
	ae := &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "response_not_found",
		Message: "Response with id " + strconv.Quote(id) + " not found."}
	if param != "" {
		ae.Param, ae.Code = param, "previous_response_not_found"
		ae.Message = "Previous response with id " + strconv.Quote(id) + " not found."
	}
	return ae
}

// createResponse serves POST /v1/responses.
func (s *Server) createResponse(f *frontWriter, r *http.Request, body []byte) {
	req, err := codec.ParseResponses(body)
	if err != nil {
		f.writeCodecError(err)
		return
	}
	tenant := principalOf(r.Context()).Tenant
	if req.PreviousResponseID != "" {
		prev, err := s.loadResponse(tenant, req.PreviousResponseID)
		if err != nil {
			s.log.Error("responses: loading a stored response failed", "response_id", req.PreviousResponseID, "error", err)
			f.writeAPIError(err)
			return
		}
		if prev == nil {
			f.writeAPIError(responseNotFound("previous_response_id", req.PreviousResponseID))
			return
		}
		if err := req.Prepend(prev.Items); err != nil {
			f.writeCodecError(err)
			return
		}
	}
	// Deployments serving the Responses API get the request as it is
	// (native.go); not one continuing a stored conversation, which an
	// upstream would not know.
	var nat *nativeCall
	if req.PreviousResponseID == "" {
		nat = newNativeCall(providers.APIResponses, body, req.Model, nil, f)
	}
	chat, err := req.ToChat()
	if err != nil {
		var ok bool
		if nat == nil {
			f.writeCodecError(err)
			return
		}
		if chat, ok = s.untranslatable(nat, r, err, req.ApproxChat); !ok {
			f.writeCodecError(err)
			return
		}
	}
	opt := codec.AnswerOptions{ID: codec.NewResponseID()}
	keep := func(response []byte) {
		if req.Store {
			s.keepResponse(tenant, req, response)
		}
	}
	f.nativeDone = keep
	if req.Stream {
		st := req.NewStream(opt)
		f.stream = st
		f.onDone = func() { keep(st.Response()) }
	} else {
		f.toJSON = func(c []byte) ([]byte, error) {
			out, err := req.Response(c, opt)
			if err == nil {
				keep(out)
			}
			return out, err
		}
	}
	s.runChatNative(f, r, chat, nat)
}

// getResponse serves GET /v1/responses/{id}: the tenant's stored response.
func (s *Server) getResponse(f *frontWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	sr, err := s.loadResponse(principalOf(r.Context()).Tenant, id)
	switch {
	case err != nil:
		f.writeAPIError(err)
	case sr == nil:
		f.writeAPIError(responseNotFound("", id))
	default:
		f.writeJSON(http.StatusOK, sr.Response)
	}
}

// deleteResponse serves DELETE /v1/responses/{id}.
func (s *Server) deleteResponse(f *frontWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	tenant := principalOf(r.Context()).Tenant
	sr, err := s.loadResponse(tenant, id)
	if err == nil && sr != nil {
		var kv *semcache.KV
		if kv, err = s.responsesKV(); err == nil {
			err = kv.Delete(responseKey(tenant, id))
		}
	}
	switch {
	case err != nil:
		f.writeAPIError(err)
	case sr == nil:
		f.writeAPIError(responseNotFound("", id))
	default:
		b := append([]byte(`{"id":`), appendJSONString(nil, id)...)
		f.writeJSON(http.StatusOK, append(b, `,"object":"response","deleted":true}`...))
	}
}
