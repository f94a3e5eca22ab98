package core

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEchoAndBroadcast(t *testing.T) {
	h, srv := startHub(t, WithMessageHandler(func(c *Client, m *Message) error {
		return c.SendMessage(m.Type, m.Data)
	}))
	a, _ := dialWait(t, h, srv)
	b, _ := dialWait(t, h, srv)

	require.NoError(t, a.WriteMessage(websocket.TextMessage, []byte("ping")))
	typ, got := read(t, a)
	assert.Equal(t, websocket.TextMessage, typ)
	assert.Equal(t, "ping", got)

	h.Broadcast([]byte("all"))
	h.BroadcastBinary([]byte{1, 2})
	for _, c := range []*websocket.Conn{a, b} {
		_, got := read(t, c)
		assert.Equal(t, "all", got)
		typ, got = read(t, c)
		assert.Equal(t, websocket.BinaryMessage, typ)
		assert.Equal(t, "\x01\x02", got)
	}
}

func TestBatchKeepsMessageBoundaries(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	// Queue many messages at once so the write pump batches them.
	for i := 0; i < 200; i++ {
		require.NoError(t, c.Send([]byte{byte('a' + i%26)}))
	}
	for i := 0; i < 200; i++ {
		_, got := read(t, conn)
		require.Equal(t, string([]byte{byte('a' + i%26)}), got, "message %d", i)
	}
}

func TestLargeMessagesRoundTrip(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	sizes := []int{0, 125, 126, 65535, 65536, 200000}
	for _, n := range sizes {
		require.NoError(t, c.Send(make([]byte, n)))
	}
	for _, n := range sizes {
		_, got := read(t, conn)
		require.Len(t, got, n)
	}
}

func TestUpgradeRefusedBeforeRunAndAfterStop(t *testing.T) {
	h := NewHub()
	srv := httptest.NewServer(h.HandleHTTP())
	defer srv.Close()
	assert.Equal(t, http.StatusServiceUnavailable, httpStatus(t, srv, nil))
	assert.Equal(t, StateCreated, h.State())

	go h.Run()
	require.NoError(t, h.WaitRunning(context.Background()))
	conn := dial(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.Shutdown(ctx))
	ce := readClose(t, conn)
	assert.Equal(t, websocket.CloseGoingAway, ce.Code)
	assert.Equal(t, http.StatusServiceUnavailable, httpStatus(t, srv, nil))
	assert.False(t, h.Alive())
}

func TestShutdownBeforeRunReturns(t *testing.T) {
	h := NewHub()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.NoError(t, h.Shutdown(ctx))
	h.Run() // returns at once after Shutdown
	assert.Equal(t, StateStopped, h.State())
}

func TestShutdownRunsDisconnectPathAndFlushes(t *testing.T) {
	var disconnects, onClose atomic.Int32
	h := NewHub(WithHooks(Hooks{
		BeforeDisconnect: func(*Client) { disconnects.Add(1) },
	}))
	go h.Run()
	require.NoError(t, h.WaitRunning(context.Background()))
	srv := httptest.NewServer(h.HandleHTTP())
	defer srv.Close()

	const n = 5
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		var c *Client
		conns[i], c = dialWait(t, h, srv)
		c.OnClose(func(*Client) { onClose.Add(1) })
		require.NoError(t, h.JoinRoom(c, "lobby"))
	}
	// Queue messages, then shut down: each client must get all of them
	// before the close frame.
	for i := 0; i < 50; i++ {
		h.Broadcast([]byte("m"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Shutdown(ctx) }()
	for _, conn := range conns {
		got := 0
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		for {
			_, _, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, websocket.CloseGoingAway, ce.Code)
				break
			}
			got++
		}
		assert.Equal(t, 50, got)
	}
	require.NoError(t, <-done)
	assert.Equal(t, int32(n), disconnects.Load())
	assert.Equal(t, int32(n), onClose.Load())
	assert.Equal(t, 0, h.ClientCount())
	assert.False(t, h.RoomExists("lobby"))
}
