package core

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOversizedFrameCloses1009(t *testing.T) {
	m := NewDebugMetrics()
	h, srv := startHub(t, WithMetrics(m), WithConfig(DefaultConfig().WithMaxMessageSize(1024)))
	conn, _ := dialWait(t, h, srv)
	other, _ := dialWait(t, h, srv)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, make([]byte, 1025)))
	assert.Equal(t, websocket.CloseMessageTooBig, readClose(t, conn).Code)
	// Nothing else is lost: the other client still works.
	require.Eventually(t, func() bool { return h.ClientCount() == 1 }, 5*time.Second, time.Millisecond)
	h.Broadcast([]byte("alive"))
	_, got := read(t, other)
	assert.Equal(t, "alive", got)
	assert.Equal(t, int64(1), m.Stats().Errors["message_too_big"])
}

// A small compressed frame that inflates past MaxMessageSize closes the
// connection with 1009 without the server inflating it all.
func TestCompressionBombCloses1009(t *testing.T) {
	h, srv := startHub(t, WithConfig(DefaultConfig().WithMaxMessageSize(1024).WithCompression(true)))
	d := websocket.Dialer{EnableCompression: true}
	conn, resp, err := d.Dial(wsURL(srv), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer func() { _ = conn.Close() }()
	require.Contains(t, resp.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate")

	// 256 KiB of zeros compress to a few hundred bytes: under the wire
	// limit, far over the inflated one.
	bomb := make([]byte, 256<<10)
	var fb bytes.Buffer
	fw, _ := flate.NewWriter(&fb, flate.BestCompression)
	_, _ = fw.Write(bomb)
	_ = fw.Close()
	require.Less(t, fb.Len(), 1024)

	require.NoError(t, conn.WriteMessage(websocket.TextMessage, bomb))
	assert.Equal(t, websocket.CloseMessageTooBig, readClose(t, conn).Code)
	_ = conn.Close() // the hub waits for the peer to close after a fault
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, time.Millisecond)

	// A message within the limit still round-trips compressed.
	conn2, resp2, err := d.Dial(wsURL(srv), nil)
	require.NoError(t, err)
	_ = resp2.Body.Close()
	defer func() { _ = conn2.Close() }()
	require.Eventually(t, func() bool { return len(h.Clients()) == 1 }, 5*time.Second, time.Millisecond)
	h.Broadcast([]byte(strings.Repeat("compressible ", 50)))
	_, got := read(t, conn2)
	assert.Equal(t, strings.Repeat("compressible ", 50), got)
}

// A client sending a close frame with a code that is invalid on the wire
// gets a protocol-error close and the hub cleans up.
func TestInvalidCloseCodeFromClient(t *testing.T) {
	h, srv := startHub(t)
	conn, _ := dialWait(t, h, srv)
	// 1005 must never appear on the wire.
	require.NoError(t, conn.WriteControl(websocket.CloseMessage, []byte{0x03, 0xED}, time.Now().Add(time.Second)))
	ce := readClose(t, conn)
	assert.Equal(t, websocket.CloseProtocolError, ce.Code)
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, time.Millisecond)
}

func TestClientCloseIsAnsweredAndCleanedUp(t *testing.T) {
	var gone atomic.Int32
	h, srv := startHub(t, WithHooks(Hooks{AfterDisconnect: func(*Client) { gone.Add(1) }}))
	conn, _ := dialWait(t, h, srv)
	require.NoError(t, conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(time.Second)))
	ce := readClose(t, conn)
	assert.Equal(t, 4000, ce.Code)
	require.Eventually(t, func() bool { return h.ClientCount() == 0 && gone.Load() == 1 }, 5*time.Second, time.Millisecond)
}

// A silent client (no pong, no message) is closed after PongWait.
func TestSilentClientTimesOut(t *testing.T) {
	cfg := DefaultConfig().WithTimeouts(time.Second, 300*time.Millisecond, 100*time.Millisecond)
	h, srv := startHub(t, WithConfig(cfg))
	// The client never reads, so it never answers a ping: gorilla's client
	// answers pings only while reading.
	dialWait(t, h, srv)
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, 5*time.Millisecond)
}

// A client that reads (and so answers pings) stays connected past PongWait.
func TestPingKeepsClientAlive(t *testing.T) {
	cfg := DefaultConfig().WithTimeouts(time.Second, 300*time.Millisecond, 100*time.Millisecond)
	h, srv := startHub(t, WithConfig(cfg))
	conn, c := dialWait(t, h, srv)
	pings := make(chan struct{}, 16)
	conn.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for i := 0; i < 6; i++ { // 6 pings ≈ 600ms, twice PongWait
		select {
		case <-pings:
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
	}
	assert.False(t, c.IsClosed())
	assert.Equal(t, 1, h.ClientCount())
}

// A peer that keeps sending but never answers our close frame is dropped
// after the close grace, not after PongWait: its messages must not extend
// the read deadline once the client is closing.
func TestPeerIgnoringOurCloseIsDroppedAfterGrace(t *testing.T) {
	h, srv := startHub(t) // PongWait stays at its 60 s default
	conn, c := dialWait(t, h, srv)
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		for {
			if err := conn.WriteMessage(websocket.TextMessage, []byte("more")); err != nil {
				return
			}
		}
	}()
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 10*closeGrace, time.Millisecond)
	_ = conn.Close()
	<-flooding
}

// A peer that stops reading is dropped once a write has waited WriteWait,
// with or without compression. With compression gorilla sets its own (zero)
// write deadline on every frame it encodes; that must not clear the one the
// write pump set for the batch.
func TestStalledPeerDroppedAfterWriteWait(t *testing.T) {
	payload := make([]byte, 32<<10)
	_, _ = rand.Read(payload) // incompressible: the socket fills just as fast
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compression=%v", compress), func(t *testing.T) {
			cfg := DefaultConfig().WithCompression(compress).WithTimeouts(300*time.Millisecond, time.Minute, time.Minute)
			h, srv := startHub(t, WithConfig(cfg))
			conn, resp, err := (&websocket.Dialer{EnableCompression: compress}).Dial(wsURL(srv), nil)
			require.NoError(t, err)
			_ = resp.Body.Close()
			defer func() { _ = conn.Close() }()
			require.Eventually(t, func() bool { return h.ClientCount() == 1 }, 5*time.Second, time.Millisecond)
			c := h.Clients()[0]
			require.Equal(t, compress, c.cc != nil)
			// The peer never reads: keep queueing until the blocked write
			// times out and the client is torn down.
			require.Eventually(t, func() bool {
				_ = c.SendBinary(payload) // random bytes are not UTF-8 text
				return h.ClientCount() == 0
			}, 20*time.Second, time.Millisecond)
		})
	}
}

// A peer that floods pings without reading owes at most one pong: the
// backlog does not grow with the pings.
func TestPingFloodKeepsOnePongPending(t *testing.T) {
	seen := make(chan struct{})
	h, srv := startHub(t, WithMessageHandler(func(*Client, *Message) error {
		close(seen)
		return nil
	}))
	conn, c := dialWait(t, h, srv)
	ping := make([]byte, 125)
	for i := 0; i < 100_000; i++ { // 12.7 MB of pongs, more than the socket buffers take
		require.NoError(t, conn.WriteControl(websocket.PingMessage, ping, time.Now().Add(5*time.Second)))
	}
	// The reader handles frames in order: once it saw this message, it has
	// answered every ping.
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("after the pings")))
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the message after the pings never reached the handler")
	}
	c.mu.Lock()
	pending := len(c.sq.pong)
	c.mu.Unlock()
	assert.LessOrEqual(t, pending, 2+125, "one pong at most is owed")
}
