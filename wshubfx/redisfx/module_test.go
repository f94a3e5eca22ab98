package redisfx_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nuid"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"

	redisadapter "github.com/wshub/wshub/adapters/redis"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubfx/redisfx"
	"github.com/wshub/wshub/wshubtest"
)

// sharedURL is the Redis server the development and CI machines run.
const sharedURL = "redis://127.0.0.1:6379/0"

const waitFor = 10 * time.Second

const tick = 5 * time.Millisecond

func prefix() []redisadapter.Option {
	return []redisadapter.Option{redisadapter.WithChannelPrefix("wshubfxtest:" + nuid.Next())}
}

// node starts an fx app with the hub on Redis; cleanup stops it.
func node(t *testing.T, opts ...fx.Option) (*fxtest.App, *core.Hub) {
	t.Helper()
	var hub *core.Hub
	app := fxtest.New(t, append([]fx.Option{fx.NopLogger, wshubfx.Module, redisfx.Module, fx.Populate(&hub)}, opts...)...)
	app.RequireStart()
	t.Cleanup(func() { app.RequireStop() })
	return app, hub
}

// healthOf returns hub's adapter as a core.HealthCheckAdapter.
func healthOf(t *testing.T, hub *core.Hub) core.HealthCheckAdapter {
	t.Helper()
	hc, ok := hub.Adapter().(core.HealthCheckAdapter)
	require.True(t, ok, "%T", hub.Adapter())
	return hc
}

func TestValidate(t *testing.T) {
	require.NoError(t, fx.ValidateApp(fx.NopLogger, wshubfx.Module, redisfx.Module, fx.Invoke(func(*core.Hub) {})))
	rc := goredis.NewClient(&goredis.Options{})
	defer func() { _ = rc.Close() }()
	require.NoError(t, fx.ValidateApp(fx.NopLogger, wshubfx.Module, redisfx.Module,
		fx.Supply(fx.Annotate(rc, fx.As(new(goredis.UniversalClient)))),
		fx.Invoke(func(*core.Hub) {})))
}

// Two nodes with their own clients see each other's broadcasts.
func TestTwoNodesWithTheirOwnClients(t *testing.T) {
	cfg := redisfx.Config{URL: sharedURL, AdapterOptions: prefix()}
	_, a := node(t, fx.Supply(cfg))
	_, b := node(t, fx.Supply(cfg))
	wshubtest.WaitHealthy(t, b.Adapter())

	s := wshubtest.ServeHub(t, b).Dial(t)
	a.BroadcastText("from node A")
	require.Eventually(t, func() bool { return len(s.Messages()) > 0 }, waitFor, tick)
	assert.Equal(t, []string{"from node A"}, s.Messages())
}

func TestOwnClientIsClosedOnStop(t *testing.T) {
	app, hub := node(t, fx.Supply(redisfx.Config{URL: sharedURL, AdapterOptions: prefix()}))
	wshubtest.WaitHealthy(t, hub.Adapter())
	app.RequireStop()
	// goleak (TestMain) fails the package if the client's pool lingers.
	require.ErrorIs(t, healthOf(t, hub).CheckHealth(context.Background()), core.ErrAdapterClosed)
}

func TestTheAppsClientStaysOpen(t *testing.T) {
	opts, err := goredis.ParseURL(sharedURL)
	require.NoError(t, err)
	rc := goredis.NewClient(opts)
	defer func() { _ = rc.Close() }()
	app, hub := node(t,
		fx.Supply(fx.Annotate(rc, fx.As(new(goredis.UniversalClient)))),
		fx.Supply(redisfx.Config{AdapterOptions: prefix()}))
	wshubtest.WaitHealthy(t, hub.Adapter())
	app.RequireStop()
	require.NoError(t, rc.Ping(context.Background()).Err(), "the app's client is still usable")
}

func TestBadURLFailsConstruction(t *testing.T) {
	app := fx.New(fx.NopLogger, wshubfx.Module, redisfx.Module, fx.Supply(redisfx.Config{URL: "http://nope"}),
		fx.Invoke(func(*core.Hub) {}))
	require.Error(t, app.Err())
	assert.Contains(t, app.Err().Error(), "redisfx")
}

// A graph that fails to build leaves no client (and none of go-redis's
// goroutines) behind.
func TestFailedGraphMakesNoClient(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	app := fx.New(fx.NopLogger, wshubfx.Module, redisfx.Module,
		fx.Supply(redisfx.Config{URL: sharedURL, AdapterOptions: prefix()}),
		fx.Invoke(func(*core.Hub) error { return errors.New("a later part of the app fails") }))
	require.Error(t, app.Err())
}

// An app that provides a *goredis.Client (not a UniversalClient) has it
// used, not a client of DefaultURL.
func TestConcreteClientIsUsed(t *testing.T) {
	opts, err := goredis.ParseURL(sharedURL)
	require.NoError(t, err)
	opts.ClientName = "redisfx-test-" + nuid.Next()
	rc := goredis.NewClient(opts)
	defer func() { _ = rc.Close() }()
	app, hub := node(t, fx.Supply(rc), fx.Supply(redisfx.Config{AdapterOptions: prefix()}))
	wshubtest.WaitHealthy(t, hub.Adapter())
	// The subscription runs on a connection of rc, named as rc names them.
	list, err := rc.ClientList(context.Background()).Result()
	require.NoError(t, err)
	var subscribed bool
	for _, line := range strings.Split(list, "\n") {
		subscribed = subscribed || strings.Contains(line, "name="+opts.ClientName+" ") && !strings.Contains(line, " sub=0 ")
	}
	assert.True(t, subscribed, "no subscribed connection named %s in:\n%s", opts.ClientName, list)
	app.RequireStop()
	require.NoError(t, rc.Ping(context.Background()).Err(), "the app's client is still usable")
}

// An explicit Config.URL wins over a client in the graph, which may be an
// app's cache client on another server.
func TestExplicitURLWinsOverGraphClient(t *testing.T) {
	rc := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}) // nothing listens there
	defer func() { _ = rc.Close() }()
	_, hub := node(t, fx.Supply(rc), fx.Supply(redisfx.Config{URL: sharedURL, AdapterOptions: prefix()}))
	wshubtest.WaitHealthy(t, hub.Adapter()) // only a client of sharedURL can subscribe
}
