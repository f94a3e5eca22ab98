package core

import (
	"fmt"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that sends a burst of requests without reading, then reads,
// gets every reply in order: its read pump waits while its queue is full
// instead of dropping the replies its handler sends. Replies of 16 KiB
// make 16 MB, far more than socket buffers hold.
func TestBurstOfRequestsGetsEveryReply(t *testing.T) {
	const n = 1000
	reply := strings.Repeat("r", 16<<10)
	m := NewDebugMetrics()
	h, srv := startHub(t, WithMetrics(m), WithMessageHandler(func(c *Client, msg *Message) error {
		return c.SendText(string(msg.Data) + ":" + reply)
	}))
	conn, _ := dialWait(t, h, srv)
	for i := 0; i < n; i++ {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i))))
	}
	for i := 0; i < n; i++ {
		_, got := read(t, conn)
		require.Equal(t, strconv.Itoa(i)+":"+reply, got, "reply %d", i)
	}
	assert.Zero(t, m.Stats().TotalDropped)
}

// The same burst, with the client's socket taking nothing until the hub
// has all the replies it can hold queued: without flow control the read
// pump would go on reading and drop every reply past the queue's bound.
func TestBurstWhileTheClientReadsNothing(t *testing.T) {
	const n = 1000
	m := NewDebugMetrics()
	h, srv, gate := startGatedHub(t, WithMetrics(m), WithMessageHandler(func(c *Client, msg *Message) error {
		return c.Send(msg.Data)
	}))
	conn, c := dialWait(t, h, srv)
	gate.hold()
	for i := 0; i < n; i++ {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i))))
	}
	require.Eventually(t, func() bool { return c.QueuedMessages() == h.cfg.SendChannelSize }, 5*time.Second, time.Millisecond)
	gate.open()
	for i := 0; i < n; i++ {
		_, got := read(t, conn)
		require.Equal(t, strconv.Itoa(i), got)
	}
	assert.Zero(t, m.Stats().TotalDropped)
}

// gatedListener hands out connections whose writes can be held: while
// held, every write waits for release (ignoring deadlines), so a test
// decides when the hub's write pump makes progress.
type gatedListener struct {
	net.Listener
	mu      sync.Mutex
	held    bool
	release chan struct{}
}

func (l *gatedListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: nc, l: l}, nil
}

func (l *gatedListener) hold() {
	l.mu.Lock()
	l.held, l.release = true, make(chan struct{})
	l.mu.Unlock()
}

func (l *gatedListener) open() {
	l.mu.Lock()
	if l.held {
		l.held = false
		close(l.release)
	}
	l.mu.Unlock()
}

type gatedConn struct {
	net.Conn
	l *gatedListener
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	held, release := c.l.held, c.l.release
	c.l.mu.Unlock()
	if held {
		<-release
		// The deadline the write pump set before this write has passed
		// while the test held it; the hold is not the peer's fault.
		_ = c.SetWriteDeadline(time.Time{})
	}
	return c.Conn.Write(p)
}

// startGatedHub is startHub behind a gatedListener.
func startGatedHub(t *testing.T, opts ...Option) (*Hub, *httptest.Server, *gatedListener) {
	t.Helper()
	h := NewHub(opts...)
	go h.Run()
	require.NoError(t, h.WaitRunning(contextWithTimeout(t, 5*time.Second)))
	srv := httptest.NewUnstartedServer(h.HandleHTTP())
	gl := &gatedListener{Listener: srv.Listener}
	srv.Listener = gl
	srv.Start()
	t.Cleanup(func() {
		gl.open()
		_ = h.Shutdown(contextWithTimeout(t, 10*time.Second))
		srv.Close()
	})
	return h, srv, gl
}

// The read pump waits at most WriteWait for room in its client's queue;
// then the slow-client policy applies: DisconnectSlow closes the client
// with 1013 once the batch being written is out.
func TestFlowControlGivesUpAfterWriteWait(t *testing.T) {
	m := newCloseCodes()
	slow := make(chan struct{})
	cfg := DefaultConfig().WithSendChannelSize(4).WithTimeouts(300*time.Millisecond, time.Minute, 50*time.Second)
	h, srv, gate := startGatedHub(t, WithConfig(cfg), WithMetrics(m), WithDropPolicy(DisconnectSlow),
		WithHooks(Hooks{OnSlowClient: func(*Client) { close(slow) }}),
		WithMessageHandler(func(c *Client, msg *Message) error { return c.Send(msg.Data) }))
	conn, c := dialWait(t, h, srv)

	gate.hold() // the write pump blocks in its first write
	for i := 0; i < 10; i++ {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i))))
	}
	select {
	case <-slow:
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not closed as slow")
	}
	assert.True(t, c.IsClosed())
	assert.Equal(t, int64(1), m.errors("slow_client"))
	// The replies the pump had taken are written once the socket moves;
	// those still pending were dropped; the read pump never read request 4.
	gate.open()
	received := 0
	for {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, websocket.CloseTryAgainLater, ce.Code)
			assert.Equal(t, "slow client", ce.Text)
			break
		}
		assert.Equal(t, fmt.Sprint(received), string(data))
		received++
	}
	assert.Positive(t, received)
	assert.Equal(t, int64(4-received), m.Stats().TotalDropped)
	require.Eventually(t, func() bool { return m.count(websocket.CloseTryAgainLater) == 1 }, 5*time.Second, time.Millisecond)
}

// Under DropNewest the read pump goes on after WriteWait, and the replies
// that find the queue full are dropped: the client stays connected.
func TestFlowControlDropNewestGoesOn(t *testing.T) {
	m := NewDebugMetrics()
	cfg := DefaultConfig().WithSendChannelSize(4).WithTimeouts(200*time.Millisecond, time.Minute, 50*time.Second)
	handled := make(chan struct{}, 16)
	h, srv, gate := startGatedHub(t, WithConfig(cfg), WithMetrics(m),
		WithMessageHandler(func(c *Client, msg *Message) error {
			err := c.Send(msg.Data)
			handled <- struct{}{}
			return err
		}))
	conn, c := dialWait(t, h, srv)
	gate.hold()
	for i := 0; i < 6; i++ {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i))))
	}
	for i := 0; i < 6; i++ {
		select {
		case <-handled:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d requests handled", i)
		}
	}
	assert.Equal(t, int64(2), m.Stats().TotalDropped, "4 fit the queue, 2 were dropped after the waits")
	assert.False(t, c.IsClosed())
	gate.open()
	for i := 0; i < 4; i++ {
		_, got := read(t, conn)
		assert.Equal(t, fmt.Sprint(i), got)
	}
}
