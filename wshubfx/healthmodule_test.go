package wshubfx_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/health"
	"github.com/wshub/wshub/wshubfx"
)

// switchableAdapter is an in-memory adapter whose broker link the test
// takes down and brings back.
type switchableAdapter struct {
	*memory.Adapter
	down atomic.Bool
}

func (a *switchableAdapter) CheckHealth(context.Context) error {
	if a.down.Load() {
		return errors.New("broker: connection refused")
	}
	return nil
}

// A broker outage through the HealthModule: the readiness body reports the
// adapter failing either way; readiness stays 200 by default and turns
// 503 with Config.HealthAdapterRequired. Liveness stays 200 in both.
func TestHealthModuleBrokerOutage(t *testing.T) {
	tests := []struct {
		name       string
		required   bool
		wantCode   int
		wantStatus string
	}{
		{name: "default", wantCode: http.StatusOK, wantStatus: health.StatusDegraded},
		{name: "HealthAdapterRequired", required: true, wantCode: http.StatusServiceUnavailable, wantStatus: health.StatusUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := localConfig()
			cfg.HTTP.AdminAddr = "127.0.0.1:0"
			cfg.HealthAdapterRequired = tt.required
			a := &switchableAdapter{Adapter: memory.NewBus().NewAdapter()}
			var srv *wshubfx.Server
			startApp(t, wshubfx.Module, wshubfx.HealthModule, wshubfx.HTTPModule, fx.Supply(cfg),
				fx.Decorate(func() core.Adapter { return a }),
				fx.Populate(&srv))
			admin := "http://" + srv.AdminAddr()

			code, report := readyReport(t, admin)
			require.Equal(t, http.StatusOK, code, "the broker is up")
			assert.Equal(t, health.StatusOK, report.Status)
			assert.True(t, report.Checks[health.AdapterCheckName].OK)
			assert.Equal(t, !tt.required, report.Checks[health.AdapterCheckName].ReportOnly)

			a.down.Store(true)
			code, report = readyReport(t, admin)
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantStatus, report.Status)
			assert.Equal(t, code == http.StatusOK, report.Ready)
			adapter := report.Checks[health.AdapterCheckName]
			assert.False(t, adapter.OK, "the outage shows in the body")
			assert.Equal(t, "broker: connection refused", adapter.Error)

			code, body := get(t, admin+"/healthz")
			assert.Equal(t, http.StatusOK, code, "liveness never depends on the broker: %s", body)

			a.down.Store(false)
			code, report = readyReport(t, admin)
			assert.Equal(t, http.StatusOK, code, "the broker is back")
			assert.Equal(t, health.StatusOK, report.Status)
		})
	}
}

// Checks contributed to the group gate readiness as before; one marked
// ReportOnly does not.
func TestHealthModuleGroupChecksGate(t *testing.T) {
	var srv *wshubfx.Server
	failing := func(context.Context) error { return errors.New("down") }
	startApp(t, wshubfx.Module, wshubfx.HealthModule, wshubfx.HTTPModule, fx.Supply(localConfig()),
		wshubfx.AsHealthCheck(health.Check{Name: "cache", ReportOnly: true, Func: failing}),
		fx.Populate(&srv))
	code, report := readyReport(t, "http://"+srv.Addr())
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, health.StatusDegraded, report.Status)

	startApp(t, wshubfx.Module, wshubfx.HealthModule, wshubfx.HTTPModule, fx.Supply(localConfig()),
		wshubfx.AsHealthCheck(health.Check{Name: "db", Func: failing}),
		fx.Populate(&srv))
	code, report = readyReport(t, "http://"+srv.Addr())
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.False(t, report.Checks["db"].OK)
}

// Config.HealthTimeout is the per-check default; zero keeps
// health.DefaultTimeout, under kubelet's default probe timeout.
func TestHealthModuleTimeout(t *testing.T) {
	var left atomic.Int64 // the time the hanging check was given
	hangs := health.Check{Name: "hangs", Func: func(ctx context.Context) error {
		dl, _ := ctx.Deadline()
		left.Store(int64(time.Until(dl)))
		<-ctx.Done()
		return ctx.Err()
	}}
	for _, give := range []time.Duration{0, 50 * time.Millisecond} {
		cfg := localConfig()
		cfg.HealthTimeout = give
		var checker *health.Checker
		startApp(t, wshubfx.Module, wshubfx.HealthModule, fx.Supply(cfg),
			wshubfx.AsHealthCheck(hangs), fx.Populate(&checker))
		r, ok := checker.Ready(context.Background())
		assert.False(t, ok)
		require.ErrorIs(t, r.Checks["hangs"].Err, health.ErrCheckTimeout)
		want := give
		if give == 0 {
			want = health.DefaultTimeout
		}
		assert.LessOrEqual(t, time.Duration(left.Load()), want, "HealthTimeout %v: the check's deadline", give)
	}
}

// readyReport fetches base/readyz and decodes its report.
func readyReport(t *testing.T, base string) (int, health.Report) {
	t.Helper()
	code, body := get(t, base+"/readyz")
	var r health.Report
	require.NoError(t, json.Unmarshal([]byte(body), &r), body)
	return code, r
}
