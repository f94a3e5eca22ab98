package core

import (
	"errors"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMiddlewareOrderFirstUseIsOutermost(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(next HandlerFunc) HandlerFunc {
			return func(c *Client, m *Message) error {
				order = append(order, name+">")
				err := next(c, m)
				order = append(order, "<"+name)
				return err
			}
		}
	}
	chain := NewMiddlewareChain(func(*Client, *Message) error { order = append(order, "handler"); return nil }).
		Use(mw("a")).Use(mw("b"))
	require.NoError(t, chain.Execute(nil, NewMessage(nil)))
	assert.Equal(t, []string{"a>", "b>", "handler", "<b", "<a"}, order)

	// Use after a build invalidates it.
	order = nil
	chain.Use(mw("c"))
	require.NoError(t, chain.Handler()(nil, NewMessage(nil)))
	assert.Equal(t, []string{"a>", "b>", "c>", "handler", "<c", "<b", "<a"}, order)
}

func TestMetricsMiddlewareCountsErrors(t *testing.T) {
	m := NewDebugMetrics()
	fail := errors.New("fail")
	h := MetricsMiddleware(m)(func(*Client, *Message) error { return fail })
	require.ErrorIs(t, h(nil, NewMessage(nil)), fail)
	assert.Equal(t, int64(1), m.Stats().Errors["handler"])
}

func TestRouterNotFoundVisibleInAfterMessage(t *testing.T) {
	errs := make(chan error, 2)
	r := NewRouter(func(m *Message) string { return m.Text() }).
		On("hello", func(c *Client, _ *Message) error { return c.SendText("hi") })
	h, srv := startHub(t, WithMessageHandler(r.Handle), WithHooks(Hooks{
		AfterMessage: func(_ *Client, _ *Message, err error) { errs <- err },
	}))
	conn, _ := dialWait(t, h, srv)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("nope")))
	require.ErrorIs(t, <-errs, ErrInvalidMessage)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("hello")))
	require.NoError(t, <-errs)
	_, got := read(t, conn)
	assert.Equal(t, "hi", got)

	r.OnNotFound(func(c *Client, _ *Message) error { return c.SendText("unknown") })
	assert.Equal(t, 1, r.Events())
}

func TestBeforeMessageCanRewriteAndReject(t *testing.T) {
	got := make(chan string, 4)
	h, srv := startHub(t,
		WithMessageHandler(func(_ *Client, m *Message) error { got <- m.Text(); return nil }),
		WithHooks(Hooks{BeforeMessage: func(_ *Client, m *Message) (*Message, error) {
			switch m.Text() {
			case "drop":
				return nil, ErrInvalidMessage
			case "rewrite":
				return NewTextMessage("rewritten"), nil
			}
			return nil, nil
		}}))
	conn, _ := dialWait(t, h, srv)
	for _, s := range []string{"drop", "rewrite", "plain"} {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(s)))
	}
	assert.Equal(t, "rewritten", <-got)
	assert.Equal(t, "plain", <-got)
}

func TestCoalesceWritesJoinsText(t *testing.T) {
	h := NewHub(WithConfig(DefaultConfig().WithCoalesceWrites(true)))
	conn := &countConn{}
	c := &Client{ID: "c", hub: h, conn: conn}
	c.sq.writing = true
	require.NoError(t, c.Send([]byte("a")))
	require.NoError(t, c.Send([]byte("b")))
	require.NoError(t, c.SendBinary([]byte{7}))
	require.NoError(t, c.Send([]byte("c")))
	c.writePump()
	// "a\nb" as one text frame, the binary frame, then "c".
	want := []byte{0x81, 3, 'a', '\n', 'b', 0x82, 1, 7, 0x81, 1, 'c'}
	assert.Equal(t, want, conn.data)
	assert.Equal(t, 1, conn.writes)
}
