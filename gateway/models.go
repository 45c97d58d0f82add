package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/semgate/semgate/gateway/auth"
)

// buildModelsList renders GET /v1/models once: every alias, sorted.
func (s *Server) buildModelsList() []byte {
	b := []byte(`{"object":"list","data":[`)
	for i, name := range s.router.Names() {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendModel(b, name)
	}
	return append(b, "]}"...)
}

func (s *Server) appendModel(b []byte, name string) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, s.started.Unix(), 10)
	return append(b, `,"owned_by":"semgate"}`...)
}

// listModels answers GET /v1/models: every alias, or only those the
// caller's key may use.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	p := principalOf(r.Context())
	if p.Models() == nil {
		w.Write(s.modelsList)
		return
	}
	b := []byte(`{"object":"list","data":[`)
	for _, name := range s.availableModels(p) {
		if b[len(b)-1] == '}' {
			b = append(b, ',')
		}
		b = s.appendModel(b, name)
	}
	w.Write(append(b, "]}"...))
}

// getModel answers GET /v1/models/{model}; an alias the caller's key may
// not use is 404, as if it did not exist.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["model"]
	p := principalOf(r.Context())
	if _, err := s.router.Lookup(name); err != nil || !p.MayUse(name) {
		writeError(w, s.unknownModelFor(p, name))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.appendModel(nil, name))
}

// availableModels are the configured aliases the principal may use, sorted.
func (s *Server) availableModels(p *auth.Principal) []string {
	names := s.router.Names()
	if p.Models() == nil {
		return names
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if p.MayUse(n) {
			out = append(out, n)
		}
	}
	return out
}

// unknownModelFor is the 404 for a model alias that is not configured, or
// that the principal's key may not see; it lists the ones the key may use.
func (s *Server) unknownModelFor(p *auth.Principal, name string) *apiError {
	return &apiError{
		Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "model_not_found", Param: "model",
		Message: "The model " + strconv.Quote(name) + " does not exist. Available models: " + strings.Join(s.availableModels(p), ", "),
	}
}
