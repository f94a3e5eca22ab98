package logging

import (
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wshub/wshub/core"
)

// badKey is the key given to a value that has no string key in front of it,
// the same one log/slog uses, so both adapters report the mistake alike.
const badKey = "!BADKEY"

// ZapLogger is a core.Logger that writes to a *zap.Logger. Build one with
// NewZap. It is a core.NamedLogger: Named gives zap's named child loggers,
// so the hub's lines carry the logger name "wshub" (under zap's NameKey,
// "logger" in zap's production config). It is safe for concurrent use.
type ZapLogger struct {
	l    *zap.Logger // base plus the caller skip
	base *zap.Logger // as given to NewZap
}

var _ core.NamedLogger = (*ZapLogger)(nil)

// NewZap returns a core.Logger writing to l. A nil l gives a logger that
// discards everything (zap.NewNop).
//
// Arguments after the message are read as alternating key/value pairs, as in
// log/slog: a string key followed by any value becomes one field (errors
// become error fields, durations, numbers, strings and other values go
// through zap.Any). A zap.Field or slog.Attr may stand in place of a pair. A
// value without a string key is logged under the key "!BADKEY" rather than
// dropped. The caller reported by zap (with zap.AddCaller) is the code that
// called the ZapLogger method, not this package.
func NewZap(l *zap.Logger) *ZapLogger {
	if l == nil {
		l = zap.NewNop()
	}
	// Skip ZapLogger's exported method and its log helper, so the caller
	// zap records is whoever called Debug/Info/Warn/Error.
	return &ZapLogger{l: l.WithOptions(zap.AddCallerSkip(2)), base: l}
}

// Debug logs msg at zap's DebugLevel with the given key/value pairs.
func (z *ZapLogger) Debug(msg string, args ...any) { z.log(zapcore.DebugLevel, msg, args) }

// Info logs msg at zap's InfoLevel with the given key/value pairs.
func (z *ZapLogger) Info(msg string, args ...any) { z.log(zapcore.InfoLevel, msg, args) }

// Warn logs msg at zap's WarnLevel with the given key/value pairs.
func (z *ZapLogger) Warn(msg string, args ...any) { z.log(zapcore.WarnLevel, msg, args) }

// Error logs msg at zap's ErrorLevel with the given key/value pairs.
func (z *ZapLogger) Error(msg string, args ...any) { z.log(zapcore.ErrorLevel, msg, args) }

// Named returns a ZapLogger writing to the wrapped logger's Named(name):
// name is appended to the logger's name with a dot ("app" becomes
// "app.wshub"), as zap's Logger.Named does. An empty name returns z.
func (z *ZapLogger) Named(name string) core.Logger {
	if name == "" {
		return z
	}
	return &ZapLogger{l: z.l.Named(name), base: z.base.Named(name)}
}

// Sync flushes any output buffered by the wrapped zap logger. Call it before
// the process exits. Syncing a logger that writes to a terminal's stdout or
// stderr may return an error the caller can ignore (see zap's Logger.Sync).
func (z *ZapLogger) Sync() error {
	return z.l.Sync()
}

// Zap returns the wrapped *zap.Logger as given to NewZap (zap.NewNop if that
// was nil), named as this ZapLogger is when it came from Named.
func (z *ZapLogger) Zap() *zap.Logger {
	return z.base
}

func (z *ZapLogger) log(lvl zapcore.Level, msg string, args []any) {
	// Ask the core first: a disabled level returns here, before any entry or
	// field is built.
	if !z.l.Core().Enabled(lvl) {
		return
	}
	ce := z.l.Check(lvl, msg)
	if ce == nil {
		return
	}
	ce.Write(zapFields(args)...)
}

// zapFields turns slog-style key/value arguments into zap fields. It never
// panics, whatever the arguments.
func zapFields(args []any) []zap.Field {
	if len(args) == 0 {
		return nil
	}
	fields := make([]zap.Field, 0, (len(args)+1)/2)
	for i := 0; i < len(args); {
		switch a := args[i].(type) {
		case string:
			if i+1 >= len(args) {
				// A trailing key with no value: keep what was given.
				fields = append(fields, zap.String(badKey, a))
				i++
				continue
			}
			fields = append(fields, zapField(a, args[i+1]))
			i += 2
		case zap.Field:
			fields = append(fields, a)
			i++
		case slog.Attr:
			fields = append(fields, zapField(a.Key, a.Value.Resolve().Any()))
			i++
		default:
			fields = append(fields, zapField(badKey, a))
			i++
		}
	}
	return fields
}

func zapField(key string, value any) zap.Field {
	if err, ok := value.(error); ok {
		return zap.NamedError(key, err)
	}
	return zap.Any(key, value)
}
