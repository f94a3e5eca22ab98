package logging

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/core"
)

func newObserved(t *testing.T, level zapcore.Level) (*ZapLogger, *observer.ObservedLogs) {
	t.Helper()
	obsCore, logs := observer.New(level)
	return NewZap(zap.New(obsCore, zap.AddCaller())), logs
}

func TestZapLevels(t *testing.T) {
	t.Parallel()

	tests := []struct {
		give func(core.Logger, string, ...any)
		want zapcore.Level
	}{
		{give: core.Logger.Debug, want: zapcore.DebugLevel},
		{give: core.Logger.Info, want: zapcore.InfoLevel},
		{give: core.Logger.Warn, want: zapcore.WarnLevel},
		{give: core.Logger.Error, want: zapcore.ErrorLevel},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			t.Parallel()
			l, logs := newObserved(t, zapcore.DebugLevel)
			tt.give(l, "hello", "client_id", "c1")

			entries := logs.AllUntimed()
			require.Len(t, entries, 1)
			assert.Equal(t, tt.want, entries[0].Level)
			assert.Equal(t, "hello", entries[0].Message)
			assert.Equal(t, map[string]any{"client_id": "c1"}, entries[0].ContextMap())
		})
	}
}

func TestZapDisabledLevel(t *testing.T) {
	t.Parallel()

	l, logs := newObserved(t, zapcore.WarnLevel)
	l.Debug("dropped", "k", 1)
	l.Info("dropped too")
	l.Warn("kept")
	l.Error("kept too")

	entries := logs.AllUntimed()
	require.Len(t, entries, 2)
	assert.Equal(t, "kept", entries[0].Message)
	assert.Equal(t, "kept too", entries[1].Message)
}

type stringer struct{}

func (stringer) String() string { return "stringer-value" }

func TestZapFields(t *testing.T) {
	t.Parallel()

	errBoom := errors.New("boom")
	tests := []struct {
		name string
		give []any
		want []zap.Field
	}{
		{name: "none", give: nil, want: []zap.Field{}},
		{
			name: "scalars",
			give: []any{"s", "v", "i", 42, "i64", int64(-7), "u", uint(3), "f", 1.5, "b", true},
			want: []zap.Field{
				zap.String("s", "v"), zap.Int("i", 42), zap.Int64("i64", -7),
				zap.Uint("u", 3), zap.Float64("f", 1.5), zap.Bool("b", true),
			},
		},
		{
			name: "duration and time",
			give: []any{"took", 1500 * time.Millisecond, "at", time.Unix(10, 0).UTC()},
			want: []zap.Field{zap.Duration("took", 1500*time.Millisecond), zap.Time("at", time.Unix(10, 0).UTC())},
		},
		{
			name: "error",
			give: []any{"error", errBoom, "cause", errBoom},
			want: []zap.Field{zap.Error(errBoom), zap.NamedError("cause", errBoom)},
		},
		{
			name: "nil value",
			give: []any{"nothing", nil},
			want: []zap.Field{zap.Any("nothing", nil)},
		},
		{
			name: "stringer",
			give: []any{"x", stringer{}},
			want: []zap.Field{zap.Any("x", stringer{})},
		},
		{
			name: "odd trailing key",
			give: []any{"k", "v", "dangling"},
			want: []zap.Field{zap.String("k", "v"), zap.String(badKey, "dangling")},
		},
		{
			name: "non-string key",
			give: []any{42, "k", "v"},
			want: []zap.Field{zap.Int(badKey, 42), zap.String("k", "v")},
		},
		{
			name: "error without key",
			give: []any{errBoom},
			want: []zap.Field{zap.NamedError(badKey, errBoom)},
		},
		{
			name: "zap field and slog attr",
			give: []any{zap.Int("n", 1), slog.String("room", "lobby"), "k", "v"},
			want: []zap.Field{zap.Int("n", 1), zap.String("room", "lobby"), zap.String("k", "v")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, logs := newObserved(t, zapcore.DebugLevel)
			l.Info("msg", tt.give...)

			entries := logs.AllUntimed()
			require.Len(t, entries, 1)
			assert.Equal(t, tt.want, entries[0].Context)
		})
	}
}

func TestZapCallerIsTheCallSite(t *testing.T) {
	t.Parallel()

	l, logs := newObserved(t, zapcore.DebugLevel)
	var logger core.Logger = l
	logger.Warn("where") // the caller zap reports must be this line's file

	entries := logs.AllUntimed()
	require.Len(t, entries, 1)
	require.True(t, entries[0].Caller.Defined)
	assert.Equal(t, "zap_test.go", filepath.Base(entries[0].Caller.File))
}

func TestZapNilLoggerDiscards(t *testing.T) {
	t.Parallel()

	l := NewZap(nil)
	assert.NotPanics(t, func() {
		l.Error("nobody listens", "k", "v")
	})
	require.NoError(t, l.Sync())
	assert.NotNil(t, l.Zap())
}

func TestZapAccessorReturnsWrapped(t *testing.T) {
	t.Parallel()

	base := zaptest.NewLogger(t)
	assert.Same(t, base, NewZap(base).Zap())
}

func TestZapConcurrentUse(t *testing.T) {
	t.Parallel()

	l, logs := newObserved(t, zapcore.InfoLevel)
	const goroutines, each = 8, 50
	done := make(chan struct{})
	for g := range goroutines {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				l.Info("concurrent", "g", g, "i", i)
			}
		}()
	}
	for range goroutines {
		<-done
	}
	assert.Equal(t, goroutines*each, logs.Len())
}

// zaptest's logger fails the test if it is used after the test ends, and
// routes output through t.Log: a smoke test that the adapter works with it.
func TestZapWithZaptest(t *testing.T) {
	t.Parallel()

	l := NewZap(zaptest.NewLogger(t, zaptest.Level(zapcore.DebugLevel)))
	l.Debug("through zaptest", "err", fmt.Errorf("wrapped: %w", errors.New("inner")))
	require.NoError(t, l.Sync())
}

func TestZapNamed(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		give func(*ZapLogger) core.Logger
		want string // the entry's logger name, and Zap().Name()
	}{
		{name: "unnamed", give: func(l *ZapLogger) core.Logger { return l }, want: ""},
		{name: "one", give: func(l *ZapLogger) core.Logger { return l.Named("wshub") }, want: "wshub"},
		{
			name: "nested",
			give: func(l *ZapLogger) core.Logger { return core.Named(l.Named("wshub"), "nats") },
			want: "wshub.nats",
		},
		{name: "empty name keeps the logger", give: func(l *ZapLogger) core.Logger { return l.Named("") }, want: ""},
		{name: "core.Named", give: func(l *ZapLogger) core.Logger { return core.Named(l, "wshub.fx") }, want: "wshub.fx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, logs := newObserved(t, zapcore.DebugLevel)
			named := tt.give(l)
			named.Info("hello", "k", "v") // the caller zap reports must be this line's file

			entries := logs.AllUntimed()
			require.Len(t, entries, 1)
			assert.Equal(t, tt.want, entries[0].LoggerName)
			assert.Equal(t, map[string]any{"k": "v"}, entries[0].ContextMap())
			require.True(t, entries[0].Caller.Defined)
			assert.Equal(t, "zap_test.go", filepath.Base(entries[0].Caller.File), "named loggers keep the caller skip")
			zl, ok := named.(*ZapLogger)
			require.True(t, ok)
			assert.Equal(t, tt.want, zl.Zap().Name())
		})
	}
}

// The parent keeps its name after Named.
func TestZapNamedLeavesParent(t *testing.T) {
	t.Parallel()

	l, logs := newObserved(t, zapcore.DebugLevel)
	_ = l.Named("child")
	l.Info("parent")
	require.Equal(t, 1, logs.Len())
	assert.Empty(t, logs.AllUntimed()[0].LoggerName)
}
