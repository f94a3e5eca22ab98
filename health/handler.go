package health

import (
	"encoding/json"
	"net/http"
)

// LiveHandler serves liveness: 200 while the hub's Run executes, 503
// otherwise, with the Report from Live as a JSON body. It runs no checks.
func (c *Checker) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r, ok := c.Live()
		writeReport(w, r, ok)
	})
}

// ReadyHandler serves readiness: 200 while the hub accepts connections and
// every check that gates readiness passes (ReportOnly checks, such as the
// default "adapter" check, are reported but do not count), 503 otherwise,
// with the Report from Ready as a JSON body. The checks are bounded by the
// request's context as well as by their timeouts.
func (c *Checker) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r, ok := c.Ready(req.Context())
		writeReport(w, r, ok)
	})
}

func writeReport(w http.ResponseWriter, r Report, ok bool) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	// The status line is out; an encoding error can only be a write error
	// of a gone client, which nobody can act on.
	_ = json.NewEncoder(w).Encode(r)
}
