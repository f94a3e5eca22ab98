package adaptertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// HubNode is one hub with its own adapter, served over HTTP.
type HubNode struct {
	Hub *core.Hub
	Srv *httptest.Server
	Ad  core.Adapter
}

// StartHubNode runs a hub on adapter ad behind an httptest server; the test's
// cleanup shuts it down.
func StartHubNode(t *testing.T, id string, ad core.Adapter, opts ...core.Option) *HubNode {
	t.Helper()
	h := core.NewHub(append([]core.Option{core.WithAdapter(ad), core.WithNodeID(id)}, opts...)...)
	go h.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.WaitRunning(ctx))
	srv := httptest.NewServer(h.HandleHTTP())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		srv.Close()
	})
	return &HubNode{Hub: h, Srv: srv, Ad: ad}
}

// Socket is a WebSocket client that records every text message it reads.
type Socket struct {
	Conn   *websocket.Conn
	Client *core.Client // the hub's side of the connection

	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

// Dial connects a client to n and starts recording what it receives.
func (n *HubNode) Dial(t *testing.T) *Socket {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range n.Hub.Clients() {
		seen[c.ID] = true
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.Srv.URL, "http"), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	s := &Socket{Conn: conn, done: make(chan struct{})}
	require.Eventually(t, func() bool {
		for _, c := range n.Hub.Clients() {
			if !seen[c.ID] {
				s.Client = c
				return true
			}
		}
		return false
	}, waitTimeout, time.Millisecond)
	go func() {
		defer close(s.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(data))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-s.done
	})
	return s
}

// Has reports whether the socket received msg.
func (s *Socket) Has(msg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

// Messages returns what the socket received so far, in order.
func (s *Socket) Messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// HasPrefix reports whether the socket received a message starting with p.
func (s *Socket) HasPrefix(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

// RunPresence checks WithPresence over a real bus: three nodes converge on
// the cluster's counts; a node whose adapter dies is evicted after about
// three intervals; a node that shuts down gracefully is removed at once.
// newAdapter returns a fresh, unsubscribed adapter on the bus under test,
// isolated from other tests.
func RunPresence(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	const every = 200 * time.Millisecond
	var nodes []*HubNode
	for i := 0; i < 3; i++ {
		n := StartHubNode(t, fmt.Sprintf("presence-%d", i), newAdapter(t), core.WithPresence(every))
		for j := 0; j <= i; j++ { // 1, 2, 3 clients
			s := n.Dial(t)
			require.NoError(t, n.Hub.JoinRoom(s.Client, "lobby"))
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		require.Eventually(t, func() bool {
			return n.Hub.GlobalClientCount() == 6 && n.Hub.GlobalRoomCount("lobby") == 6
		}, waitTimeout, 5*time.Millisecond, "node %s did not converge", n.Hub.NodeID())
	}

	// Node 2's bus link dies without a goodbye: evicted after three
	// intervals without a heartbeat, not before.
	require.NoError(t, nodes[2].Ad.Close())
	start := time.Now()
	require.Eventually(t, func() bool { return nodes[0].Hub.GlobalClientCount() == 3 }, waitTimeout, 5*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), 2*every, "evicted before three intervals")

	// Node 1 shuts down gracefully: its goodbye removes it well before an
	// eviction could.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, nodes[1].Hub.Shutdown(ctx))
	require.Eventually(t, func() bool {
		return nodes[0].Hub.GlobalClientCount() == 1 && nodes[0].Hub.GlobalRoomCount("lobby") == 1
	}, 2*every, time.Millisecond, "graceful shutdown was not seen at once")
}

// Broker is a broker process a fault test may kill and restart.
type Broker interface {
	Kill(t *testing.T)
	Start(t *testing.T)
}

// RunHubFault checks two hubs across a broker that dies and comes back:
// local delivery never stops while the broker is gone, nothing panics, and
// cross-node delivery resumes within 5 s of the broker's return.
// newAdapter must return adapters that reconnect by themselves (connections
// with unlimited reconnects).
func RunHubFault(t *testing.T, broker Broker, newAdapter func(t *testing.T) core.Adapter) {
	a := StartHubNode(t, "fault-a", newAdapter(t))
	b := StartHubNode(t, "fault-b", newAdapter(t))
	localA := a.Dial(t)
	remoteB := b.Dial(t)
	require.NoError(t, a.Hub.JoinRoom(localA.Client, "r"))
	require.NoError(t, b.Hub.JoinRoom(remoteB.Client, "r"))

	// Cross-node works before the fault.
	require.Eventually(t, func() bool {
		_ = a.Hub.BroadcastToRoom("r", []byte("before"))
		return remoteB.HasPrefix("before")
	}, waitTimeout, 50*time.Millisecond)

	broker.Kill(t)
	// Wait until both adapters know the link is down, so the outage is
	// real for the hubs, not just for the process table.
	for _, n := range []*HubNode{a, b} {
		if hc, ok := n.Ad.(core.HealthCheckAdapter); ok {
			require.Eventually(t, func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				return hc.CheckHealth(ctx) != nil
			}, waitTimeout, 20*time.Millisecond, "adapter did not notice the broker was gone")
		}
	}
	for i := 0; i < 50; i++ {
		msg := fmt.Sprintf("local-%d", i)
		require.NoError(t, a.Hub.BroadcastToRoom("r", []byte(msg)))
		require.Eventually(t, func() bool { return localA.Has(msg) }, waitTimeout, time.Millisecond,
			"local delivery stalled while the broker was down")
	}

	broker.Start(t)
	back := time.Now()
	// Messages sent before the link is back may be lost; keep sending
	// until one gets through.
	n := 0
	require.Eventually(t, func() bool {
		n++
		_ = a.Hub.BroadcastToRoom("r", []byte(fmt.Sprintf("after-%d", n)))
		return remoteB.HasPrefix("after-")
	}, 5*time.Second, 20*time.Millisecond, "cross-node delivery did not resume within 5s")
	t.Logf("cross-node delivery resumed %v after the broker returned", time.Since(back).Round(time.Millisecond))
}
