package wshubfx

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/logging"
)

// fxLoggerName names the logger of this package's own lines (the hub's
// runner, the HTTP servers, LoggingModule's warning); the hub names its
// own "wshub" (core.WithLogger).
const fxLoggerName = "wshub.fx"

// LoggingModule makes the hub log to the application's logger. It takes a
// *zap.Logger or a *slog.Logger from the graph (both are optional): the
// zap one when the graph has both (an app that bridges the two usually
// supplies zap as the source of truth), the slog one otherwise. The
// logger becomes Module's default core.Logger (a top-level fx.Decorate of
// core.Logger still wins), through logging.NewZap or logging.NewSlog. A
// zap logger is synced on stop, after the hub and its adapter have
// stopped, so their last lines are written.
//
// Lines carry logger names (see core.NamedLogger): "wshub" for the hub,
// "wshub.fx" for this package's modules, "wshub.nats" for natsfx. With
// zap they are zap logger names; with slog, the attribute "logger".
//
// When the graph has neither, the module's logger discards everything,
// and the module says so once, when it is built (once per application),
// with a warning through slog.Default(): the application gave no logger,
// so the process's default slog logger (stderr unless the application
// changed it) is the one place the warning can be seen; the module reads
// it and changes no global state. To log nothing on purpose, leave
// LoggingModule out: Module alone uses a core.NoOpLogger and warns about
// nothing.
var LoggingModule = fx.Module("wshub.logging", fx.Provide(newModuleLogger))

// FxLogger sends fx's own events (provides, invokes, lifecycle hooks) to the
// application's *zap.Logger through fxevent.ZapLogger, or to its
// *slog.Logger through fxevent.SlogLogger when the graph has no
// *zap.Logger, or discards them when the graph has neither. Use it next to
// LoggingModule:
//
//	fx.New(wshubfx.FxLogger, wshubfx.LoggingModule, wshubfx.Module, fx.Supply(zapLogger))
var FxLogger = fx.WithLogger(newFxLogger)

type loggingParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Zap       *zap.Logger  `optional:"true"`
	Slog      *slog.Logger `optional:"true"`
}

type loggingResult struct {
	fx.Out

	Logger core.Logger `name:"wshub.module.logger"`
}

func newModuleLogger(p loggingParams) loggingResult {
	switch {
	case p.Zap != nil:
		l := logging.NewZap(p.Zap)
		p.Lifecycle.Append(fx.Hook{OnStop: func(context.Context) error { return syncLogger(l) }})
		return loggingResult{Logger: l}
	case p.Slog != nil:
		return loggingResult{Logger: logging.NewSlog(p.Slog)}
	}
	// fx builds a constructor once per application, so this warns once.
	core.Named(logging.NewSlog(slog.Default()), fxLoggerName).Warn(
		"LoggingModule found no *zap.Logger or *slog.Logger in the graph: the hub logs nothing " +
			"(supply one, or leave LoggingModule out to log nothing on purpose)")
	return loggingResult{Logger: &core.NoOpLogger{}}
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

	Zap  *zap.Logger  `optional:"true"`
	Slog *slog.Logger `optional:"true"`
}

func newFxLogger(p fxLoggerParams) fxevent.Logger {
	switch {
	case p.Zap != nil:
		return &fxevent.ZapLogger{Logger: p.Zap}
	case p.Slog != nil:
		return &fxevent.SlogLogger{Logger: p.Slog}
	}
	return fxevent.NopLogger
}
