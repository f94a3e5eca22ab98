package core

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stalledClient returns a registered client whose write pump cannot run:
// the test holds the client's lock-free "writing" flag so nothing drains the
// queue, which makes backpressure deterministic.
func stalledClient(t *testing.T, h *Hub) *Client {
	t.Helper()
	c := &Client{ID: newClientID(), hub: h}
	c.sq.writing = true // pretend a pump is busy: enqueue never starts one
	return c
}

func TestDropNewest(t *testing.T) {
	var dropped [][]byte
	h := NewHub(WithConfig(DefaultConfig().WithSendChannelSize(2)), WithHooks(Hooks{
		OnSendDropped: func(_ *Client, d []byte) { dropped = append(dropped, d) },
	}))
	c := stalledClient(t, h)
	require.NoError(t, c.Send([]byte("1")))
	require.NoError(t, c.Send([]byte("2")))
	require.ErrorIs(t, c.Send([]byte("3")), ErrSendBufferFull)
	assert.Equal(t, [][]byte{[]byte("3")}, dropped)
	assert.Equal(t, "1", string(c.sq.q.s[c.sq.head].data))
}

func TestDropOldest(t *testing.T) {
	var dropped []string
	h := NewHub(WithDropPolicy(DropOldest), WithConfig(DefaultConfig().WithSendChannelSize(2)), WithHooks(Hooks{
		OnSendDropped: func(_ *Client, d []byte) { dropped = append(dropped, string(d)) },
	}))
	c := stalledClient(t, h)
	for _, s := range []string{"1", "2", "3", "4"} {
		require.NoError(t, c.Send([]byte(s)))
	}
	assert.Equal(t, []string{"1", "2"}, dropped)
	var queued []string
	for _, f := range c.sq.q.s[c.sq.head:] {
		queued = append(queued, string(f.data))
	}
	assert.Equal(t, []string{"3", "4"}, queued)
}

func TestContextSendWaitsInsteadOfDropping(t *testing.T) {
	h := NewHub(WithConfig(DefaultConfig().WithSendChannelSize(1)))
	c := stalledClient(t, h)
	require.NoError(t, c.Send([]byte("1")))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.SendWithContext(ctx, []byte("2")), context.DeadlineExceeded)

	// Once the queue drains, a waiting context send goes through.
	errc := make(chan error, 1)
	go func() { errc <- c.SendWithContext(context.Background(), []byte("3")) }()
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sq.spaceCh != nil
	}, 5*time.Second, time.Millisecond)
	c.mu.Lock()
	c.sq.drop() // as if the pump had written it: wakes the waiting send
	c.mu.Unlock()
	require.NoError(t, <-errc)
}

func TestOnCloseAfterCloseRunsAtOnce(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	require.NoError(t, c.Close())
	// The peer answers, so the teardown need not wait for the grace timeout.
	assert.Equal(t, websocket.CloseNormalClosure, readClose(t, conn).Code)
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, time.Millisecond)
	ran := false
	c.OnClose(func(*Client) { ran = true })
	assert.True(t, ran)
}

func TestSendAfterCloseFails(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	require.NoError(t, c.Send([]byte("before")))
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Send([]byte("after")), ErrConnectionClosed)
	_, got := read(t, conn)
	assert.Equal(t, "before", got)
	assert.Equal(t, websocket.CloseNormalClosure, readClose(t, conn).Code)
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, time.Millisecond)
	assert.True(t, c.IsClosed())
	assert.False(t, c.ClosedAt().IsZero())
}

func TestSendToUser(t *testing.T) {
	h, _ := startHub(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = h.UpgradeConnection(w, r, WithUserID(r.URL.Query().Get("u")))
	}))
	t.Cleanup(srv.Close)
	dialUser := func(u string) *websocket.Conn {
		conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv)+"/?u="+u, nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	a1, a2, b := dialUser("ann"), dialUser("ann"), dialUser("bob")
	require.Eventually(t, func() bool {
		return len(h.GetClientsByUserID("ann")) == 2 && len(h.GetClientsByUserID("bob")) == 1
	}, 5*time.Second, time.Millisecond)
	h.SendToUser("ann", []byte("hi ann"))
	h.SendToUser("bob", []byte("hi bob"))
	for _, conn := range []*websocket.Conn{a1, a2} {
		_, got := read(t, conn)
		assert.Equal(t, "hi ann", got)
	}
	_, got := read(t, b)
	assert.Equal(t, "hi bob", got)
	c, ok := h.GetClientByUserID("bob")
	require.True(t, ok)
	assert.Equal(t, "bob", c.GetUserID())
}

func TestBroadcastExcept(t *testing.T) {
	h, srv := startHub(t)
	ca, a := dialWait(t, h, srv)
	cb, _ := dialWait(t, h, srv)
	h.BroadcastExcept([]byte("not-a"), a)
	h.BroadcastText("all")
	_, got := read(t, cb)
	assert.Equal(t, "not-a", got)
	_, got = read(t, ca)
	assert.Equal(t, "all", got)
}

func TestMetadataAndCallbacks(t *testing.T) {
	var msgs atomic.Int32
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	c.SetMetadata("k", 1)
	v, ok := c.GetMetadata("k")
	assert.True(t, ok)
	assert.Equal(t, 1, v)
	c.DeleteMetadata("k")
	_, ok = c.GetMetadata("k")
	assert.False(t, ok)
	got := make(chan string, 1)
	c.OnMessage(func(_ *Client, m *Message) { msgs.Add(1); got <- m.Text() })
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("hello")))
	assert.Equal(t, "hello", <-got)
	assert.NotNil(t, c.Request())
	assert.False(t, c.ConnectedAt().IsZero())
}

// countConn counts Write calls and keeps what was written.
type countConn struct {
	discardConn
	writes int
	data   []byte
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes++
	c.data = append(c.data, p...)
	return len(p), nil
}

// The write pump sends everything queued as separate frames in one write.
func TestWritePumpOneWritePerBatch(t *testing.T) {
	h := NewHub()
	conn := &countConn{}
	c := &Client{ID: "c", hub: h, conn: conn}
	c.sq.writing = true // hold the pump while we queue
	for i := 0; i < 100; i++ {
		require.NoError(t, c.Send([]byte{byte(i)}))
	}
	c.writePump() // run the pump the first Send would have started
	assert.Equal(t, 1, conn.writes)
	// 100 frames of 3 bytes: FIN|text, length 1, payload.
	require.Len(t, conn.data, 300)
	for i := 0; i < 100; i++ {
		assert.Equal(t, []byte{0x81, 1, byte(i)}, conn.data[3*i:3*i+3])
	}
}

func TestCompressedBatchRoundTrip(t *testing.T) {
	h, srv := startHub(t, WithConfig(DefaultConfig().WithCompression(true)))
	d := websocket.Dialer{EnableCompression: true}
	conn, resp, err := d.Dial(wsURL(srv), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer func() { _ = conn.Close() }()
	require.Eventually(t, func() bool { return len(h.Clients()) == 1 }, 5*time.Second, time.Millisecond)
	c := h.Clients()[0]
	for i := 0; i < 100; i++ {
		require.NoError(t, c.Send([]byte(strings.Repeat(string(rune('a'+i%26)), 100))))
	}
	h.Broadcast([]byte("last"))
	for i := 0; i < 100; i++ {
		_, got := read(t, conn)
		require.Equal(t, strings.Repeat(string(rune('a'+i%26)), 100), got)
	}
	_, got := read(t, conn)
	assert.Equal(t, "last", got)
}

func TestCloseWithUnsendableCodeSendsNoStatus(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	require.NoError(t, c.CloseWithCode(1006, "abnormal is not for the wire"))
	assert.Equal(t, websocket.CloseNoStatusReceived, readClose(t, conn).Code)

	conn2, c2 := dialWait(t, h, srv)
	require.NoError(t, c2.CloseWithCode(4000, strings.Repeat("é", 100)))
	ce := readClose(t, conn2)
	assert.Equal(t, 4000, ce.Code)
	assert.LessOrEqual(t, len(ce.Text), 123)
}
