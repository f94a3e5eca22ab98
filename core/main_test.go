package core

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startHub runs a hub behind an httptest server; cleanup shuts both down.
func startHub(t *testing.T, opts ...Option) (*Hub, *httptest.Server) {
	t.Helper()
	h := NewHub(opts...)
	go h.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.WaitRunning(ctx))
	srv := httptest.NewServer(h.HandleHTTP())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		srv.Close()
	})
	return h, srv
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

// dial connects a gorilla client; cleanup closes it.
func dial(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv), nil)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// dialWait connects and waits until the hub registered the client.
func dialWait(t *testing.T, h *Hub, srv *httptest.Server) (*websocket.Conn, *Client) {
	t.Helper()
	return dialURLWait(t, h, wsURL(srv))
}

// dialURLWait connects to url (cleanup closes the connection) and waits
// until the hub registered the client.
func dialURLWait(t *testing.T, h *Hub, url string) (*websocket.Conn, *Client) {
	t.Helper()
	before := map[string]bool{}
	for _, c := range h.Clients() {
		before[c.ID] = true
	}
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	t.Cleanup(func() { _ = conn.Close() })
	var got *Client
	require.Eventually(t, func() bool {
		for _, c := range h.Clients() {
			if !before[c.ID] {
				got = c
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond)
	return conn, got
}

// read reads one message with a deadline.
func read(t *testing.T, conn *websocket.Conn) (int, string) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	typ, data, err := conn.ReadMessage()
	require.NoError(t, err)
	return typ, string(data)
}

// readClose reads until the connection closes and returns the close error.
func readClose(t *testing.T, conn *websocket.Conn) *websocket.CloseError {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	for {
		_, _, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce, "want a close frame, got %v", err)
			return ce
		}
	}
}

func httpStatus(t *testing.T, srv *httptest.Server, hdr http.Header) int {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv), hdr)
	if err == nil {
		_ = conn.Close()
	}
	require.NotNil(t, resp)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func contextWithTimeout(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
