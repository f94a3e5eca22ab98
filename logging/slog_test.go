package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// lockedBuffer lets concurrent log calls share one bytes.Buffer.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records decodes the JSON lines written so far.
func (b *lockedBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	recs, err := b.tryRecords()
	require.NoError(t, err)
	return recs
}

// tryRecords is records for use off the test goroutine.
func (b *lockedBuffer) tryRecords() ([]map[string]any, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func newJSONSlog(level slog.Level) (*SlogLogger, *lockedBuffer) {
	buf := &lockedBuffer{}
	h := slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level, AddSource: true})
	return NewSlog(slog.New(h)), buf
}

func TestSlogLevelsAndArgs(t *testing.T) {
	t.Parallel()

	tests := []struct {
		give func(core.Logger, string, ...any)
		want string
	}{
		{give: core.Logger.Debug, want: "DEBUG"},
		{give: core.Logger.Info, want: "INFO"},
		{give: core.Logger.Warn, want: "WARN"},
		{give: core.Logger.Error, want: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			l, buf := newJSONSlog(slog.LevelDebug)
			tt.give(l, "hello", "client_id", "c1", "n", 3, "took", 2*time.Second, "err", errors.New("boom"))

			recs := buf.records(t)
			require.Len(t, recs, 1)
			rec := recs[0]
			assert.Equal(t, tt.want, rec["level"])
			assert.Equal(t, "hello", rec["msg"])
			assert.Equal(t, "c1", rec["client_id"])
			assert.InDelta(t, 3, rec["n"], 0)
			assert.InDelta(t, float64(2*time.Second), rec["took"], 0)
			assert.Equal(t, "boom", rec["err"])
		})
	}
}

func TestSlogBadKeysAndAttrs(t *testing.T) {
	t.Parallel()

	l, buf := newJSONSlog(slog.LevelDebug)
	l.Info("odd", slog.String("room", "lobby"), 42, "dangling")

	recs := buf.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "lobby", recs[0]["room"])
	// slog keeps only the last "!BADKEY" in a JSON object; the value must be
	// one of the two keyless arguments, not lost silently.
	assert.Contains(t, []any{float64(42), "dangling"}, recs[0][badKey])
}

func TestSlogDisabledLevel(t *testing.T) {
	t.Parallel()

	l, buf := newJSONSlog(slog.LevelWarn)
	l.Debug("dropped")
	l.Info("dropped")
	l.Warn("kept")

	recs := buf.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "kept", recs[0]["msg"])
}

func TestSlogSourceIsTheCallSite(t *testing.T) {
	t.Parallel()

	l, buf := newJSONSlog(slog.LevelDebug)
	var logger core.Logger = l
	logger.Error("where") // the source slog reports must be this file

	recs := buf.records(t)
	require.Len(t, recs, 1)
	src, ok := recs[0]["source"].(map[string]any)
	require.True(t, ok, "no source in %v", recs[0])
	file, ok := src["file"].(string)
	require.True(t, ok, "no file in %v", src)
	assert.Equal(t, "slog_test.go", filepath.Base(file))
	assert.Equal(t, "github.com/wshub/wshub/logging.TestSlogSourceIsTheCallSite", src["function"])
}

func TestSlogNilLoggerDiscards(t *testing.T) {
	t.Parallel()

	l := NewSlog(nil)
	assert.NotPanics(t, func() { l.Error("nobody listens", "k", "v") })
	assert.NotNil(t, l.Slog())
}

func TestSlogAccessorReturnsWrapped(t *testing.T) {
	t.Parallel()

	base := slog.New(slog.DiscardHandler)
	assert.Same(t, base, NewSlog(base).Slog())
}

func TestSlogNamed(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		give func(*SlogLogger) core.Logger
		want any // the "logger" attribute, nil for none
	}{
		{name: "unnamed", give: func(l *SlogLogger) core.Logger { return l }, want: nil},
		{name: "one", give: func(l *SlogLogger) core.Logger { return l.Named("wshub") }, want: "wshub"},
		{
			name: "nested joined with dots",
			give: func(l *SlogLogger) core.Logger { return core.Named(core.Named(l, "wshub"), "nats") },
			want: "wshub.nats",
		},
		{name: "empty name keeps the logger", give: func(l *SlogLogger) core.Logger { return l.Named("") }, want: nil},
		{name: "dotted name", give: func(l *SlogLogger) core.Logger { return core.Named(l, "wshub.fx") }, want: "wshub.fx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, buf := newJSONSlog(slog.LevelDebug)
			tt.give(l).Warn("hello", "k", "v")

			recs := buf.records(t)
			require.Len(t, recs, 1)
			assert.Equal(t, tt.want, recs[0][SlogNameKey])
			assert.Equal(t, "v", recs[0]["k"])
			assert.Equal(t, "hello", recs[0]["msg"])
		})
	}
}

// Nested names give one "logger" key, not one per level (slog's JSON
// handler would write each With attribute, duplicate keys included).
func TestSlogNamedHasOneNameKey(t *testing.T) {
	t.Parallel()

	l, buf := newJSONSlog(slog.LevelDebug)
	core.Named(core.Named(l, "a"), "b").Info("once")
	line := strings.TrimSpace(buf.buf.String())
	assert.Equal(t, 1, strings.Count(line, `"logger":`), line)
	assert.Contains(t, line, `"logger":"a.b"`)

	_, buf = newJSONSlog(slog.LevelDebug)
	var parent core.Logger = NewSlog(slog.New(slog.NewJSONHandler(buf, nil)))
	_ = core.Named(parent, "child")
	parent.Info("parent")
	assert.NotContains(t, buf.buf.String(), `"logger"`, "the parent keeps no name")
}

func TestSlogNamedSourceIsTheCallSite(t *testing.T) {
	t.Parallel()

	l, buf := newJSONSlog(slog.LevelDebug)
	core.Named(l, "wshub").Error("where")

	recs := buf.records(t)
	require.Len(t, recs, 1)
	src, ok := recs[0]["source"].(map[string]any)
	require.True(t, ok, "no source in %v", recs[0])
	assert.Equal(t, "github.com/wshub/wshub/logging.TestSlogNamedSourceIsTheCallSite", src["function"])
}
