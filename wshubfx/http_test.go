package wshubfx_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/health"
	"github.com/wshub/wshub/wshubfx"
)

// localConfig listens on free loopback ports.
func localConfig() wshubfx.Config {
	return wshubfx.Config{StopTimeout: time.Second, HTTP: wshubfx.HTTPConfig{Addr: "127.0.0.1:0"}}
}

func TestHTTPModuleServesEverything(t *testing.T) {
	var srv *wshubfx.Server
	var hub *core.Hub
	startApp(t,
		wshubfx.Module, wshubfx.LoggingModule, wshubfx.MetricsModule, wshubfx.HealthModule, wshubfx.HTTPModule,
		fx.Supply(localConfig()),
		wshubfx.AsRoute("echo", func(c *core.Client, m *core.Message) error { return c.Send(m.Data) }),
		wshubfx.AsEndpoint("/hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("hello"))
		})),
		wshubfx.AsHealthCheck(health.Check{Name: "db", Func: func(context.Context) error { return nil }}),
		fx.Populate(&srv, &hub))

	base := "http://" + srv.Addr()
	require.NotEmpty(t, srv.Addr())
	assert.Empty(t, srv.AdminAddr())

	conn := dialHub(t, hub, "ws://"+srv.Addr()+"/ws")
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"echo"}`)))
	assert.JSONEq(t, `{"type":"echo"}`, readText(t, conn))

	code, body := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"alive":true`)

	code, body = get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	var ready health.Report
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	assert.Equal(t, 1, ready.Clients)
	assert.True(t, ready.Checks["db"].OK, "group checks are registered: %s", body)

	code, body = get(t, base+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "wshub_connections_open 1")
	assert.Contains(t, body, "go_goroutines", "the module's own registry has runtime metrics")

	code, body = get(t, base+"/hello")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "hello", body)
}

func TestHTTPModuleAlone(t *testing.T) {
	var srv *wshubfx.Server
	startApp(t, wshubfx.Module, wshubfx.HTTPModule, fx.Supply(localConfig()), fx.Populate(&srv))
	base := "http://" + srv.Addr()
	code, body := get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code, "the hub's own readiness handler")
	assert.Contains(t, body, `"state":"running"`)
	code, _ = get(t, base+"/metrics")
	assert.Equal(t, http.StatusNotFound, code, "no Gatherer, no /metrics")
}

func TestHTTPModuleUsesTheAppsGatherer(t *testing.T) {
	reg := prometheus.NewRegistry()
	var srv *wshubfx.Server
	app := startApp(t, wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule,
		fx.Supply(localConfig()),
		fx.Supply(fx.Annotate(reg, fx.As(new(prometheus.Registerer)), fx.As(new(prometheus.Gatherer)))),
		fx.Populate(&srv))
	code, body := get(t, "http://"+srv.Addr()+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "wshub_connections_open 0")
	assert.NotContains(t, body, "go_goroutines", "the app's registry is served as is")

	app.RequireStop()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		assert.NotContains(t, f.GetName(), "wshub_", "unregistered on stop")
	}
}

func TestAdminServerServesProbes(t *testing.T) {
	cfg := localConfig()
	cfg.HTTP.AdminAddr = "127.0.0.1:0"
	var srv *wshubfx.Server
	startApp(t, wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule, fx.Supply(cfg), fx.Populate(&srv))
	require.NotEmpty(t, srv.AdminAddr())
	require.NotEqual(t, srv.Addr(), srv.AdminAddr())
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		code, _ := get(t, "http://"+srv.AdminAddr()+path)
		assert.Equal(t, http.StatusOK, code, "admin %s", path)
		code, _ = get(t, "http://"+srv.Addr()+path)
		assert.Equal(t, http.StatusNotFound, code, "main %s", path)
	}
}

func TestListenErrorFailsStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	cfg := localConfig()
	cfg.HTTP.Addr = taken.Addr().String()

	var hub *core.Hub
	app := fxtest.New(t, fx.NopLogger, wshubfx.Module, wshubfx.HTTPModule, fx.Supply(cfg), fx.Populate(&hub))
	err = app.Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "address already in use")
	assert.Equal(t, core.StateStopped, hub.State(), "the started hub was rolled back")
}

func TestInvalidEndpointsFailConstruction(t *testing.T) {
	h := http.NotFoundHandler()
	tests := []struct {
		name string
		give fx.Option
	}{
		{name: "duplicate", give: fx.Options(wshubfx.AsEndpoint("/x", h), wshubfx.AsEndpoint("/x", h))},
		{name: "module path", give: wshubfx.AsEndpoint("/ws", h)},
		{name: "module path with a method", give: wshubfx.AsEndpoint("GET /ws", h)},
		{name: "probe path with method and host", give: wshubfx.AsEndpoint("GET localhost/readyz", h)},
		{name: "no handler", give: wshubfx.AsEndpoint("/x", nil)},
		{name: "bad pattern", give: wshubfx.AsEndpoint("/x/{bad", h)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.HTTPModule, fx.Supply(localConfig()), tt.give)
			require.ErrorIs(t, app.Err(), wshubfx.ErrInvalidContribution)
		})
	}
}

func TestDuplicateHealthChecksFailConstruction(t *testing.T) {
	ok := func(context.Context) error { return nil }
	app := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.HealthModule,
		wshubfx.AsHealthCheck(health.Check{Name: "db", Func: ok}),
		wshubfx.AsHealthCheck(health.Check{Name: "db", Func: ok}),
		fx.Invoke(func(*health.Checker) {}))
	require.ErrorIs(t, app.Err(), wshubfx.ErrInvalidContribution)
}

func TestHealthChecksAreSortedByName(t *testing.T) {
	ok := func(context.Context) error { return nil }
	var checker *health.Checker
	startApp(t, wshubfx.Module, wshubfx.HealthModule,
		wshubfx.AsHealthCheck(health.Check{Name: "cache", Func: ok}),
		wshubfx.AsHealthCheck(health.Check{Name: "auth", Func: ok}),
		wshubfx.ProvideHealthCheck(func() health.Check { return health.Check{Name: "broker", Func: ok} }),
		fx.Populate(&checker))
	assert.Equal(t, []string{"auth", "broker", "cache"}, checker.CheckNames())
}

// A client that sends headers too slowly is cut off by ReadHeaderTimeout.
func TestReadHeaderTimeout(t *testing.T) {
	cfg := localConfig()
	cfg.HTTP.ReadHeaderTimeout = 100 * time.Millisecond
	var srv *wshubfx.Server
	startApp(t, wshubfx.Module, wshubfx.HTTPModule, fx.Supply(cfg), fx.Populate(&srv))
	conn, err := net.Dial("tcp", srv.Addr())
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	_, err = conn.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n")) // headers never end
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
	start := time.Now()
	buf := make([]byte, 512)
	for {
		if _, err = conn.Read(buf); err != nil {
			break
		}
	}
	// EOF or a reset: the server hung up, not our read deadline.
	var ne net.Error
	if errors.As(err, &ne) {
		assert.False(t, ne.Timeout(), "the server closed the connection before our deadline")
	}
	assert.Less(t, time.Since(start), waitFor/2)
}

func TestValidateModuleCombinations(t *testing.T) {
	mods := map[string]fx.Option{
		"logging": wshubfx.LoggingModule,
		"metrics": wshubfx.MetricsModule,
		"health":  wshubfx.HealthModule,
		"http":    wshubfx.HTTPModule,
	}
	names := []string{"logging", "metrics", "health", "http"}
	for mask := range 1 << len(names) {
		var label []string
		opts := []fx.Option{wshubfx.Module, fx.Invoke(func(*core.Hub) {})}
		for i, n := range names {
			if mask&(1<<i) != 0 {
				label = append(label, n)
				opts = append(opts, mods[n])
			}
		}
		t.Run("module+"+strings.Join(label, "+"), func(t *testing.T) {
			require.NoError(t, fx.ValidateApp(append([]fx.Option{fx.NopLogger}, opts...)...))
		})
	}
	t.Run("fx logger", func(t *testing.T) {
		require.NoError(t, fx.ValidateApp(fx.NopLogger, wshubfx.FxLogger, wshubfx.LoggingModule, wshubfx.Module))
	})
}

// A request that streams until its client leaves does not use up fx's stop
// time: the main server closes it after its share, and the hub still
// drains and stops.
func TestStreamingRequestDoesNotStarveHubStop(t *testing.T) {
	entered := make(chan struct{})
	var srv *wshubfx.Server
	var hub *core.Hub
	app := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.HTTPModule,
		fx.Supply(localConfig()), fx.Populate(&srv, &hub),
		wshubfx.AsEndpoint("/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			close(entered)
			<-r.Context().Done() // streams until the client leaves
		})))
	require.NoError(t, app.Start(context.Background()))
	resp, err := http.Get("http://" + srv.Addr() + "/events")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }() // the client stays to the end
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, app.Stop(ctx))
	assert.Equal(t, core.StateStopped, hub.State())
}

// A graph that fails to build leaves nothing registered on the app's
// registry, so a later app may register there.
func TestFailedGraphLeavesRegistryClean(t *testing.T) {
	reg := prometheus.NewRegistry()
	supplyReg := fx.Supply(fx.Annotate(reg, fx.As(new(prometheus.Registerer)), fx.As(new(prometheus.Gatherer))))
	bad := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.MetricsModule, supplyReg,
		fx.Invoke(func(*core.Hub) error { return errors.New("a later part of the app fails") }))
	require.Error(t, bad.Err())
	var srv *wshubfx.Server
	startApp(t, wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule, supplyReg,
		fx.Supply(localConfig()), fx.Populate(&srv))
	_, body := get(t, "http://"+srv.Addr()+"/metrics")
	assert.Contains(t, body, "wshub_connections_open ")
}

// An app that gives a Gatherer but no Registerer gets the hub's metrics
// served along with its own.
func TestAppGathererWithoutRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	appCounter := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_things_total", Help: "The app's own."})
	reg.MustRegister(appCounter)
	var srv *wshubfx.Server
	startApp(t, wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule,
		fx.Supply(localConfig()),
		fx.Supply(fx.Annotate(reg, fx.As(new(prometheus.Gatherer)))),
		fx.Populate(&srv))
	_, body := get(t, "http://"+srv.Addr()+"/metrics")
	assert.Contains(t, body, "wshub_connections_open ")
	assert.Contains(t, body, "app_things_total ")
}

// Two running apps on one registry: the second fails to start with a clear
// error, and the first keeps its metrics.
func TestSecondAppOnSameRegistryFailsStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	supplyReg := fx.Supply(fx.Annotate(reg, fx.As(new(prometheus.Registerer)), fx.As(new(prometheus.Gatherer))))
	var srv *wshubfx.Server
	startApp(t, wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule, supplyReg,
		fx.Supply(localConfig()), fx.Populate(&srv))
	second := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.MetricsModule, supplyReg)
	require.NoError(t, second.Err())
	err := second.Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wshubfx: metrics")
	_, body := get(t, "http://"+srv.Addr()+"/metrics")
	assert.Contains(t, body, "wshub_connections_open ")
}

// downAdapter is an adapter whose broker link is down.
type downAdapter struct{ core.Adapter }

func (downAdapter) CheckHealth(context.Context) error { return errors.New("link down") }

// Without the HealthModule, readiness is the hub's own and ignores the
// adapter; with it, the adapter's link is reported in the body and gates
// readiness only with Config.HealthAdapterRequired (see
// healthmodule_test.go).
func TestReadinessChecksAdapterWithHealthModuleOnly(t *testing.T) {
	tests := []struct {
		name       string
		withHealth bool
		required   bool
		wantCode   int
		wantLink   bool // the body reports the link
	}{
		{name: "hub's own readiness", wantCode: http.StatusOK},
		{name: "HealthModule", withHealth: true, wantCode: http.StatusOK, wantLink: true},
		{name: "HealthModule, adapter required", withHealth: true, required: true, wantCode: http.StatusServiceUnavailable, wantLink: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := localConfig()
			cfg.HealthAdapterRequired = tt.required
			opts := []fx.Option{wshubfx.Module, wshubfx.HTTPModule, fx.Supply(cfg),
				fx.Decorate(func() core.Adapter { return downAdapter{memory.NewBus().NewAdapter()} })}
			if tt.withHealth {
				opts = append(opts, wshubfx.HealthModule)
			}
			var srv *wshubfx.Server
			startApp(t, append(opts, fx.Populate(&srv))...)
			code, body := get(t, "http://"+srv.Addr()+"/readyz")
			assert.Equal(t, tt.wantCode, code, body)
			if tt.wantLink {
				assert.Contains(t, body, "link down")
			} else {
				assert.NotContains(t, body, "link down")
			}
			code, body = get(t, "http://"+srv.Addr()+"/healthz")
			assert.Equal(t, http.StatusOK, code, "liveness ignores the adapter: %s", body)
		})
	}
}

// An app serving its own /metrics (without the MetricsModule) may, and an
// escaped pattern cannot take the module's WebSocket path.
func TestOwnPathsAndEscapedPatterns(t *testing.T) {
	h := http.NotFoundHandler()
	app := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.HTTPModule, fx.Supply(localConfig()),
		wshubfx.AsEndpoint("/metrics", h))
	require.NoError(t, app.Err())
	for _, pattern := range []string{"GET /w%73", "example.com/w%73", "GET example.com/w%73", "POST /w%73", "HEAD /ready%7A"} {
		app = fx.New(fx.NopLogger, wshubfx.Module, wshubfx.HTTPModule, fx.Supply(localConfig()),
			wshubfx.AsEndpoint(pattern, h))
		require.ErrorIs(t, app.Err(), wshubfx.ErrInvalidContribution, pattern)
	}
	// A WSPath given with a method still builds.
	cfg := localConfig()
	cfg.HTTP.WSPath = "GET /ws"
	require.NoError(t, fx.New(fx.NopLogger, wshubfx.Module, wshubfx.HTTPModule, fx.Supply(cfg)).Err())
}

// An app can leave the adapter check out of the HealthModule's readiness by
// decorating the checker, as the README says.
func TestDecoratedCheckerWithoutAdapterCheck(t *testing.T) {
	var srv *wshubfx.Server
	startApp(t, wshubfx.Module, wshubfx.HealthModule, wshubfx.HTTPModule, fx.Supply(localConfig()),
		fx.Decorate(func() core.Adapter { return downAdapter{memory.NewBus().NewAdapter()} }),
		fx.Decorate(func(hub *core.Hub) *health.Checker { return health.New(hub, health.WithoutAdapterCheck()) }),
		fx.Populate(&srv))
	code, body := get(t, "http://"+srv.Addr()+"/readyz")
	assert.Equal(t, http.StatusOK, code, body)
}
