package core

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A panicking handler closes that one connection with 1011; the process
// and the other connections carry on.
func TestHandlerPanicClosesOneConnection(t *testing.T) {
	m := NewDebugMetrics()
	h, srv := startHub(t, WithMetrics(m), WithMessageHandler(func(c *Client, msg *Message) error {
		if msg.Text() == "boom" {
			panic("boom")
		}
		return c.Send(msg.Data)
	}))
	bad, _ := dialWait(t, h, srv)
	good, _ := dialWait(t, h, srv)
	require.NoError(t, bad.WriteMessage(websocket.TextMessage, []byte("boom")))
	assert.Equal(t, websocket.CloseInternalServerErr, readClose(t, bad).Code)
	require.NoError(t, good.WriteMessage(websocket.TextMessage, []byte("ok")))
	_, got := read(t, good)
	assert.Equal(t, "ok", got)
	assert.Equal(t, int64(1), m.Stats().Errors["panic"])
}

// With RecoveryMiddleware the panic becomes ErrInvalidMessage and the
// connection stays open.
func TestRecoveryMiddlewareKeepsConnection(t *testing.T) {
	errs := make(chan error, 1)
	chain := NewMiddlewareChain(func(c *Client, msg *Message) error {
		if msg.Text() == "boom" {
			panic("boom")
		}
		return c.Send(msg.Data)
	}).Use(RecoveryMiddleware(&NoOpLogger{})).Build()
	h, srv := startHub(t, WithMessageHandler(chain.Execute), WithHooks(Hooks{
		AfterMessage: func(_ *Client, _ *Message, err error) {
			if err != nil {
				errs <- err
			}
		},
	}))
	conn, _ := dialWait(t, h, srv)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("boom")))
	require.ErrorIs(t, <-errs, ErrInvalidMessage)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("ok")))
	_, got := read(t, conn)
	assert.Equal(t, "ok", got)
}

// Panicking hooks are recovered everywhere.
func TestHookPanicsAreRecovered(t *testing.T) {
	m := NewDebugMetrics()
	boom := func() { panic("hook") }
	h, srv := startHub(t, WithMetrics(m), WithHooks(Hooks{
		AfterConnect:     func(*Client) { boom() },
		BeforeDisconnect: func(*Client) { boom() },
		AfterDisconnect:  func(*Client) { boom() },
		BeforeMessage:    func(*Client, *Message) (*Message, error) { boom(); return nil, nil },
		AfterRoomJoin:    func(*Client, string) { boom() },
		BeforeConnect: func(r *http.Request) error {
			if r.URL.Query().Get("p") != "" {
				boom()
			}
			return nil
		},
	}))
	conn, c := dialWait(t, h, srv)
	require.NoError(t, h.JoinRoom(c, "r"))
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("x")))
	// BeforeMessage panicked: that connection is closed with 1011.
	assert.Equal(t, websocket.CloseInternalServerErr, readClose(t, conn).Code)
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv)+"?p=1", nil)
	require.Error(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Eventually(t, func() bool { return m.Stats().Errors["panic"] >= 5 }, 5*time.Second, time.Millisecond)
}

// A slow hook never stalls other clients' connects.
func TestSlowHooksDoNotStallConnects(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	h, srv := startHub(t, WithHookTimeout(10*time.Second), WithHooks(Hooks{
		AfterConnect: func(*Client) { started.Add(1); <-release },
	}))
	defer close(release)
	for i := 0; i < 5; i++ {
		dialWait(t, h, srv) // each returns while earlier hooks still block
	}
	require.Eventually(t, func() bool { return started.Load() == 5 }, 5*time.Second, time.Millisecond)
}

// BeforeDisconnect over the hook timeout does not block the disconnect.
func TestBeforeDisconnectTimeout(t *testing.T) {
	release := make(chan struct{})
	h, srv := startHub(t, WithHookTimeout(50*time.Millisecond), WithHooks(Hooks{
		BeforeDisconnect: func(*Client) { <-release },
	}))
	defer close(release)
	conn, _ := dialWait(t, h, srv)
	_ = conn.Close()
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, time.Millisecond)
}

// Messages queued before the hub closes a connection for a handler panic
// (1011) or an oversized message (1009) are written before the close frame,
// as with Close.
func TestQueuedRepliesWrittenBeforeErrorClose(t *testing.T) {
	const n = 200
	tests := []struct {
		name     string
		then     func(t *testing.T, conn *websocket.Conn)
		wantCode int
	}{
		{
			name:     "handler panic",
			then:     func(*testing.T, *websocket.Conn) {},
			wantCode: websocket.CloseInternalServerErr,
		},
		{
			name: "oversized message",
			then: func(t *testing.T, conn *websocket.Conn) {
				require.NoError(t, conn.WriteMessage(websocket.TextMessage, make([]byte, 2048)))
			},
			wantCode: websocket.CloseMessageTooBig,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, srv := startHub(t,
				WithConfig(DefaultConfig().WithMaxMessageSize(1024)),
				WithMessageHandler(func(c *Client, msg *Message) error {
					for i := 0; i < n; i++ {
						_ = c.SendText(fmt.Sprint(i))
					}
					if tt.wantCode == websocket.CloseInternalServerErr {
						panic("after queueing the replies")
					}
					return nil
				}))
			conn, _ := dialWait(t, h, srv)
			require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("go")))
			tt.then(t, conn)
			for i := 0; i < n; i++ {
				_, got := read(t, conn)
				require.Equal(t, fmt.Sprint(i), got)
			}
			assert.Equal(t, tt.wantCode, readClose(t, conn).Code)
		})
	}
}

// errorLog counts the Error lines a hub logs.
type errorLog struct {
	NoOpLogger
	mu   sync.Mutex
	args [][]any
}

func (l *errorLog) Error(_ string, args ...any) {
	l.mu.Lock()
	l.args = append(l.args, args)
	l.mu.Unlock()
}

func (l *errorLog) lines() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.args) }

// An OnSendDropped hook that panics on each of 1,000 drops is counted 1,000
// times but logs its stack once, not once per message.
func TestHookPanicsLogAtABoundedRate(t *testing.T) {
	log := &errorLog{}
	m := NewDebugMetrics()
	h := NewHub(WithLogger(log), WithMetrics(m), WithConfig(DefaultConfig().WithSendChannelSize(1)),
		WithHooks(Hooks{OnSendDropped: func(*Client, []byte) { panic("boom") }}))
	c := stalledClient(t, h)
	require.NoError(t, c.SendText("queued"))
	for i := 0; i < 1000; i++ {
		require.ErrorIs(t, c.SendText("dropped"), ErrSendBufferFull)
	}
	assert.Equal(t, int64(1000), m.Stats().Errors["panic"])
	assert.Equal(t, 1, log.lines())
	assert.False(t, c.IsClosed(), "a panic in OnSendDropped closes nothing")
}

func TestPanicLogWindows(t *testing.T) {
	var l panicLog
	t0 := time.Now()
	n, ok := l.allow("OnSendDropped", t0)
	assert.True(t, ok)
	assert.Zero(t, n)
	for i := 0; i < 3; i++ {
		_, ok = l.allow("OnSendDropped", t0.Add(time.Second))
		assert.False(t, ok)
	}
	_, ok = l.allow("message handler", t0.Add(time.Second))
	assert.True(t, ok, "each place has its own window")
	n, ok = l.allow("OnSendDropped", t0.Add(panicLogEvery+time.Second))
	assert.True(t, ok)
	assert.Equal(t, 3, n, "the next line says how many were not logged")
}
