package wshubfx_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/logging"
	"github.com/wshub/wshub/wshubfx"
)

func TestModuleDefaults(t *testing.T) {
	var (
		hub     *core.Hub
		logger  core.Logger
		metrics core.MetricsCollector
		adapter core.Adapter
		hooks   core.Hooks
		router  *core.Router
	)
	app := startApp(t, wshubfx.Module, fx.Populate(&hub, &logger, &metrics, &adapter, &hooks, &router))
	assert.IsType(t, &core.NoOpLogger{}, logger)
	assert.IsType(t, &core.NoOpMetrics{}, metrics)
	assert.Nil(t, adapter)
	assert.Nil(t, hub.Adapter(), "no adapter: a single node")
	assert.Nil(t, hooks.AfterConnect)
	assert.Equal(t, 0, router.Events())
	assert.Equal(t, core.StateRunning, hub.State(), "OnStart returns once the hub runs")
	assert.True(t, hub.Ready())

	app.RequireStop()
	assert.Equal(t, core.StateStopped, hub.State())
	assert.False(t, hub.Alive())
}

func TestConfigCanBeSuppliedReplacedOrDecorated(t *testing.T) {
	tests := []struct {
		name string
		give fx.Option
		want string
	}{
		{name: "default", give: fx.Options(), want: ""},
		{name: "supply", give: fx.Supply(wshubfx.Config{NodeID: "supplied"}), want: "supplied"},
		{name: "replace", give: fx.Replace(wshubfx.Config{NodeID: "replaced"}), want: "replaced"},
		{name: "decorate", give: fx.Decorate(func() wshubfx.Config { return wshubfx.Config{NodeID: "decorated"} }), want: "decorated"},
		{
			name: "supply then decorate",
			give: fx.Options(
				fx.Supply(wshubfx.Config{NodeID: "base"}),
				fx.Decorate(func(c wshubfx.Config) wshubfx.Config { c.NodeID += "+decorated"; return c }),
			),
			want: "base+decorated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hub *core.Hub
			startApp(t, wshubfx.Module, tt.give, fx.Populate(&hub))
			if tt.want == "" {
				assert.NotEmpty(t, hub.NodeID(), "random node ID")
				return
			}
			assert.Equal(t, tt.want, hub.NodeID())
		})
	}
}

func TestDecorateLogger(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	var hub *core.Hub
	app := startApp(t, wshubfx.Module,
		fx.Supply(wshubfx.Config{StopTimeout: 400 * time.Millisecond}),
		fx.Decorate(func() core.Logger { return logging.NewZap(zap.New(obs)) }),
		fx.Populate(&hub))
	assert.Equal(t, 1, logs.FilterMessage("hub running").Len())

	dialHub(t, hub, serveHub(t, hub))
	app.RequireStop()
	// The hub's own log lines reach the decorated logger.
	assert.Equal(t, 1, logs.FilterMessage("draining").Len(), "%v", messages(logs))
	assert.Equal(t, 1, logs.FilterMessage("shutting down").Len(), "%v", messages(logs))
}

func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.Message)
	}
	return out
}

func TestDecorateMetrics(t *testing.T) {
	dm := core.NewDebugMetrics()
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		fx.Decorate(func() core.MetricsCollector { return dm }),
		fx.Populate(&hub))
	dialHub(t, hub, serveHub(t, hub))
	assert.Equal(t, int64(1), dm.Stats().ActiveConnections)
	assert.Equal(t, int64(1), dm.Stats().TotalConnections)
}

func TestReplaceMetrics(t *testing.T) {
	dm := core.NewDebugMetrics()
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		fx.Replace(fx.Annotate(dm, fx.As(new(core.MetricsCollector)))),
		fx.Populate(&hub))
	dialHub(t, hub, serveHub(t, hub))
	assert.Equal(t, int64(1), dm.Stats().ActiveConnections)
}

func TestDecorateAdapter(t *testing.T) {
	bus := memory.NewBus()
	a := bus.NewAdapter()
	var hub *core.Hub
	app := startApp(t, wshubfx.Module,
		fx.Decorate(func() core.Adapter { return a }),
		fx.Populate(&hub))
	require.Same(t, a, hub.Adapter())

	// A second node on the same bus receives the fx hub's broadcast.
	other := core.NewHub(core.WithAdapter(bus.NewAdapter()))
	go other.Run()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, other.WaitRunning(ctx))
	conn := dialHub(t, other, serveHub(t, other))
	defer func() {
		_ = conn.Close()
		require.NoError(t, other.Shutdown(ctx))
	}()
	hub.BroadcastText("across the bus")
	assert.Equal(t, "across the bus", readText(t, conn))

	app.RequireStop()
	require.ErrorIs(t, a.CheckHealth(ctx), core.ErrAdapterClosed, "Shutdown closes the adapter")
}

func TestDecorateAdapterWithTypedNilMeansNone(t *testing.T) {
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		fx.Decorate(func() core.Adapter { return (*memory.Adapter)(nil) }),
		fx.Populate(&hub))
	assert.Nil(t, hub.Adapter())
}

// A decorator that returns a typed nil collector means no metrics, not a
// nil pointer the hub would call on every connect.
func TestDecorateMetricsWithTypedNilMeansNone(t *testing.T) {
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		fx.Decorate(func() core.MetricsCollector { return (*core.DebugMetrics)(nil) }),
		fx.Populate(&hub))
	conn := dialHub(t, hub, serveHub(t, hub))
	hub.BroadcastText("still served")
	assert.Equal(t, "still served", readText(t, conn))
}

func TestDecorateHooks(t *testing.T) {
	connected := make(chan string, 1) // one client connects
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		fx.Decorate(func() core.Hooks {
			return core.Hooks{AfterConnect: func(c *core.Client) { connected <- c.ID }}
		}),
		fx.Populate(&hub))
	dial(t, serveHub(t, hub))
	select {
	case id := <-connected:
		assert.NotEmpty(t, id)
	case <-time.After(waitFor):
		t.Fatal("AfterConnect did not fire")
	}
}

func TestDecorateRouter(t *testing.T) {
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		fx.Decorate(func() *core.Router {
			// Events are the first word of a text message.
			return core.NewRouter(func(m *core.Message) string {
				word, _, _ := strings.Cut(m.Text(), " ")
				return word
			}).On("ping", func(c *core.Client, m *core.Message) error { return c.SendText("pong") })
		}),
		wshubfx.AsRoute("echo", func(c *core.Client, m *core.Message) error { return c.Send(m.Data) }),
		fx.Populate(&hub))
	conn := dialHub(t, hub, serveHub(t, hub))
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("ping now")))
	assert.Equal(t, "pong", readText(t, conn))
	// Group routes are registered on the decorated router too.
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("echo this")))
	assert.Equal(t, "echo this", readText(t, conn))
}

func TestDefaultRouterRoutesByJSONType(t *testing.T) {
	var hub *core.Hub
	errs := make(chan error, 1) // the one unroutable message below
	startApp(t, wshubfx.Module,
		wshubfx.AsRoute("chat", func(c *core.Client, m *core.Message) error {
			return c.SendText("chat:" + m.Text())
		}),
		fx.Decorate(func() core.Hooks {
			return core.Hooks{OnError: func(_ *core.Client, err error) { errs <- err }}
		}),
		fx.Populate(&hub))
	conn := dialHub(t, hub, serveHub(t, hub))
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"hi"}`)))
	assert.Equal(t, `chat:{"type":"chat","text":"hi"}`, readText(t, conn))

	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"nope"}`)))
	select {
	case err := <-errs:
		require.ErrorIs(t, err, core.ErrInvalidMessage)
	case <-time.After(waitFor):
		t.Fatal("no OnError for an unrouted event")
	}
}

func TestJSONTypeEvent(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: `{"type":"chat","text":"hi"}`, want: "chat"},
		{give: `{"text":"hi","type":"join"}`, want: "join"},
		{give: `{"type":3}`, want: ""},
		{give: `{"kind":"chat"}`, want: ""},
		{give: `["type","chat"]`, want: ""},
		{give: `not json`, want: ""},
		{give: ``, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, wshubfx.JSONTypeEvent(core.NewTextMessage(tt.give)))
		})
	}
}

func TestRouteConstructorMayDependOnHub(t *testing.T) {
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		wshubfx.ProvideRoute(func(h *core.Hub) wshubfx.Route {
			return wshubfx.Route{Event: "count", Handler: func(c *core.Client, _ *core.Message) error {
				return c.SendJSON(map[string]int{"clients": h.ClientCount()})
			}}
		}),
		fx.Populate(&hub))
	conn := dialHub(t, hub, serveHub(t, hub))
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"count"}`)))
	assert.JSONEq(t, `{"clients":1}`, readText(t, conn))
}

func TestInvalidRoutesFailConstruction(t *testing.T) {
	tests := []struct {
		name string
		give fx.Option
	}{
		{
			name: "duplicate event",
			give: fx.Options(
				wshubfx.AsRoute("chat", func(*core.Client, *core.Message) error { return nil }),
				wshubfx.AsRoute("chat", func(*core.Client, *core.Message) error { return nil }),
			),
		},
		{name: "nil handler", give: wshubfx.AsRoute("chat", nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fx.New(fx.NopLogger, wshubfx.Module, tt.give)
			require.ErrorIs(t, app.Err(), wshubfx.ErrInvalidContribution)
		})
	}
}

func TestStopClosesIdleClientsWithGoingAway(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	var hub *core.Hub
	app := startApp(t, wshubfx.Module,
		fx.Supply(wshubfx.Config{StopTimeout: 2 * time.Second}), // reaper after 1s idle
		fx.Decorate(func() core.Logger { return logging.NewZap(zap.New(obs)) }),
		fx.Populate(&hub))
	conn := dialHub(t, hub, serveHub(t, hub))
	codes := closeCode(conn)
	app.RequireStop()
	assert.Equal(t, websocket.CloseGoingAway, <-codes)
	assert.Zero(t, logs.FilterMessageSnippet("drain did not finish").Len(), "the reaper emptied the hub in time")
}

func TestDrainTimeoutIsAWarningNotAnError(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	var hub *core.Hub
	app := startApp(t, wshubfx.Module,
		// No idle reaper: the client stays until the stop timeout ends the drain.
		fx.Supply(wshubfx.Config{StopTimeout: 200 * time.Millisecond, DrainTimeout: -1}),
		fx.Decorate(func() core.Logger { return logging.NewZap(zap.New(obs)) }),
		fx.Populate(&hub))
	conn := dialHub(t, hub, serveHub(t, hub))
	codes := closeCode(conn)
	require.NoError(t, app.Stop(context.Background()), "a drain that ran out of time is not an error")
	assert.Equal(t, websocket.CloseGoingAway, <-codes, "Shutdown closes the rest with 1001")
	warn := logs.FilterMessageSnippet("drain did not finish").All()
	require.Len(t, warn, 1)
	assert.Equal(t, zapcore.WarnLevel, warn[0].Level)
}

func TestValidateApp(t *testing.T) {
	require.NoError(t, fx.ValidateApp(fx.NopLogger, wshubfx.Module, fx.Invoke(func(*core.Hub) {})))
	err := fx.ValidateApp(fx.NopLogger, fx.Invoke(func(*core.Hub) {}))
	require.Error(t, err, "without Module there is no hub")
}

// The hub must be usable from several goroutines once started; this also
// guards the dispatcher's handler swap under the race detector.
func TestConcurrentMessagesThroughMiddleware(t *testing.T) {
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		wshubfx.AsRoute("echo", func(c *core.Client, m *core.Message) error { return c.Send(m.Data) }),
		wshubfx.AsMiddleware("noop", 0, func(next core.HandlerFunc) core.HandlerFunc { return next }),
		fx.Populate(&hub))
	url := serveHub(t, hub)
	var wg sync.WaitGroup
	for range 4 {
		conn := dial(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"echo"}`))
				if !assert.NoError(t, err) {
					return
				}
				_ = conn.SetReadDeadline(time.Now().Add(waitFor))
				_, data, err := conn.ReadMessage()
				if !assert.NoError(t, err) {
					return
				}
				assert.JSONEq(t, `{"type":"echo"}`, string(data), "the route's echo")
			}
		}()
	}
	wg.Wait()
}

// latencyCounter counts RecordLatency calls.
type latencyCounter struct {
	core.NoOpMetrics
	mu sync.Mutex
	n  int
}

func (l *latencyCounter) RecordLatency(time.Duration) { l.mu.Lock(); l.n++; l.mu.Unlock() }
func (l *latencyCounter) count() int                  { l.mu.Lock(); defer l.mu.Unlock(); return l.n }

// Config.WithoutHandlerLatency leaves handler latency to a middleware that
// records it, so one message is observed once.
func TestConfigWithoutHandlerLatency(t *testing.T) {
	for _, skip := range []bool{false, true} {
		lc := &latencyCounter{}
		second := make(chan struct{})
		var hub *core.Hub
		startApp(t, wshubfx.Module,
			fx.Supply(wshubfx.Config{WithoutHandlerLatency: skip}),
			fx.Decorate(func() core.MetricsCollector { return lc }),
			wshubfx.AsRoute("first", func(*core.Client, *core.Message) error { return nil }),
			wshubfx.AsRoute("second", func(*core.Client, *core.Message) error { close(second); return nil }),
			fx.Populate(&hub))
		conn := dialHub(t, hub, serveHub(t, hub))
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"first"}`)))
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"second"}`)))
		<-second // the reader finished the first message, its latency included
		if skip {
			assert.Zero(t, lc.count())
			continue
		}
		require.Eventually(t, func() bool { return lc.count() == 2 }, waitFor, time.Millisecond)
	}
}
