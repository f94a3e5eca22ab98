package wshubtest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// waitFor bounds what these tests wait for.
const waitFor = 10 * time.Second

// echo answers every message with "echo: " and the message.
func echo(c *core.Client, m *core.Message) error { return c.SendText("echo: " + string(m.Data)) }

func TestStartHub(t *testing.T) {
	var hub *core.Hub
	t.Run("running", func(t *testing.T) {
		n := wshubtest.StartHub(t, core.WithNodeID("solo"), core.WithMessageHandler(echo))
		hub = n.Hub
		assert.Equal(t, core.StateRunning, n.Hub.State())
		assert.Equal(t, "solo", n.Hub.NodeID(), "the options reach the hub")
		assert.Nil(t, n.Adapter)
		assert.True(t, strings.HasPrefix(n.URL("/x?y=1"), "ws://127.0.0.1:"), n.URL("/x?y=1"))
		assert.True(t, strings.HasSuffix(n.URL("/x?y=1"), "/x?y=1"), n.URL("/x?y=1"))

		s := n.Dial(t)
		require.NotNil(t, s.Client, "the hub's end of the connection")
		assert.Equal(t, 1, n.Hub.ClientCount())
		require.NoError(t, s.Conn.WriteMessage(websocket.TextMessage, []byte("hi")))
		assert.True(t, s.Await("echo: hi", waitFor), "got %q", s.Messages())
	})
	assert.Equal(t, core.StateStopped, hub.State(), "the test's cleanup shut the hub down")
	assert.Zero(t, hub.ClientCount())
}

func TestStartHubNode(t *testing.T) {
	bus := memory.NewBus()
	a := wshubtest.StartHubNode(t, "a", bus.NewAdapter())
	b := wshubtest.StartHubNode(t, "b", bus.NewAdapter())
	assert.Equal(t, "b", b.Hub.NodeID())
	require.NotNil(t, b.Adapter)
	assert.Same(t, b.Hub.Adapter(), b.Adapter)
	s := b.Dial(t)
	// The bus delivers asynchronously: broadcast until one arrives.
	require.Eventually(t, func() bool {
		a.Hub.Broadcast([]byte("across"))
		return s.Has("across")
	}, waitFor, 20*time.Millisecond)
}

func TestServeHubLeavesTheHubToItsOwner(t *testing.T) {
	hub := core.NewHub(core.WithMessageHandler(echo))
	go hub.Run()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, hub.WaitRunning(ctx))
	defer func() { require.NoError(t, hub.Shutdown(ctx)) }()

	t.Run("served", func(t *testing.T) {
		s := wshubtest.ServeHub(t, hub).Dial(t)
		require.NoError(t, s.Conn.WriteMessage(websocket.TextMessage, []byte("hi")))
		assert.True(t, s.Await("echo: hi", waitFor))
	})
	assert.Equal(t, core.StateRunning, hub.State(), "ServeHub's cleanup stopped the hub")
	require.Eventually(t, func() bool { return hub.ClientCount() == 0 }, waitFor, time.Millisecond,
		"the socket's cleanup did not close it")
}

// TestDialFindsItsOwnClient: clients that connect while Dial waits, by
// Dial or by hand, are not mistaken for Dial's.
func TestDialFindsItsOwnClient(t *testing.T) {
	n := wshubtest.StartHub(t)
	stop := make(chan struct{})
	others := make(chan []*websocket.Conn, 1) // the only send, when the loop stops
	go func() {
		var conns []*websocket.Conn
		defer func() { others <- conns }()
		for len(conns) < 1000 { // bounded: a slow Dial must not exhaust file descriptors
			select {
			case <-stop:
				return
			default:
			}
			c, resp, err := websocket.DefaultDialer.Dial(n.URL("/"), nil)
			if err != nil {
				return
			}
			_ = resp.Body.Close()
			conns = append(conns, c)
		}
	}()
	seen := map[*core.Client]bool{}
	for range 30 {
		s := n.Dial(t)
		require.False(t, seen[s.Client], "two sockets got the same client")
		seen[s.Client] = true
		require.NoError(t, s.Client.SendText("to "+s.Client.ID))
		assert.True(t, s.Await("to "+s.Client.ID, waitFor), "Socket.Client is another connection's client")
	}
	close(stop)
	conns := <-others
	for _, c := range conns {
		_ = c.Close()
	}
	assert.NotEmpty(t, conns, "no client connected meanwhile: the test proves nothing")
	t.Logf("%d other clients connected meanwhile", len(conns))
}

func TestDialUser(t *testing.T) {
	n := wshubtest.StartHub(t)
	for _, user := range []string{"ann", "b&b=1 é"} {
		s := n.DialUser(t, user)
		assert.Equal(t, user, s.Client.GetUserID())
	}
}

func TestReadUntilClose(t *testing.T) {
	tests := []struct {
		name       string
		close      func(n *wshubtest.HubNode, c *core.Client)
		wantCode   int
		wantReason string
	}{
		{
			name:     "CloseWithCode",
			close:    func(_ *wshubtest.HubNode, c *core.Client) { _ = c.CloseWithCode(4001, "logged out") },
			wantCode: 4001, wantReason: "logged out",
		},
		{
			name: "by Shutdown",
			close: func(n *wshubtest.HubNode, _ *core.Client) {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				_ = n.Hub.Shutdown(ctx)
			},
			wantCode: websocket.CloseGoingAway, wantReason: "server shutdown",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := wshubtest.StartHub(t)
			s := n.Dial(t)
			// Messages before the close frame are skipped, and recorded.
			require.NoError(t, s.Client.SendText("one"))
			require.NoError(t, s.Client.SendText("two"))
			tt.close(n, s.Client)
			code, reason := s.ReadUntilClose(t, waitFor)
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantReason, reason)
			assert.Equal(t, []string{"one", "two"}, s.Messages())
			var ce *websocket.CloseError
			require.ErrorAs(t, s.Ended(), &ce)
			assert.Equal(t, tt.wantCode, ce.Code)
		})
	}
}

// fatalTB records the first Fatalf and ends the goroutine that called it,
// as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// tryFatal runs fn on a fatalTB in a goroutine of its own, as t.Fatalf
// must end its goroutine, and returns the Fatalf message, "" when fn
// returned. fn has waitFor to end either way.
func tryFatal(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	fake := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(fake)
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("neither returned nor failed in time")
	}
	return fake.msg
}

func TestReadUntilCloseTimesOut(t *testing.T) {
	n := wshubtest.StartHub(t)
	s := n.Dial(t)
	msg := tryFatal(t, func(tb testing.TB) { s.ReadUntilClose(tb, 50*time.Millisecond) })
	assert.Contains(t, msg, "no close frame within 50ms")
	assert.NoError(t, s.Ended(), "the connection is still open")
}
