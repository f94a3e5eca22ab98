package health_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/health"
)

// fakeAdapter is a single-node core.Adapter whose link health the test sets.
type fakeAdapter struct {
	mu   sync.Mutex
	down error
}

var (
	_ core.Adapter            = (*fakeAdapter)(nil)
	_ core.HealthCheckAdapter = (*fakeAdapter)(nil)
)

func (f *fakeAdapter) Publish(context.Context, core.AdapterMessage) error { return nil }

func (f *fakeAdapter) Subscribe(context.Context, func(core.AdapterMessage)) error { return nil }

func (f *fakeAdapter) Close() error { return nil }

func (f *fakeAdapter) CheckHealth(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *fakeAdapter) setDown(err error) {
	f.mu.Lock()
	f.down = err
	f.mu.Unlock()
}

func TestAdapterCheckIsAutomatic(t *testing.T) {
	a := &fakeAdapter{}
	hub := core.NewHub(core.WithAdapter(a))
	runHub(t, hub)
	c := health.New(hub)
	require.Equal(t, []string{health.AdapterCheckName}, c.CheckNames())

	p := get(t, c.ReadyHandler())
	assert.Equal(t, http.StatusOK, p.code)
	assert.Equal(t, "ok", p.body["status"])
	assert.Equal(t, true, p.check("adapter")["ok"])
	assert.Equal(t, true, p.check("adapter")["report_only"])
}

// By default a broker outage shows in the readiness report but leaves
// readiness at 200: the node still serves its own clients. With
// WithAdapterRequired it turns readiness 503. Liveness never looks at it.
func TestAdapterDownReadiness(t *testing.T) {
	tests := []struct {
		name       string
		give       []health.Option
		wantCode   int
		wantStatus string
		wantReady  bool
	}{
		{
			name:       "default: reported, not gating",
			wantCode:   http.StatusOK,
			wantStatus: health.StatusDegraded,
			wantReady:  true,
		},
		{
			name:       "WithAdapterRequired",
			give:       []health.Option{health.WithAdapterRequired()},
			wantCode:   http.StatusServiceUnavailable,
			wantStatus: health.StatusUnavailable,
			wantReady:  false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &fakeAdapter{}
			hub := core.NewHub(core.WithAdapter(a))
			runHub(t, hub)
			c := health.New(hub, tt.give...)
			assert.Equal(t, http.StatusOK, get(t, c.ReadyHandler()).code, "the broker is up")

			a.setDown(errors.New("nats: no servers available"))
			p := get(t, c.ReadyHandler())
			assert.Equal(t, tt.wantCode, p.code)
			assert.Equal(t, tt.wantStatus, p.body["status"])
			assert.Equal(t, tt.wantReady, p.body["ready"])
			assert.Equal(t, false, p.check("adapter")["ok"], "the outage is reported either way")
			assert.Equal(t, "nats: no servers available", p.check("adapter")["error"])

			r, ok := c.Ready(context.Background())
			assert.Equal(t, tt.wantReady, ok)
			assert.False(t, r.Checks[health.AdapterCheckName].OK)

			live := get(t, c.LiveHandler())
			assert.Equal(t, http.StatusOK, live.code, "liveness ignores the broker")
			assert.Equal(t, "ok", live.body["status"])
			assert.NotContains(t, live.body, "checks")

			a.setDown(nil)
			p = get(t, c.ReadyHandler())
			assert.Equal(t, http.StatusOK, p.code, "the broker is back")
			assert.Equal(t, "ok", p.body["status"])
		})
	}
}

// A ReportOnly adapter check does not hide a failing application check,
// nor a hub that is not accepting connections.
func TestAdapterReportOnlyDoesNotMaskOthers(t *testing.T) {
	a := &fakeAdapter{down: errors.New("down")}
	hub := core.NewHub(core.WithAdapter(a))
	c := health.New(hub, health.WithCheckFunc("db", func(context.Context) error { return errors.New("db down") }))
	_, ok := c.Ready(context.Background())
	assert.False(t, ok, "hub not running yet")

	runHub(t, hub)
	r, ok := c.Ready(context.Background())
	assert.False(t, ok, "the app's check gates")
	assert.Equal(t, health.StatusUnavailable, r.Status)
	assert.True(t, r.Checks["adapter"].ReportOnly)
	assert.False(t, r.Checks["db"].ReportOnly)
}

func TestAdapterCheckOptOutAndOverride(t *testing.T) {
	a := &fakeAdapter{down: errors.New("down")}
	hub := core.NewHub(core.WithAdapter(a))
	runHub(t, hub)

	_, ok := health.New(hub, health.WithoutAdapterCheck()).Ready(context.Background())
	assert.True(t, ok, "opted out of the adapter check")

	_, ok = health.New(hub, health.WithoutAdapterCheck(), health.WithAdapterRequired()).Ready(context.Background())
	assert.True(t, ok, "WithAdapterRequired without a check to require")

	c := health.New(hub, health.WithCheckFunc(health.AdapterCheckName, okCheck))
	assert.Equal(t, []string{"adapter"}, c.CheckNames())
	_, ok = c.Ready(context.Background())
	assert.True(t, ok, "explicit adapter check replaces the automatic one")

	// An application's own "adapter" check gates, as any check of WithCheck.
	c = health.New(hub, health.WithCheckFunc(health.AdapterCheckName, func(context.Context) error { return errors.New("mine") }))
	r, ok := c.Ready(context.Background())
	assert.False(t, ok)
	assert.False(t, r.Checks[health.AdapterCheckName].ReportOnly)
}

// plainAdapter implements no optional interface.
type plainAdapter struct{}

func (plainAdapter) Publish(context.Context, core.AdapterMessage) error         { return nil }
func (plainAdapter) Subscribe(context.Context, func(core.AdapterMessage)) error { return nil }
func (plainAdapter) Close() error                                               { return nil }

func TestAdapterWithoutHealthCheck(t *testing.T) {
	hub := core.NewHub(core.WithAdapter(plainAdapter{}))
	assert.Empty(t, health.New(hub).CheckNames())
}
