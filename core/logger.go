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
