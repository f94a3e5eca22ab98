package core_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

type node struct {
	*wshubtest.HubNode
	hub *core.Hub
	ad  *memory.Adapter
}

func startNode(t *testing.T, bus *memory.Bus, id string, opts ...core.Option) *node {
	t.Helper()
	ad := bus.NewAdapter()
	n := wshubtest.StartHubNode(t, id, ad, opts...)
	return &node{HubNode: n, hub: n.Hub, ad: ad}
}

// dial connects a client that the test reads itself.
func (n *node) dial(t *testing.T) (*websocket.Conn, *core.Client) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range n.hub.Clients() {
		seen[c.ID] = true
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.Server.URL, "http"), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = conn.Close() })
	var c *core.Client
	require.Eventually(t, func() bool {
		for _, x := range n.hub.Clients() {
			if !seen[x.ID] {
				c = x
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond)
	return conn, c
}

func readText(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, data, err := conn.ReadMessage()
	require.NoError(t, err)
	return string(data)
}

func TestCrossNodeDelivery(t *testing.T) {
	bus := memory.NewBus()
	a, b := startNode(t, bus, "a"), startNode(t, bus, "b")
	ca, clientA := a.dial(t)
	cb, clientB := b.dial(t)
	require.NoError(t, a.hub.JoinRoom(clientA, "r"))
	require.NoError(t, b.hub.JoinRoom(clientB, "r"))

	a.hub.Broadcast([]byte("one"))
	assert.Equal(t, "one", readText(t, ca))
	assert.Equal(t, "one", readText(t, cb))

	require.NoError(t, a.hub.BroadcastToRoomExcept("r", []byte("two"), clientA))
	assert.Equal(t, "two", readText(t, cb))

	require.NoError(t, a.hub.SendToClient(clientB.ID, []byte("three")))
	assert.Equal(t, "three", readText(t, cb))

	// Without local members, a room broadcast is still published.
	require.NoError(t, a.hub.LeaveRoom(clientA, "r"))
	require.NoError(t, a.hub.BroadcastToRoom("r", []byte("four")))
	assert.Equal(t, "four", readText(t, cb))
	// a saw only its own first broadcast.
	a.hub.BroadcastExcept([]byte("five"), clientA)
	assert.Equal(t, "five", readText(t, cb))
}

func TestPresenceOverMemoryBus(t *testing.T) {
	bus := memory.NewBus()
	wshubtest.RunPresence(t, func(*testing.T) core.Adapter { return bus.NewAdapter() })
}

func TestDuplicateNodeIDDetected(t *testing.T) {
	bus := memory.NewBus()
	log := &wshubtest.LogRecorder{}
	m := core.NewDebugMetrics()
	startNode(t, bus, "same", core.WithPresence(20*time.Millisecond), core.WithLogger(log), core.WithMetrics(m))
	startNode(t, bus, "same", core.WithPresence(20*time.Millisecond))
	require.Eventually(t, func() bool { return log.Has("another node uses this node's ID") }, 5*time.Second, time.Millisecond)
	assert.Positive(t, m.Stats().Errors["duplicate_node_id"])
}

// A malformed message on the bus is counted and dropped; delivery goes on.
func TestMalformedBusMessageCounted(t *testing.T) {
	bus := memory.NewBus()
	m := core.NewDebugMetrics()
	a := startNode(t, bus, "a", core.WithMetrics(m), core.WithPresence(time.Hour))
	conn, _ := a.dial(t)
	raw := bus.NewAdapter()
	require.NoError(t, raw.Subscribe(context.Background(), func(core.AdapterMessage) {}))
	t.Cleanup(func() { _ = raw.Close() })
	ctx := context.Background()
	require.NoError(t, raw.Publish(ctx, core.AdapterMessage{NodeID: "x", Type: core.AdapterPresence, Data: []byte{9, 9}}))
	require.NoError(t, raw.Publish(ctx, core.AdapterMessage{NodeID: "x", Type: core.AdapterBroadcast, MsgType: 99, Data: []byte("bad")}))
	require.NoError(t, raw.Publish(ctx, core.AdapterMessage{NodeID: "x", Type: "bogus", MsgType: 1, Data: []byte("bad")}))
	// Text that is not UTF-8 (from a node that does not check it) would
	// make every browser that receives it fail its connection.
	require.NoError(t, raw.Publish(ctx, core.AdapterMessage{NodeID: "x", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("\xff")}))
	require.NoError(t, raw.Publish(ctx, core.AdapterMessage{NodeID: "x", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("good")}))
	assert.Equal(t, "good", readText(t, conn))
	require.Eventually(t, func() bool {
		s := m.Stats()
		return s.Errors["adapter_version"] == 1 && s.Errors["adapter_decode"] == 3
	}, 5*time.Second, time.Millisecond)
}

// blockingAdapter's Publish blocks until release is closed, like a broker
// that stopped reading.
type blockingAdapter struct {
	release chan struct{}
}

func (b *blockingAdapter) Publish(ctx context.Context, _ core.AdapterMessage) error {
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (b *blockingAdapter) Subscribe(context.Context, func(core.AdapterMessage)) error { return nil }
func (b *blockingAdapter) Close() error                                               { return nil }

// A broker that does not take messages never blocks a sender: the publish
// queue fills, the overflow is counted as dropped, local delivery goes on.
func TestSlowBrokerNeverBlocksSenders(t *testing.T) {
	m := core.NewDebugMetrics()
	ad := &blockingAdapter{release: make(chan struct{})}
	n := wshubtest.StartHubNode(t, "slow", ad, core.WithMetrics(m))
	s := n.Dial(t)
	// The flood goes to a room with no local member: it fills the publish
	// queue only, not s's own send buffer, so what follows tests the relay
	// and not the local backpressure policy.
	for i := 0; i < 20_000; i++ {
		require.NoError(t, n.Hub.BroadcastToRoom("elsewhere", []byte("x")))
	}
	require.Eventually(t, func() bool { return m.Stats().Errors["adapter_dropped"] > 0 }, 5*time.Second, time.Millisecond)
	require.NoError(t, n.Hub.SendToClient(s.Client.ID, []byte("local still works")))
	n.Hub.BroadcastText("broadcast still works")
	require.Eventually(t, func() bool { return s.Has("local still works") && s.Has("broadcast still works") }, 5*time.Second, time.Millisecond)
	close(ad.release)
}

// spyAdapter records which operations reach its hub from the bus.
type spyAdapter struct {
	*memory.Adapter
	mu    sync.Mutex
	rooms map[string]int
}

func (s *spyAdapter) Subscribe(ctx context.Context, handler func(core.AdapterMessage)) error {
	return s.Adapter.Subscribe(ctx, func(m core.AdapterMessage) {
		if m.Room != "" {
			s.mu.Lock()
			s.rooms[m.Room]++
			s.mu.Unlock()
		}
		handler(m)
	})
}

func (s *spyAdapter) roomMessages(room string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[room]
}

// A node without members in a room receives none of that room's bus
// traffic; one with members receives it, in order.
func TestRoomTrafficOnlyWhereMembersAre(t *testing.T) {
	bus := memory.NewBus()
	spyB := &spyAdapter{Adapter: bus.NewAdapter(), rooms: map[string]int{}}
	spyC := &spyAdapter{Adapter: bus.NewAdapter(), rooms: map[string]int{}}
	a := wshubtest.StartHubNode(t, "a", bus.NewAdapter())
	b := wshubtest.StartHubNode(t, "b", spyB)
	wshubtest.StartHubNode(t, "c", spyC)
	member := b.Dial(t)
	require.NoError(t, b.Hub.JoinRoom(member.Client, "r"))

	const count = 200
	for i := 0; i < count; i++ {
		require.NoError(t, a.Hub.BroadcastToRoom("r", []byte(fmt.Sprintf("m%03d", i))))
	}
	require.Eventually(t, func() bool { return member.Has(fmt.Sprintf("m%03d", count-1)) }, 5*time.Second, time.Millisecond)
	got := member.Messages()
	require.Len(t, got, count)
	for i, msg := range got {
		require.Equal(t, fmt.Sprintf("m%03d", i), msg, "order")
	}
	assert.Equal(t, count, spyB.roomMessages("r"))
	assert.Zero(t, spyC.roomMessages("r"), "node c has no member of r")
}

// wrappedAdapter is the decorator an application may put around its
// adapter (logging, tracing, through fx.Decorate): embedding core.Adapter
// hides the optional extensions, SetRoomInterest included.
type wrappedAdapter struct{ core.Adapter }

// A node whose adapter hides SetRoomInterest still receives the other
// nodes' room messages: without the hub's declaration the adapter takes
// every room.
func TestWrappedAdapterStillReceivesRooms(t *testing.T) {
	bus := memory.NewBus()
	a := startNode(t, bus, "a")
	b := wshubtest.StartHubNode(t, "b", wrappedAdapter{bus.NewAdapter()})
	s := b.Dial(t)
	require.NoError(t, b.Hub.JoinRoom(s.Client, "r"))
	require.NoError(t, a.hub.BroadcastToRoom("r", []byte("to room r")))
	require.Eventually(t, func() bool { return s.Has("to room r") }, 5*time.Second, time.Millisecond)
}
