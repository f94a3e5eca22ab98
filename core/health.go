package core

import (
	"encoding/json"
	"net/http"
	"time"
)

// HealthStatus is a snapshot of a hub's health, for probes. As JSON its
// keys are alive, ready, state, uptime_ns and clients.
type HealthStatus struct {
	// Alive is true while Run executes.
	Alive bool `json:"alive"`
	// Ready is true while the hub is alive and accepts connections.
	Ready bool `json:"ready"`
	// State is "running", "draining", "stopped" or "created".
	State string `json:"state"`
	// Uptime is the time since Run started (zero before).
	Uptime time.Duration `json:"uptime_ns"`
	// Clients is the number of local clients.
	Clients int `json:"clients"`
}

// Alive reports whether Run is executing.
func (h *Hub) Alive() bool { return h.alive.Load() }

// Ready reports whether the hub is alive and accepting connections (not
// draining or stopped).
func (h *Hub) Ready() bool { return h.alive.Load() && h.State() == StateRunning }

// Uptime returns the time since Run started, or zero.
func (h *Hub) Uptime() time.Duration {
	s := h.startedAt.Load()
	if s == 0 || !h.alive.Load() {
		return 0
	}
	return time.Since(time.Unix(0, s))
}

// Health returns a HealthStatus snapshot without taking locks.
func (h *Hub) Health() HealthStatus {
	return HealthStatus{
		Alive:   h.Alive(),
		Ready:   h.Ready(),
		State:   h.State().String(),
		Uptime:  h.Uptime(),
		Clients: h.ClientCount(),
	}
}

// HealthHandler serves liveness: 200 while Run executes, 503 otherwise,
// with the HealthStatus as a JSON body.
func (h *Hub) HealthHandler() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		s := h.Health()
		writeHealth(w, s, s.Alive)
	}
}

// ReadyHandler serves readiness: 200 while the hub accepts connections, 503
// before Run, while draining and after Shutdown, with the HealthStatus as a
// JSON body.
func (h *Hub) ReadyHandler() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		s := h.Health()
		writeHealth(w, s, s.Ready)
	}
}

func writeHealth(w http.ResponseWriter, s HealthStatus, ok bool) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(s)
}
