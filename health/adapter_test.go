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
	assert.Equal(t, true, p.check("adapter")["ok"])

	a.setDown(errors.New("nats: no servers available"))
	p = get(t, c.ReadyHandler())
	assert.Equal(t, http.StatusServiceUnavailable, p.code)
	assert.Equal(t, false, p.check("adapter")["ok"])
	assert.Equal(t, "nats: no servers available", p.check("adapter")["error"])
	assert.Equal(t, http.StatusOK, get(t, c.LiveHandler()).code, "liveness ignores the broker")
}

func TestAdapterCheckOptOutAndOverride(t *testing.T) {
	a := &fakeAdapter{down: errors.New("down")}
	hub := core.NewHub(core.WithAdapter(a))
	runHub(t, hub)

	_, ok := health.New(hub, health.WithoutAdapterCheck()).Ready(context.Background())
	assert.True(t, ok, "opted out of the adapter check")

	c := health.New(hub, health.WithCheckFunc(health.AdapterCheckName, okCheck))
	assert.Equal(t, []string{"adapter"}, c.CheckNames())
	_, ok = c.Ready(context.Background())
	assert.True(t, ok, "explicit adapter check replaces the automatic one")
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
