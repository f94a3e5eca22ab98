package wshubfx_test

import (
	"encoding/json"
	"log"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/logging"
	"github.com/wshub/wshub/wshubfx"
)

func TestLoggingModuleLogsToTheAppsZap(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	var logger core.Logger
	var hub *core.Hub
	app := startApp(t, wshubfx.LoggingModule, wshubfx.Module,
		fx.Supply(zap.New(obs), wshubfx.Config{StopTimeout: 400 * time.Millisecond}), fx.Populate(&logger, &hub))
	assert.IsType(t, &logging.ZapLogger{}, logger)
	running := logs.FilterMessage("hub running").AllUntimed()
	require.Len(t, running, 1)
	assert.Equal(t, hub.NodeID(), running[0].ContextMap()["node_id"])

	app.RequireStop()
	// The names say which part wrote each line: the module's lines
	// "wshub.fx", the hub's "wshub"; messages carry no prefix.
	assert.Equal(t, "wshub.fx", running[0].LoggerName)
	for _, msg := range []string{"draining", "shutting down"} {
		found := logs.FilterMessage(msg).AllUntimed()
		if assert.Len(t, found, 1, msg) {
			assert.Equal(t, "wshub", found[0].LoggerName, msg)
		}
	}
	for _, e := range logs.AllUntimed() {
		assert.False(t, strings.HasPrefix(e.Message, "wshub"), "no prefix in %q", e.Message)
		assert.True(t, e.LoggerName == "wshub" || strings.HasPrefix(e.LoggerName, "wshub."), "%q: %q", e.Message, e.LoggerName)
	}
}

// The hub's lines reach an app's *slog.Logger, with the logger name as the
// attribute "logger".
func TestLoggingModuleLogsToTheAppsSlog(t *testing.T) {
	var buf lockedBuffer
	sl := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var logger core.Logger
	var hub *core.Hub
	app := startApp(t, wshubfx.LoggingModule, wshubfx.Module,
		fx.Supply(sl, wshubfx.Config{StopTimeout: 400 * time.Millisecond}), fx.Populate(&logger, &hub))
	assert.IsType(t, &logging.SlogLogger{}, logger)
	dialHub(t, hub, serveHub(t, hub))
	app.RequireStop()

	recs := buf.records(t)
	byMsg := map[string]map[string]any{}
	for _, r := range recs {
		msg, _ := r["msg"].(string)
		byMsg[msg] = r
	}
	require.Contains(t, byMsg, "hub running", "%v", recs)
	assert.Equal(t, "wshub.fx", byMsg["hub running"]["logger"])
	assert.Equal(t, hub.NodeID(), byMsg["hub running"]["node_id"])
	for _, msg := range []string{"draining", "shutting down"} {
		require.Contains(t, byMsg, msg, "%v", recs)
		assert.Equal(t, "wshub", byMsg[msg]["logger"], msg)
	}
	assert.InDelta(t, 1, byMsg["draining"]["clients"], 0, "the hub's structured fields")
}

// With both in the graph, zap wins; slog gets nothing.
func TestLoggingModulePrefersZap(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	var buf lockedBuffer
	var logger core.Logger
	startApp(t, wshubfx.LoggingModule, wshubfx.Module,
		fx.Supply(zap.New(obs), slog.New(slog.NewJSONHandler(&buf, nil))), fx.Populate(&logger))
	assert.IsType(t, &logging.ZapLogger{}, logger)
	assert.Equal(t, 1, logs.FilterMessage("hub running").Len())
	assert.Empty(t, buf.String())
}

// Without a logger in the graph the module warns, once per app, through
// slog.Default(), and its logger discards everything. Not parallel: it
// swaps the process's default slog logger.
func TestLoggingModuleWithoutLoggerWarnsOnce(t *testing.T) {
	var buf lockedBuffer
	captureDefaultSlog(t, &buf)

	var logger core.Logger
	var hub *core.Hub
	app := fxtest.New(t, fx.NopLogger, wshubfx.LoggingModule, wshubfx.Module, fx.Populate(&logger, &hub))
	app.RequireStart()
	dialHub(t, hub, serveHub(t, hub))
	app.RequireStop()
	assert.IsType(t, &core.NoOpLogger{}, logger, "the hub logs nothing")

	recs := buf.records(t)
	require.Len(t, recs, 1, "one warning, and nothing of the hub's own: %v", recs)
	assert.Equal(t, "WARN", recs[0]["level"])
	assert.Equal(t, "wshub.fx", recs[0]["logger"])
	assert.Contains(t, recs[0]["msg"], "no *zap.Logger or *slog.Logger")

	// Per app: a second app warns again.
	fxtest.New(t, fx.NopLogger, wshubfx.LoggingModule, wshubfx.Module).RequireStart().RequireStop()
	assert.Len(t, buf.records(t), 2)

	// No warning when the app says where to log, nor without LoggingModule.
	fxtest.New(t, fx.NopLogger, wshubfx.LoggingModule, wshubfx.Module, fx.Supply(zap.NewNop())).RequireStart().RequireStop()
	fxtest.New(t, fx.NopLogger, wshubfx.Module).RequireStart().RequireStop()
	assert.Len(t, buf.records(t), 2)
}

func TestTopLevelDecorateBeatsLoggingModule(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	decorated, decoratedLogs := observer.New(zapcore.DebugLevel)
	startApp(t, wshubfx.LoggingModule, wshubfx.Module,
		fx.Supply(zap.New(obs)),
		fx.Decorate(func() core.Logger { return logging.NewZap(zap.New(decorated)) }))
	assert.Zero(t, logs.FilterMessage("hub running").Len())
	assert.Equal(t, 1, decoratedLogs.FilterMessage("hub running").Len())
}

func TestFxLoggerSendsFxEventsToZap(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	app := fxtest.New(t, wshubfx.FxLogger, wshubfx.LoggingModule, wshubfx.Module, fx.Supply(zap.New(obs)))
	app.RequireStart().RequireStop()
	assert.Positive(t, logs.FilterMessage("provided").Len(), "fx's provide events reach zap")
	assert.Positive(t, logs.FilterMessage("invoking").Len(), "fx's invoke events reach zap")
	assert.Equal(t, 1, logs.FilterMessage("started").Len(), "fx's lifecycle events reach zap")
}

func TestFxLoggerSendsFxEventsToSlog(t *testing.T) {
	var buf lockedBuffer
	sl := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app := fxtest.New(t, wshubfx.FxLogger, wshubfx.LoggingModule, wshubfx.Module, fx.Supply(sl))
	app.RequireStart().RequireStop()
	var started int
	for _, r := range buf.records(t) {
		if r["msg"] == "started" {
			started++
		}
	}
	assert.Equal(t, 1, started, "fx's lifecycle events reach slog: %s", buf.String())
}

// captureDefaultSlog makes slog.Default() write JSON to w until the test
// ends. slog.SetDefault also redirects the log package, so that is
// restored too.
func captureDefaultSlog(t *testing.T, w *lockedBuffer) {
	t.Helper()
	prev, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewJSONHandler(w, nil)))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
	})
}

// records decodes the JSON lines written so far (lockedBuffer is in
// sigterm_test.go).
func (b *lockedBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		out = append(out, rec)
	}
	return out
}
