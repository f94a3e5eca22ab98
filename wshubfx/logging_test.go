package wshubfx_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
	startApp(t, wshubfx.LoggingModule, wshubfx.Module, fx.Supply(zap.New(obs)), fx.Populate(&logger, &hub))
	assert.IsType(t, &logging.ZapLogger{}, logger)
	assert.Equal(t, 1, logs.FilterMessage("wshubfx: hub running").Len())
	assert.Equal(t, hub.NodeID(), logs.FilterMessage("wshubfx: hub running").All()[0].ContextMap()["node_id"])
}

func TestLoggingModuleWithoutZapDiscards(t *testing.T) {
	var logger core.Logger
	startApp(t, wshubfx.LoggingModule, wshubfx.Module, fx.Populate(&logger))
	zl, ok := logger.(*logging.ZapLogger)
	if assert.True(t, ok) {
		assert.False(t, zl.Zap().Core().Enabled(zapcore.ErrorLevel), "a no-op zap logger")
	}
}

func TestTopLevelDecorateBeatsLoggingModule(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	decorated, decoratedLogs := observer.New(zapcore.DebugLevel)
	startApp(t, wshubfx.LoggingModule, wshubfx.Module,
		fx.Supply(zap.New(obs)),
		fx.Decorate(func() core.Logger { return logging.NewZap(zap.New(decorated)) }))
	assert.Zero(t, logs.FilterMessage("wshubfx: hub running").Len())
	assert.Equal(t, 1, decoratedLogs.FilterMessage("wshubfx: hub running").Len())
}

func TestFxLoggerSendsFxEventsToZap(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	app := fxtest.New(t, wshubfx.FxLogger, wshubfx.LoggingModule, wshubfx.Module, fx.Supply(zap.New(obs)))
	app.RequireStart().RequireStop()
	assert.Positive(t, logs.FilterMessage("provided").Len(), "fx's provide events reach zap")
	assert.Positive(t, logs.FilterMessage("invoking").Len(), "fx's invoke events reach zap")
	assert.Equal(t, 1, logs.FilterMessage("started").Len(), "fx's lifecycle events reach zap")
}
