package wshubfx_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/logging"
	"github.com/wshub/wshub/wshubfx"
)

// A browser opens spare connections that never carry a request. Stopping
// with one of them and an idle WebSocket open closes both without a
// warning: http.Server.Shutdown alone would count the spare connection as
// busy for its first 5 s and use up the listener's share of the stop time.
func TestStopClosesConnectionsThatNeverSentARequest(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	var srv *wshubfx.Server
	var hub *core.Hub
	cfg := localConfig()
	cfg.StopTimeout = 10 * time.Second // the chat example's
	cfg.DrainTimeout = 100 * time.Millisecond
	app := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.HTTPModule, wshubfx.LoggingModule,
		fx.Supply(cfg, zap.New(obs)), fx.Populate(&srv, &hub))
	require.NoError(t, app.Start(context.Background()))

	spare, err := net.Dial("tcp", srv.Addr())
	require.NoError(t, err)
	defer func() { _ = spare.Close() }()
	ws := dialHub(t, hub, "ws://"+srv.Addr()+"/ws")
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()

	// fx's default stop timeout; the listener's share is a fifth of it.
	ctx, cancel := context.WithTimeout(context.Background(), fx.DefaultTimeout)
	defer cancel()
	require.NoError(t, app.Stop(ctx))

	require.NoError(t, spare.SetReadDeadline(time.Now().Add(waitFor)))
	_, err = spare.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the spare connection is closed by the server")
	assert.True(t, websocket.IsCloseError(<-closed, websocket.CloseGoingAway))
	for _, e := range logs.All() {
		assert.Less(t, e.Level, zapcore.WarnLevel, "%s %v", e.Message, e.ContextMap())
	}
	assert.Equal(t, 1, logs.FilterMessage("shutting down").Len(), "%v", messages(logs))
}

// The drain leaves a fifth of fx's stop time to Shutdown; when that cuts
// it below Config.StopTimeout, a warning says so with the numbers, and
// only then: fx's default stop time never cuts a drain of
// DefaultStopTimeout.
func TestStopTimeoutWarningOnlyWhenTheDrainIsCut(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fxStop time.Duration
		warn   bool
	}{
		{"fx default, stop timeout the default", fx.DefaultTimeout, false},
		{"fx leaves a fifth beyond the stop timeout", 1300 * time.Millisecond, false},
		{"fx above the stop timeout, not by a fifth", 1100 * time.Millisecond, true},
		{"fx below the stop timeout", 500 * time.Millisecond, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obs, logs := observer.New(zapcore.DebugLevel)
			var hub *core.Hub
			stop := time.Second
			if tt.fxStop == fx.DefaultTimeout {
				stop = wshubfx.DefaultStopTimeout
			}
			app := fx.New(fx.NopLogger, wshubfx.Module,
				fx.Supply(wshubfx.Config{StopTimeout: stop}),
				fx.Decorate(func() core.Logger { return logging.NewZap(zap.New(obs)) }),
				fx.Populate(&hub))
			require.NoError(t, app.Start(context.Background()))
			ctx, cancel := context.WithTimeout(context.Background(), tt.fxStop)
			defer cancel()
			require.NoError(t, app.Stop(ctx))
			warned := logs.FilterLevelExact(zapcore.WarnLevel).All()
			if !tt.warn {
				assert.Empty(t, warned, "%v", messages(logs))
				return
			}
			require.Len(t, warned, 1, "%v", messages(logs))
			e := warned[0].ContextMap()
			assert.Contains(t, warned[0].Message, "the drain is shorter than Config.StopTimeout")
			assert.Less(t, e["drain"], e["stop_timeout"])
			assert.Equal(t, stop*5/4, e["fx_remaining_needed"])
		})
	}
}

// An http.Server serves nothing after Shutdown, and a hub cannot run
// twice: starting a stopped app again fails with a message, instead of
// reporting an address that serves nothing.
func TestStartAfterStopFails(t *testing.T) {
	cfg := localConfig()
	cfg.HTTP.AdminAddr = "127.0.0.1:0" // starts before the hub, which refuses too
	app := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.HTTPModule, fx.Supply(cfg))
	require.NoError(t, app.Start(context.Background()))
	require.NoError(t, app.Stop(context.Background()))
	err := app.Start(context.Background())
	require.ErrorContains(t, err, "wshubfx: admin server: cannot start again after stop")
}
