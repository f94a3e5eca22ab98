package wshubfx

import (
	"context"
	"errors"
	"syscall"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/logging"
)

// LoggingModule makes the hub log to zap. It takes the application's
// *zap.Logger when the graph has one (it is optional) and otherwise logs
// nowhere. The logger becomes Module's default core.Logger (a top-level
// fx.Decorate of core.Logger still wins), and it is synced on stop, after
// the hub and its adapter have stopped, so their last lines are written.
var LoggingModule = fx.Module("wshub.logging", fx.Provide(newModuleLogger))

// FxLogger sends fx's own events (provides, invokes, lifecycle hooks) to the
// application's *zap.Logger through fxevent.ZapLogger, or discards them
// when the graph has no *zap.Logger. Use it next to LoggingModule:
//
//	fx.New(wshubfx.FxLogger, wshubfx.LoggingModule, wshubfx.Module, fx.Supply(zapLogger))
var FxLogger = fx.WithLogger(newFxLogger)

type loggingParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Zap       *zap.Logger `optional:"true"`
}

type loggingResult struct {
	fx.Out

	Logger core.Logger `name:"wshub.module.logger"`
}

func newModuleLogger(p loggingParams) loggingResult {
	l := logging.NewZap(p.Zap)
	p.Lifecycle.Append(fx.Hook{OnStop: func(context.Context) error { return syncLogger(l) }})
	return loggingResult{Logger: l}
}

// syncLogger flushes l. Syncing a terminal or a pipe fails with EINVAL or
// ENOTTY although nothing was lost; those are not errors here.
func syncLogger(l *logging.ZapLogger) error {
	err := l.Sync()
	if err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTTY) {
		return nil
	}
	return err
}

type fxLoggerParams struct {
	fx.In

	Zap *zap.Logger `optional:"true"`
}

func newFxLogger(p fxLoggerParams) fxevent.Logger {
	if p.Zap == nil {
		return fxevent.NopLogger
	}
	return &fxevent.ZapLogger{Logger: p.Zap}
}
