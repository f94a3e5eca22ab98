package logging

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

const waitFor = 10 * time.Second

// startHub runs a hub logging to logger behind an httptest server until
// the test ends (see wshubtest.StartHub).
func startHub(t *testing.T, logger core.Logger, opts ...core.Option) *wshubtest.HubNode {
	t.Helper()
	return wshubtest.StartHub(t, append([]core.Option{core.WithLogger(logger)}, opts...)...)
}

// panicAfterDial connects to n, sends a message that makes the handler
// panic and waits for the server to close the connection.
func panicAfterDial(t *testing.T, n *wshubtest.HubNode) {
	t.Helper()
	s := n.Dial(t)
	require.NoError(t, s.Conn.WriteMessage(websocket.TextMessage, []byte("boom")))
	code, _ := s.ReadUntilClose(t, waitFor)
	require.Equal(t, websocket.CloseInternalServerErr, code, "want close 1011")
}

func panickingHandler(*core.Client, *core.Message) error { panic("handler exploded") }

// TestZapThroughRealHub checks what a real hub logs through NewZap: level,
// message, structured fields and the hub's own call site as the caller.
func TestZapThroughRealHub(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	n := startHub(t, NewZap(zap.New(obs, zap.AddCaller())), core.WithMessageHandler(panickingHandler))

	panicAfterDial(t, n)

	var entry observer.LoggedEntry
	require.Eventually(t, func() bool {
		found := logs.FilterMessageSnippet("panicked").AllUntimed()
		if len(found) == 0 {
			return false
		}
		entry = found[0]
		return true
	}, waitFor, 5*time.Millisecond)

	assert.Equal(t, zapcore.ErrorLevel, entry.Level)
	assert.Equal(t, "wshub", entry.LoggerName, "the hub names its logger")
	assert.NotContains(t, entry.Message, "wshub:", "no prefix in the message")
	fields := entry.ContextMap()
	assert.Equal(t, "handler exploded", fields["panic"])
	assert.NotEmpty(t, fields["client_id"])
	// The stack is one string field, not a message suffix or zap's own
	// entry stacktrace.
	stack, ok := fields["stack"].(string)
	require.True(t, ok, "stack is %T", fields["stack"])
	assert.Contains(t, stack, "goroutine ")
	assert.Empty(t, entry.Stack)
	require.True(t, entry.Caller.Defined)
	assert.Equal(t, "core", filepath.Base(filepath.Dir(entry.Caller.File)),
		"the caller must be the hub's code, got %s", entry.Caller.File)
}

// TestSlogThroughRealHub does the same through NewSlog and a JSON handler.
func TestSlogThroughRealHub(t *testing.T) {
	buf := &lockedBuffer{}
	h := slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true})
	n := startHub(t, NewSlog(slog.New(h)), core.WithMessageHandler(panickingHandler))

	panicAfterDial(t, n)

	var rec map[string]any
	require.Eventually(t, func() bool {
		recs, err := buf.tryRecords()
		if err != nil {
			return false
		}
		for _, r := range recs {
			if msg, _ := r["msg"].(string); strings.Contains(msg, "panicked") {
				rec = r
				return true
			}
		}
		return false
	}, waitFor, 5*time.Millisecond)

	assert.Equal(t, "ERROR", rec["level"])
	assert.Equal(t, "wshub", rec[SlogNameKey], "the hub names its logger")
	assert.Equal(t, "handler exploded", rec["panic"])
	stack, ok := rec["stack"].(string)
	require.True(t, ok, "stack is %T", rec["stack"])
	assert.Contains(t, stack, "goroutine ")
	assert.NotEmpty(t, rec["client_id"])
	src, ok := rec["source"].(map[string]any)
	require.True(t, ok, "no source in %v", rec)
	file, ok := src["file"].(string)
	require.True(t, ok, "no file in %v", src)
	assert.Equal(t, "core", filepath.Base(filepath.Dir(file)), "the source must be the hub's code, got %s", file)
}
