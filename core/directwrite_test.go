package core

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// sentMetrics counts messages and bytes written.
type sentMetrics struct {
	NoOpMetrics
	sent  atomic.Int64
	bytes atomic.Int64
}

func (m *sentMetrics) IncrementMessagesSent(n int) { m.sent.Add(int64(n)) }
func (m *sentMetrics) AddBytesSent(n int)          { m.bytes.Add(int64(n)) }
func (m *sentMetrics) AddBytesReceived(int)        {}
func (m *sentMetrics) SetClusterNodes(int)         {}

// A handler's replies are written directly while the socket takes them,
// and handed to the write pump when it is full. The peer reads only after
// sending everything: the first messages get one reply each, so that a
// direct write meets the full socket and leaves the rest to the pump; the
// last get two, the second queued behind the first. Every reply comes out
// whole, in order, and counted once.
func TestDirectWriteRepliesInOrderThroughAFullSocket(t *testing.T) {
	const single, double = 200, 50 // with small socket buffers, a few replies fill them
	const size = directWriteSize   // the largest reply written directly
	const replies = single + 2*double
	m := &sentMetrics{}
	// Bounds that hold every reply: the test is about order, not about
	// the drop policy.
	cfg := DefaultConfig().WithSendChannelSize(2 * replies).WithMaxQueuedBytes(2 * replies * size)
	_, srv := startHub(t, WithConfig(cfg), WithMetrics(m), smallSocketBuffers, WithMessageHandler(func(c *Client, msg *Message) error {
		seq := binary.BigEndian.Uint32(msg.Data)
		ids := []uint32{seq}
		if seq >= single {
			first := single + 2*(seq-single)
			ids = []uint32{first, first + 1}
		}
		for _, id := range ids {
			p := make([]byte, size)
			binary.BigEndian.PutUint32(p, id)
			if err := c.SendBinary(p); err != nil {
				return err
			}
		}
		return nil
	}))
	conn, resp, err := smallBufferDialer.Dial(wsURL(srv), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = conn.Close() })
	for i := range uint32(single + double) {
		require.NoError(t, conn.WriteMessage(websocket.BinaryMessage, binary.BigEndian.AppendUint32(nil, i)))
	}
	for want := range uint32(replies) {
		typ, p, err := conn.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, websocket.BinaryMessage, typ)
		require.Len(t, p, size)
		require.Equal(t, want, binary.BigEndian.Uint32(p), "replies out of order")
	}
	require.Eventually(t, func() bool { return m.sent.Load() == replies }, 5*time.Second, time.Millisecond)
	require.Equal(t, int64(replies*(size+4)), m.bytes.Load(), "every byte counted once: 4-byte header, payload")
}

// A reply larger than the direct write's bound, and replies of compressed
// connections, go through the pump as before.
func TestDirectWriteLeavesLargeAndCompressedRepliesToThePump(t *testing.T) {
	h, srv := startHub(t,
		WithConfig(DefaultConfig().WithCompression(true)),
		WithMessageHandler(func(c *Client, msg *Message) error {
			return c.SendBinary(make([]byte, int(msg.Data[0])*directWriteSize))
		}))
	for _, compress := range []bool{false, true} {
		d := *websocket.DefaultDialer
		d.EnableCompression = compress
		conn, resp, err := d.Dial(wsURL(srv), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		for _, mult := range []byte{1, 2} {
			require.NoError(t, conn.WriteMessage(websocket.BinaryMessage, []byte{mult}))
			_, p, err := conn.ReadMessage()
			require.NoError(t, err)
			require.Len(t, p, int(mult)*directWriteSize)
		}
		require.NoError(t, conn.Close())
	}
	_ = h
}

// A write deadline that passed while the client was idle (a blocked write
// armed it long ago) does not fail the next write: the first, non-blocking
// try takes nothing and the write waits under a new deadline. Both the
// pump's writes and a handler's direct reply are checked.
func TestExpiredWriteDeadlineDoesNotFailTheNextWrite(t *testing.T) {
	h, srv := startHub(t, WithMessageHandler(func(c *Client, msg *Message) error {
		return c.SendBinary(msg.Data)
	}))
	conn, c := dialURLWait(t, h, wsURL(srv))
	expire := func() {
		c.waitWriter()
		past := time.Now().Add(-time.Second)
		require.NoError(t, c.conn.SetWriteDeadline(past))
		c.writeDeadline = past.UnixNano() // only the writer touches it, and none runs
	}
	expire()
	require.NoError(t, c.SendBinary([]byte("pump")))
	_, p := read(t, conn)
	require.Equal(t, "pump", p)

	expire()
	require.NoError(t, conn.WriteMessage(websocket.BinaryMessage, []byte("direct")))
	_, p = read(t, conn)
	require.Equal(t, "direct", p)
	require.Equal(t, 1, h.ClientCount())
}
