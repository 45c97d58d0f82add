package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/semgate/semgate/gateway/auth"
)

// adminKeyRoutes adds the virtual key API to the admin router:
//
//	POST   /admin/keys        create: 201 with the key and its secret ("key"), shown this once
//	GET    /admin/keys        list (?tenant= to filter), never with secrets
//	GET    /admin/keys/{id}   one key
//	PATCH  /admin/keys/{id}   change: each member sent replaces the key's (null clears)
//	DELETE /admin/keys/{id}   revoke: refused from the moment the answer is sent
func (s *Server) adminKeyRoutes(a *mux.Router) {
	a.HandleFunc("/keys", s.adminCreateKey).Methods(http.MethodPost)
	a.HandleFunc("/keys", s.adminListKeys).Methods(http.MethodGet)
	a.HandleFunc("/keys/{id}", s.adminGetKey).Methods(http.MethodGet)
	a.HandleFunc("/keys/{id}", s.adminPatchKey).Methods(http.MethodPatch)
	a.HandleFunc("/keys/{id}", s.adminRevokeKey).Methods(http.MethodDelete)
}

// keyView is a key as the admin API shows it. Secret is set only in the
// answer to its creation.
type keyView struct {
	Object string `json:"object"`
	*auth.Key
	Status string `json:"status"`
	Secret string `json:"key,omitempty"`
}

func viewKey(k *auth.Key) keyView {
	return keyView{Object: "api_key", Key: k, Status: k.Status(time.Now())}
}

// maxAdminBody bounds an admin request's JSON body.
const maxAdminBody = 1 << 20

// decodeAdminJSON decodes the request's JSON object into v, refusing
// unknown members and anything after the object.
func decodeAdminJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return badRequest("", "reading the request body failed")
	}
	if len(body) > maxAdminBody {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest, Message: "the request body is too large"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("", "the request body is not a valid key object: "+err.Error())
	}
	if dec.More() {
		return badRequest("", "the request body has data after its JSON object")
	}
	return nil
}

func (s *Server) adminCreateKey(w http.ResponseWriter, r *http.Request) {
	var spec auth.Spec
	if err := decodeAdminJSON(r, &spec); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	k, secret, err := s.acl.keys.Create(spec)
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	s.log.Info("auth: key created", "key_id", k.ID, "tenant", k.Tenant, "name", k.Name)
	v := viewKey(k)
	v.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) adminListKeys(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get("tenant")
	if tenant != "" && !auth.ValidTenant(tenant) {
		writeError(w, badRequest("tenant", "tenant must be 1 to 64 letters, digits, '.', '_' or '-'"))
		return
	}
	keys := s.acl.keys.List(tenant)
	data := make([]keyView, len(keys))
	for i, k := range keys {
		data[i] = viewKey(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) adminGetKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.acl.keys.Get(mux.Vars(r)["id"])
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	writeJSON(w, http.StatusOK, viewKey(k))
}

func (s *Server) adminPatchKey(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if _, err := s.acl.keys.Get(id); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	var p auth.Patch
	if err := decodeAdminJSON(r, &p); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	k, err := s.acl.keys.Update(id, &p)
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	s.log.Info("auth: key changed", "key_id", k.ID, "tenant", k.Tenant)
	writeJSON(w, http.StatusOK, viewKey(k))
}

func (s *Server) adminRevokeKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.acl.keys.Revoke(mux.Vars(r)["id"])
	if err != nil {
		if !errors.Is(err, auth.ErrNotFound) {
			s.log.Error("auth: revoking a key failed", "key_id", mux.Vars(r)["id"], "error", err)
		}
		writeError(w, toAPIError(err))
		return
	}
	s.log.Info("auth: key revoked", "key_id", k.ID, "tenant", k.Tenant)
	writeJSON(w, http.StatusOK, viewKey(k))
}
