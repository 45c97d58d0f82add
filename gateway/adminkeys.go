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
	"github.com/semgate/semgate/gateway/limits"
)

// adminKeyRoutes adds the virtual key API to the admin router:
//
//	POST   /admin/keys        create: 201 with the key and its secret ("key"), shown this once
//	GET    /admin/keys        list (?tenant= to filter), never with secrets
//	GET    /admin/keys/{id}   one key, with its budgets' state and its usage
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

// keyDetail is GET /admin/keys/{id}'s answer: the key, the state of the
// budgets that apply to its requests (its own and its tenant's, in their
// current periods: the cluster's in cluster mode), and its usage since
// this replica's records began (what it cost, and what its cache hits
// saved).
type keyDetail struct {
	keyView
	Budgets []budgetView `json:"budgets"`
	Usage   totalsView   `json:"usage"`
}

// budgetView is a budget's state in its current period.
type budgetView struct {
	// Scope is "key" (the key's own budget) or "tenant" (its tenant's,
	// shared by all its keys).
	Scope string `json:"scope"`
	Name  string `json:"name"`
	// Period is "day" or "month" (UTC); Current names the current one,
	// "2026-12-06" or "2026-12".
	Period      string    `json:"period"`
	Current     string    `json:"current_period"`
	MaxUSD      float64   `json:"max_usd"`
	SpentUSD    float64   `json:"spent_usd"`
	ReservedUSD float64   `json:"reserved_usd"` // held by requests in flight
	LeftUSD     float64   `json:"left_usd"`     // negative when overspent
	RenewsAt    time.Time `json:"renews_at"`
}

func (s *Server) adminGetKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.acl.keys.Get(mux.Vars(r)["id"])
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	d := keyDetail{keyView: viewKey(k), Budgets: []budgetView{}, Usage: view(s.routing.acct.totalsOf(dimKey, k.ID, periodTotal))}
	if q := s.quota; q != nil {
		now := q.now()
		for _, b := range q.budgetsOf(&auth.Principal{Tenant: k.Tenant, Key: k}) {
			spent, reserved, err := q.budgets.Status(r.Context(), b, now)
			if err != nil {
				writeError(w, &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "budget_unavailable", RetryAfter: 1,
					Message: "semgate could not read the key's budgets; retry shortly."})
				return
			}
			d.Budgets = append(d.Budgets, budgetView{
				Scope: b.Scope.String(), Name: b.Name, Period: b.Period, Current: limits.PeriodOf(b.Period, now),
				MaxUSD: nanoToUSD(b.MaxNano), SpentUSD: nanoToUSD(spent), ReservedUSD: nanoToUSD(reserved),
				LeftUSD: nanoToUSD(b.MaxNano - spent - reserved), RenewsAt: limits.PeriodEnd(b.Period, now),
			})
		}
	}
	writeJSON(w, http.StatusOK, d)
}

func nanoToUSD(n int64) float64 { return float64(n) / 1e9 }

// totalsOf is a copy of the totals of a key or tenant (dim) in a period
// held in memory (the current day and month, and the total).
func (a *accountant) totalsOf(dim byte, name, period string) *Totals {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.totals[spendKey{period, dim, name}]; t != nil {
		c := *t
		return &c
	}
	return &Totals{}
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
