// Package logging adapts structured loggers to core.Logger, the interface the
// hub writes its logs to.
//
// NewZap wraps a *zap.Logger and NewSlog wraps a *slog.Logger. Both turn the
// hub's alternating key/value arguments into structured fields, report the
// hub's own call site as the caller, and return before building any field
// when the level is disabled, so disabled debug logs on hot paths cost no
// allocation inside this package.
//
// Both are core.NamedLogger: the hub (core.WithLogger) names its logger
// "wshub", and the fx modules and adapters name theirs "wshub.fx",
// "wshub.nats" and "wshub.redis". With zap the name is zap's logger name
// (Logger.Named, shown under the encoder's NameKey, "logger" in zap's
// production config). slog has no logger names, so the slog logger adds
// the attribute "logger" (SlogNameKey) with the dotted name instead:
// logger=wshub.nats. Values such as a recovered panic's "stack" are plain
// string fields in both.
//
// The package starts no goroutines. Loggers are safe for concurrent use as
// long as the wrapped logger is (zap and slog loggers are). Flushing buffered
// output is the owner's job: call (*ZapLogger).Sync before the process exits.
package logging
