package logging

import (
	"context"
	"log/slog"
	"net/http/httptest"
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
)

const waitFor = 10 * time.Second

// startHub runs a hub logging to logger, serves it with httptest and stops
// both when the test ends.
func startHub(t *testing.T, logger core.Logger, opts ...core.Option) *httptest.Server {
	t.Helper()
	hub := core.NewHub(append([]core.Option{core.WithLogger(logger)}, opts...)...)
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		hub.Run()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	require.NoError(t, hub.WaitRunning(ctx))
	srv := httptest.NewServer(hub.HandleHTTP())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		assert.NoError(t, hub.Shutdown(ctx))
		srv.Close()
		<-runDone
	})
	return srv
}

// panicAfterDial connects to srv, sends a message that makes the handler
// panic and waits for the server to close the connection.
func panicAfterDial(t *testing.T, srv *httptest.Server) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	defer func() { _ = conn.Close() }()

	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("boom")))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
	_, _, err = conn.ReadMessage()
	require.True(t, websocket.IsCloseError(err, websocket.CloseInternalServerErr), "want close 1011, got %v", err)
}

func panickingHandler(*core.Client, *core.Message) error { panic("handler exploded") }

// TestZapThroughRealHub checks what a real hub logs through NewZap: level,
// message, structured fields and the hub's own call site as the caller.
func TestZapThroughRealHub(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	srv := startHub(t, NewZap(zap.New(obs, zap.AddCaller())), core.WithMessageHandler(panickingHandler))

	panicAfterDial(t, srv)

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
	fields := entry.ContextMap()
	assert.Equal(t, "handler exploded", fields["panic"])
	assert.NotEmpty(t, fields["client_id"])
	require.True(t, entry.Caller.Defined)
	assert.Equal(t, "core", filepath.Base(filepath.Dir(entry.Caller.File)),
		"the caller must be the hub's code, got %s", entry.Caller.File)
}

// TestSlogThroughRealHub does the same through NewSlog and a JSON handler.
func TestSlogThroughRealHub(t *testing.T) {
	buf := &lockedBuffer{}
	h := slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true})
	srv := startHub(t, NewSlog(slog.New(h)), core.WithMessageHandler(panickingHandler))

	panicAfterDial(t, srv)

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
	assert.Equal(t, "handler exploded", rec["panic"])
	assert.NotEmpty(t, rec["client_id"])
	src, ok := rec["source"].(map[string]any)
	require.True(t, ok, "no source in %v", rec)
	file, ok := src["file"].(string)
	require.True(t, ok, "no file in %v", src)
	assert.Equal(t, "core", filepath.Base(filepath.Dir(file)), "the source must be the hub's code, got %s", file)
}
