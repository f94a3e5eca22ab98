package wshubfx_test

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
)

// traceCore is a zap core that records each entry's message (with its
// "server" field) in a trace, records Sync, and calls onEntry.
type traceCore struct {
	zapcore.LevelEnabler
	tr      *trace
	onEntry func(msg string)
}

func (c traceCore) With([]zapcore.Field) zapcore.Core { return c }

func (c traceCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}

func (c traceCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	msg := e.Message
	for _, f := range fields {
		if f.Key == "server" {
			msg += " " + f.String
		}
	}
	c.tr.add(msg)
	if c.onEntry != nil {
		c.onEntry(e.Message)
	}
	return nil
}

func (c traceCore) Sync() error {
	c.tr.add("logger synced")
	return nil
}

// closeRecorder is an in-memory adapter that records Close in a trace,
// with the hub's state at that moment.
type closeRecorder struct {
	*memory.Adapter
	tr  *trace
	hub func() *core.Hub
}

func (a *closeRecorder) Close() error {
	a.tr.add("adapter closed, hub " + a.hub().State().String())
	return a.Adapter.Close()
}

// Stop order: the main server stops accepting, then the hub drains (with
// readiness 503 on the still-open admin server), then Shutdown closes the
// adapter, then the admin server stops, then the logger syncs.
func TestStopOrder(t *testing.T) {
	var tr trace
	var hub *core.Hub
	var srv *wshubfx.Server
	var mainAddr, adminAddr string
	onEntry := func(msg string) {
		if msg != "draining" {
			return
		}
		// While the hub starts draining: is the main listener closed, and
		// what does the admin server's readiness say?
		if c, err := net.DialTimeout("tcp", mainAddr, time.Second); err != nil {
			tr.add("main refuses connections")
		} else {
			_ = c.Close()
			tr.add("main still accepts connections")
		}
		resp, err := (&http.Client{Timeout: waitFor}).Get("http://" + adminAddr + "/readyz")
		if err != nil {
			tr.add("admin readyz error " + err.Error())
			return
		}
		_ = resp.Body.Close()
		tr.add("admin readyz " + resp.Status)
	}
	logger := zap.New(traceCore{LevelEnabler: zapcore.DebugLevel, tr: &tr, onEntry: onEntry})
	cfg := localConfig()
	cfg.HTTP.AdminAddr = "127.0.0.1:0"

	app := startApp(t, wshubfx.Module, wshubfx.LoggingModule, wshubfx.HTTPModule,
		fx.Supply(cfg, logger),
		fx.Decorate(func() core.Adapter {
			return &closeRecorder{Adapter: memory.NewBus().NewAdapter(), tr: &tr, hub: func() *core.Hub { return hub }}
		}),
		fx.Populate(&hub, &srv))
	mainAddr, adminAddr = srv.Addr(), srv.AdminAddr()

	// Start order mirrors it: admin listens before the hub runs, main after.
	started := tr.get()
	iAdmin := slices.Index(started, "listening admin")
	iHub := slices.Index(started, "hub running")
	iMain := slices.Index(started, "listening main")
	require.True(t, iAdmin >= 0 && iHub >= 0 && iMain >= 0, "%q", started)
	assert.Less(t, iAdmin, iHub)
	assert.Less(t, iHub, iMain)

	app.RequireStop()
	stopped := tr.get()[len(started):]
	// Readiness turns 503 (the hub starts draining) while the main listener
	// still accepts, so that probes fail before connections are refused;
	// then the listener closes, the hub's hook drains and shuts down.
	want := []string{
		"draining",
		"main still accepts connections",
		"admin readyz 503 Service Unavailable",
		"stopped listening main",
		"shutting down",
		"adapter closed, hub stopped",
		"stopped listening admin",
		"logger synced",
	}
	var got []string
	for _, s := range stopped {
		if slices.Contains(want, s) || strings.HasPrefix(s, "main still") || strings.HasPrefix(s, "admin readyz") {
			got = append(got, s)
		}
	}
	assert.Equal(t, want, got, "all entries after start: %q", stopped)
}
