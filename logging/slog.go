package logging

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/wshub/wshub/core"
)

// SlogNameKey is the attribute under which a SlogLogger from Named writes
// its name, the key zap's production encoder uses for logger names.
const SlogNameKey = "logger"

// SlogLogger is a core.Logger that writes to a *slog.Logger. Build one with
// NewSlog. It is safe for concurrent use.
//
// It is a core.NamedLogger. slog has no logger names, so Named adds the
// attribute SlogNameKey ("logger") holding the name, the names of nested
// Named calls joined with dots as zap joins them: the hub's lines carry
// logger=wshub, the NATS module's logger=wshub.nats. The attribute is
// added with slog.Logger.With, so it goes into the group the wrapped
// logger has open, if any.
type SlogLogger struct {
	l    *slog.Logger // root, plus the name attribute when named
	root *slog.Logger // as given to NewSlog
	name string       // "" unless from Named
}

var _ core.NamedLogger = (*SlogLogger)(nil)

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
	return &SlogLogger{l: l, root: l}
}

// Named returns a SlogLogger that writes to the same slog.Logger with the
// attribute SlogNameKey set to s's name and name joined with a dot (just
// name when s has none). The attribute appears once however deep the
// nesting. An empty name returns s.
func (s *SlogLogger) Named(name string) core.Logger {
	if name == "" {
		return s
	}
	if s.name != "" {
		name = s.name + "." + name
	}
	return &SlogLogger{l: s.root.With(SlogNameKey, name), root: s.root, name: name}
}

// Debug logs msg at slog.LevelDebug with the given key/value pairs.
func (s *SlogLogger) Debug(msg string, args ...any) { s.log(slog.LevelDebug, msg, args) }

// Info logs msg at slog.LevelInfo with the given key/value pairs.
func (s *SlogLogger) Info(msg string, args ...any) { s.log(slog.LevelInfo, msg, args) }

// Warn logs msg at slog.LevelWarn with the given key/value pairs.
func (s *SlogLogger) Warn(msg string, args ...any) { s.log(slog.LevelWarn, msg, args) }

// Error logs msg at slog.LevelError with the given key/value pairs.
func (s *SlogLogger) Error(msg string, args ...any) { s.log(slog.LevelError, msg, args) }

// Slog returns the wrapped *slog.Logger, with the name attribute when s
// came from Named.
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
