package wshubfx_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/wshub/wshub/core"
)

// waitFor is the deadline of every condition a test waits on.
const waitFor = 10 * time.Second

// tick is how often a waited-on condition is polled.
const tick = 5 * time.Millisecond

// startApp builds and starts an fx app with the given options; cleanup
// stops it if the test did not.
func startApp(t *testing.T, opts ...fx.Option) *fxtest.App {
	t.Helper()
	app := fxtest.New(t, append([]fx.Option{fx.NopLogger}, opts...)...)
	app.RequireStart()
	t.Cleanup(func() { app.RequireStop() })
	return app
}

// serveHub serves hub's upgrade handler on an httptest server; cleanup
// closes it.
func serveHub(t *testing.T, hub *core.Hub) string {
	t.Helper()
	srv := httptest.NewServer(hub.HandleHTTP())
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// dial opens a WebSocket client; cleanup closes it.
func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// dialHub dials and waits until hub counts one more client.
func dialHub(t *testing.T, hub *core.Hub, url string) *websocket.Conn {
	t.Helper()
	before := hub.ClientCount()
	conn := dial(t, url)
	require.Eventually(t, func() bool { return hub.ClientCount() > before }, waitFor, tick)
	return conn
}

// readText reads one text message within the deadline.
func readText(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
	typ, data, err := conn.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, websocket.TextMessage, typ)
	return string(data)
}

// closeCode reads conn in a goroutine until the connection ends and
// delivers the close code the client received, or 0 when it ended without
// a close frame (or did not end within waitFor).
func closeCode(conn *websocket.Conn) <-chan int {
	codes := make(chan int, 1) // one code, then closed
	go func() {
		defer close(codes)
		_ = conn.SetReadDeadline(time.Now().Add(waitFor))
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					codes <- ce.Code
				}
				return
			}
		}
	}()
	return codes
}

// get fetches url and returns the status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: waitFor}).Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b.String()
}
