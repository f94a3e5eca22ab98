package core

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Code written against the library we replace closes a client twice
// without checking (a handler and an OnClose path, say) and expects nil both
// times; the first close decides the code the peer sees.
func TestSecondCloseReturnsNil(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	require.NoError(t, c.CloseWithCode(4001, "first"))
	require.NoError(t, c.Close())
	require.NoError(t, c.CloseWithCode(4002, "second"))
	ce := readClose(t, conn)
	assert.Equal(t, 4001, ce.Code)
	assert.Equal(t, "first", ce.Text)
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, time.Millisecond)
	require.NoError(t, c.Close(), "closing a client that is gone")
	require.NoError(t, c.CloseWithCode(websocket.CloseGoingAway, ""))
}

// IsClosed turns true when a close starts, and ClosedAt with it, whoever
// starts it; ClosedAt does not move when the teardown ends.
func TestClosedAtSetWhenCloseStarts(t *testing.T) {
	cases := map[string]func(t *testing.T, h *Hub, conn *websocket.Conn, c *Client){
		"Close": func(t *testing.T, _ *Hub, _ *websocket.Conn, c *Client) {
			require.NoError(t, c.Close())
		},
		"peer close frame": func(t *testing.T, _ *Hub, conn *websocket.Conn, c *Client) {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
			require.NoError(t, conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)))
			require.Eventually(t, c.IsClosed, 5*time.Second, time.Millisecond)
		},
		"slow client": func(t *testing.T, _ *Hub, _ *websocket.Conn, c *Client) {
			c.disconnectSlow()
		},
		"Shutdown": func(t *testing.T, h *Hub, _ *websocket.Conn, c *Client) {
			go h.Shutdown(t.Context()) //nolint:errcheck // the test waits on the client instead
			require.Eventually(t, c.IsClosed, 5*time.Second, time.Millisecond)
		},
	}
	for name, start := range cases {
		t.Run(name, func(t *testing.T) {
			h, srv := startHub(t)
			conn, c := dialWait(t, h, srv)
			assert.True(t, c.ClosedAt().IsZero(), "open client")
			before := time.Now()
			start(t, h, conn, c)
			require.True(t, c.IsClosed())
			at := c.ClosedAt()
			require.False(t, at.IsZero(), "IsClosed without ClosedAt")
			assert.False(t, at.Before(before))
			_ = readClose(t, conn)
			require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, time.Millisecond)
			assert.Equal(t, at, c.ClosedAt(), "the teardown keeps the start time")
		})
	}
}

// IsClosed and ClosedAt agree at every instant, also while another
// goroutine closes the client.
func TestClosedAtAgreesWithIsClosed(t *testing.T) {
	h, srv := startHub(t)
	_, c := dialWait(t, h, srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Close()
	}()
	for {
		closed := c.IsClosed()
		at := c.ClosedAt()
		if closed {
			require.False(t, at.IsZero(), "IsClosed true before ClosedAt was set")
			break
		}
	}
	<-done
}
