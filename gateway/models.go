package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
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

func (s *Server) listModels(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.modelsList)
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["model"]
	if _, err := s.router.Lookup(name); err != nil {
		writeError(w, s.unknownModel(name))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.appendModel(nil, name))
}

// unknownModel is the 404 for a model alias that is not configured; it
// lists the ones that are.
func (s *Server) unknownModel(name string) *apiError {
	return &apiError{
		Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "model_not_found", Param: "model",
		Message: "The model " + strconv.Quote(name) + " does not exist. Available models: " + strings.Join(s.router.Names(), ", "),
	}
}
