package logging

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/wshub/wshub/core"
)

// SlogLogger is a core.Logger that writes to a *slog.Logger. Build one with
// NewSlog. It is safe for concurrent use.
type SlogLogger struct {
	l *slog.Logger
}

var _ core.Logger = (*SlogLogger)(nil)

// NewSlog returns a core.Logger writing to l. A nil l gives a logger that
// discards everything.
//
// Arguments after the message are handed to slog unchanged, so they follow
// slog's rules (key/value pairs or slog.Attr values; a value without a key
// is logged under "!BADKEY"). The source location a handler records (with
// slog.HandlerOptions.AddSource) is the code that called the SlogLogger
// method, not this package.
func NewSlog(l *slog.Logger) *SlogLogger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &SlogLogger{l: l}
}

// Debug logs msg at slog.LevelDebug with the given key/value pairs.
func (s *SlogLogger) Debug(msg string, args ...any) { s.log(slog.LevelDebug, msg, args) }

// Info logs msg at slog.LevelInfo with the given key/value pairs.
func (s *SlogLogger) Info(msg string, args ...any) { s.log(slog.LevelInfo, msg, args) }

// Warn logs msg at slog.LevelWarn with the given key/value pairs.
func (s *SlogLogger) Warn(msg string, args ...any) { s.log(slog.LevelWarn, msg, args) }

// Error logs msg at slog.LevelError with the given key/value pairs.
func (s *SlogLogger) Error(msg string, args ...any) { s.log(slog.LevelError, msg, args) }

// Slog returns the wrapped *slog.Logger.
func (s *SlogLogger) Slog() *slog.Logger {
	return s.l
}

func (s *SlogLogger) log(level slog.Level, msg string, args []any) {
	// core.Logger carries no context; the hub's logs belong to no request.
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	// Skip runtime.Callers, this helper and the exported method, so the
	// record's source is the caller of Debug/Info/Warn/Error.
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:])
	r := slog.NewRecord(time.Now(), level, msg, pcs[0])
	r.Add(args...)
	// A handler's error has nowhere better to go than the log it failed to
	// write; slog.Logger drops it the same way.
	_ = s.l.Handler().Handle(ctx, r)
}
