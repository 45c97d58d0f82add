package gateway

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/semgate/semgate/providers/route"
)

// routingAdminRoutes adds GET /admin/usage to the (loopback-only) admin
// router: spend totals by model, deployment, key and tenant for
// ?period=total (default), day, month, YYYY-MM or YYYY-MM-DD, and every
// deployment's health.
func (s *Server) routingAdminRoutes(a *mux.Router) {
	a.HandleFunc("/usage", s.adminUsage).Methods(http.MethodGet)
}

func (s *Server) adminUsage(w http.ResponseWriter, r *http.Request) {
	acct := s.routing.acct
	period, err := acct.resolvePeriod(r.URL.Query().Get("period"))
	if errors.Is(err, errBadPeriod) {
		writeError(w, badRequest("period", "period must be total, day, month, YYYY-MM or YYYY-MM-DD"))
		return
	}
	rep, err := acct.report(period)
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	rep.PricesDate = route.PricesDate
	rep.Health = map[string]route.Status{}
	for label, h := range s.routing.engine.Health() {
		rep.Health[label] = h.Status()
	}
	writeJSON(w, http.StatusOK, rep)
}
