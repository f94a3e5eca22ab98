package logging

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wshub/wshub/core"
)

func benchZapLogger(level zapcore.Level) *ZapLogger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return NewZap(zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), level)))
}

// BenchmarkZapDisabled measures a debug log with the level off: it must not
// allocate inside this package.
func BenchmarkZapDisabled(b *testing.B) {
	l := benchZapLogger(zapcore.InfoLevel)
	b.ReportAllocs()
	for b.Loop() {
		l.Debug("message dropped", "client_id", "c1", "queue", 256)
	}
}

// hubLike holds its logger the way the hub does, as a core.Logger field the
// compiler cannot see through.
type hubLike struct {
	log core.Logger
}

//go:noinline
func newHubLike(l core.Logger) *hubLike { return &hubLike{log: l} }

// BenchmarkZapDisabledViaInterface is a disabled debug log made the way the
// hub makes it: through a core.Logger field, with values only known at run
// time. Any allocation here is the caller's (boxing the values, building the
// variadic slice for an interface call), not this package's.
func BenchmarkZapDisabledViaInterface(b *testing.B) {
	h := newHubLike(core.Named(benchZapLogger(zapcore.InfoLevel), "wshub")) // named, as core.WithLogger does
	clientID, queued := "c1", 1000
	b.ReportAllocs()
	for b.Loop() {
		h.log.Debug("message dropped", "client_id", clientID, "queue", queued)
	}
}

// BenchmarkZapEnabled measures an enabled log with three fields written to
// io.Discard through zap's JSON encoder.
func BenchmarkZapEnabled(b *testing.B) {
	l := benchZapLogger(zapcore.DebugLevel)
	b.ReportAllocs()
	for b.Loop() {
		l.Info("client connected", "client_id", "c1", "user_id", "u1", "took", time.Millisecond)
	}
}

// BenchmarkSlogDisabled measures a debug log with the level off.
func BenchmarkSlogDisabled(b *testing.B) {
	l := NewSlog(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})))
	b.ReportAllocs()
	for b.Loop() {
		l.Debug("message dropped", "client_id", "c1", "queue", 256)
	}
}

// BenchmarkSlogEnabled measures an enabled log with three attributes written
// to io.Discard through slog's JSON handler.
func BenchmarkSlogEnabled(b *testing.B) {
	l := NewSlog(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b.ReportAllocs()
	for b.Loop() {
		l.Info("client connected", "client_id", "c1", "user_id", "u1", "took", time.Millisecond)
	}
}

// BenchmarkSlogEnabledNamed is BenchmarkSlogEnabled through a named logger,
// as the hub logs: the name attribute is formatted once, by With.
func BenchmarkSlogEnabledNamed(b *testing.B) {
	l := core.Named(NewSlog(slog.New(slog.NewJSONHandler(io.Discard, nil))), "wshub")
	b.ReportAllocs()
	for b.Loop() {
		l.Info("client connected", "client_id", "c1", "user_id", "u1", "took", time.Millisecond)
	}
}
