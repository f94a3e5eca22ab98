package core_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

type ctxKey struct{}

// A client's context carries the values of its upgrade request's context,
// outlives the upgrade request (whose context ends when the handler
// returns), and ends with the connection; a message's context is its
// client's when the hub has no Tracer.
func TestClientContext(t *testing.T) {
	seen := make(chan context.Context, 1)
	hub := core.NewHub(core.WithMessageHandler(func(_ *core.Client, msg *core.Message) error {
		seen <- msg.Context()
		return nil
	}))
	go hub.Run()
	require.NoError(t, hub.WaitRunning(context.Background()))
	t.Cleanup(func() { _ = hub.Shutdown(context.Background()) })

	clients := make(chan *core.Client, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "from the request"))
		c, err := hub.UpgradeConnection(w, r)
		if err == nil {
			clients <- c
		}
	}))
	t.Cleanup(srv.Close)
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	c := <-clients

	ctx := c.Context()
	assert.Equal(t, "from the request", ctx.Value(ctxKey{}))
	assert.Same(t, ctx, c.Context(), "one context per connection")
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("hi")))
	mctx := <-seen
	assert.Equal(t, "from the request", mctx.Value(ctxKey{}))
	assert.NoError(t, ctx.Err(), "the upgrade handler returned long ago; the connection is open")

	require.NoError(t, conn.Close())
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the client's context did not end with its connection")
	}
	assert.Equal(t, "from the request", ctx.Value(ctxKey{}), "values stay readable")
}

// A client that never asked for its context gets a done one after the
// connection ended; a message built by the app has Background.
func TestClientContextAfterEnd(t *testing.T) {
	closed := make(chan *core.Client, 1)
	hub := core.NewHub(core.WithHooks(core.Hooks{AfterDisconnect: func(c *core.Client) { closed <- c }}))
	go hub.Run()
	require.NoError(t, hub.WaitRunning(context.Background()))
	t.Cleanup(func() { _ = hub.Shutdown(context.Background()) })
	srv := httptest.NewServer(hub.HandleHTTP())
	t.Cleanup(srv.Close)
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.NoError(t, conn.Close())
	c := <-closed
	require.Eventually(t, func() bool { return c.Context().Err() != nil }, 5*time.Second, time.Millisecond)

	assert.Equal(t, context.Background(), core.NewTextMessage("x").Context())
}
