package core

// Logger is the logging interface the hub writes to. args are alternating
// key/value pairs, as in log/slog. Implementations must be safe for
// concurrent use. The logging package provides zap and slog backed ones.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// NamedLogger is a Logger that gives child loggers named after a part of
// the program, as zap's Logger.Named does. The hub names its logger
// "wshub" when it implements NamedLogger (so a zap logger named "app"
// logs as "app.wshub"), and the adapters and fx modules name theirs
// "wshub.nats", "wshub.redis" and "wshub.fx"; messages carry no prefix of
// their own. The logging package's loggers implement it.
type NamedLogger interface {
	Logger
	// Named returns a logger that logs as this one, under name appended
	// to this one's name with a dot. It must not return nil.
	Named(name string) Logger
}

// Named returns l named name when l is a NamedLogger, and l otherwise.
func Named(l Logger, name string) Logger {
	if n, ok := l.(NamedLogger); ok {
		if child := n.Named(name); child != nil {
			return child
		}
	}
	return l
}

// NoOpLogger discards everything. It is the hub's default Logger.
type NoOpLogger struct{}

var _ Logger = (*NoOpLogger)(nil)

// Debug does nothing.
func (n *NoOpLogger) Debug(string, ...any) {}

// Info does nothing.
func (n *NoOpLogger) Info(string, ...any) {}

// Warn does nothing.
func (n *NoOpLogger) Warn(string, ...any) {}

// Error does nothing.
func (n *NoOpLogger) Error(string, ...any) {}
