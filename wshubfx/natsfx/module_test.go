package natsfx_test

import (
	"context"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	natsadapter "github.com/wshub/wshub/adapters/nats"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubfx/natsfx"
	"github.com/wshub/wshub/wshubtest"
)

// sharedURL is the NATS server the development and CI machines run.
const sharedURL = "nats://127.0.0.1:4222"

const waitFor = 10 * time.Second

const tick = 5 * time.Millisecond

// node starts an fx app with the hub on NATS; cleanup stops it.
func node(t *testing.T, opts ...fx.Option) (*fxtest.App, *core.Hub) {
	t.Helper()
	var hub *core.Hub
	app := fxtest.New(t, append([]fx.Option{fx.NopLogger, wshubfx.Module, natsfx.Module, fx.Populate(&hub)}, opts...)...)
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
	require.NoError(t, fx.ValidateApp(fx.NopLogger, wshubfx.Module, natsfx.Module, fx.Invoke(func(*core.Hub) {})))
	require.NoError(t, fx.ValidateApp(fx.NopLogger, wshubfx.Module, natsfx.Module,
		fx.Supply(&natsgo.Conn{}), fx.Invoke(func(*core.Hub) {})))
}

// Two nodes that each dial their own connection see each other's
// broadcasts; each connection is closed after its hub stopped.
func TestTwoNodesDialingTheirOwnConnections(t *testing.T) {
	cfg := natsfx.Config{URL: sharedURL, AdapterOptions: []natsadapter.Option{natsadapter.WithSubjectPrefix("wshubfxtest." + nuid.Next())}}
	closedState := make(chan core.HubState, 1) // node A's connection closes once
	var hubA *core.Hub
	cfgA := cfg
	cfgA.ConnectOptions = []natsgo.Option{natsgo.ClosedHandler(func(*natsgo.Conn) { closedState <- hubA.State() })}

	appA, a := node(t, fx.Supply(cfgA))
	hubA = a
	_, b := node(t, fx.Supply(cfg))
	require.NotNil(t, a.Adapter())
	wshubtest.WaitHealthy(t, b.Adapter())

	s := wshubtest.ServeHub(t, b).Dial(t)
	a.BroadcastText("from node A")
	require.Eventually(t, func() bool { return len(s.Messages()) > 0 }, waitFor, tick)
	assert.Equal(t, []string{"from node A"}, s.Messages())

	appA.RequireStop()
	select {
	case st := <-closedState:
		assert.Equal(t, core.StateStopped, st, "the connection outlives the hub")
	case <-time.After(waitFor):
		t.Fatal("node A's connection was not closed")
	}
}

func TestTheAppsConnectionStaysOpen(t *testing.T) {
	nc, err := natsgo.Connect(sharedURL)
	require.NoError(t, err)
	defer nc.Close()
	app, hub := node(t, fx.Supply(nc, natsfx.Config{
		AdapterOptions: []natsadapter.Option{natsadapter.WithSubjectPrefix("wshubfxtest." + nuid.Next())},
	}))
	assert.IsType(t, &natsadapter.Adapter{}, hub.Adapter())
	wshubtest.WaitHealthy(t, hub.Adapter())
	app.RequireStop()
	assert.False(t, nc.IsClosed())
	require.ErrorIs(t, healthOf(t, hub).CheckHealth(context.Background()), core.ErrAdapterClosed)
}

// By default the application starts without its broker: it serves local
// clients and reports the adapter down until the broker comes.
func TestStartsWhileBrokerIsDown(t *testing.T) {
	_, hub := node(t, fx.Supply(natsfx.Config{URL: "nats://127.0.0.1:1",
		ConnectOptions: []natsgo.Option{natsgo.ReconnectWait(time.Hour)}}))
	require.True(t, hub.Ready())
	require.Error(t, healthOf(t, hub).CheckHealth(context.Background()))
	s := wshubtest.ServeHub(t, hub).Dial(t)
	hub.Broadcast([]byte("local"))
	require.Eventually(t, func() bool { return len(s.Messages()) > 0 }, waitFor, tick)
	assert.Equal(t, []string{"local"}, s.Messages())
}

func TestConnectFailureFailsStartWhenAsked(t *testing.T) {
	var hub *core.Hub
	app := fxtest.New(t, fx.NopLogger, wshubfx.Module, natsfx.Module, fx.Populate(&hub),
		fx.Supply(natsfx.Config{URL: "nats://127.0.0.1:1", ConnectOptions: []natsgo.Option{
			natsgo.Timeout(time.Second), natsgo.RetryOnFailedConnect(false)}}))
	err := app.Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "natsfx: connect")
	assert.Equal(t, core.StateCreated, hub.State(), "the hub never ran")
	require.ErrorIs(t, healthOf(t, hub).CheckHealth(context.Background()), natsfx.ErrNotConnected)
}

func TestTopLevelDecorateBeatsTheModule(t *testing.T) {
	var hub *core.Hub
	app := fxtest.New(t, fx.NopLogger, wshubfx.Module, natsfx.Module, fx.Populate(&hub),
		fx.Supply(natsfx.Config{URL: "nats://127.0.0.1:1"}),
		fx.Decorate(func() core.Adapter { return nil }))
	app.RequireStart().RequireStop()
	assert.Nil(t, hub.Adapter())
}
