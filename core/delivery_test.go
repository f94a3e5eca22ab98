package core_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// Messages a receiving node's adapter drops (here: a full in-memory inbox)
// show up in its lost counter, exactly: the sender's published count is
// what arrived plus what was counted lost, and every socket of the receiver
// got every message that arrived.
func TestLossBetweenNodesIsCounted(t *testing.T) {
	bus := memory.NewBus()
	ca, cb := wshubtest.NewCounters(), wshubtest.NewCounters()
	a := wshubtest.StartHubNode(t, "loss-a", bus.NewAdapter(), core.WithMetrics(ca))
	adB := bus.NewAdapter(memory.WithInboxSize(4))
	b := wshubtest.StartHubNode(t, "loss-b", adB, core.WithMetrics(cb))
	sock := b.Dial(t)

	const n = 3000
	for i := range n {
		a.Hub.BroadcastText(fmt.Sprint("m", i))
	}
	// A closing message, repeated until one arrives: after it, every
	// earlier message either arrived or left a gap.
	require.Eventually(t, func() bool {
		a.Hub.BroadcastText("end")
		return sock.Has("end")
	}, 5*time.Second, 5*time.Millisecond)

	// The last closing messages may still be on their way.
	var ta, tb wshubtest.Traffic
	assert.Eventually(t, func() bool {
		ta, tb = ca.Traffic(), cb.Traffic()
		return ta.Published == tb.Received+tb.Lost
	}, 5*time.Second, time.Millisecond, "published by A = received by B + lost")
	require.Positive(t, adB.Dropped(), "the small inbox must have dropped some for this test to mean anything")
	assert.Equal(t, int64(adB.Dropped()), tb.Lost, "every drop at B's adapter is counted lost")
	assert.Zero(t, tb.Reordered)
	assert.Zero(t, tb.Duplicates)
	assert.Zero(t, ta.DroppedTotal())
	require.Eventually(t, func() bool { return int64(len(sock.Messages())) == tb.Received }, 5*time.Second, time.Millisecond)
}

// A room's stream is followed only while the room exists on the receiving
// node: what the sender published to it while the node had no member is
// not counted lost when a member joins again.
func TestRoomStreamFollowedWhileMembersAreHere(t *testing.T) {
	bus := memory.NewBus()
	cb := wshubtest.NewCounters()
	a := wshubtest.StartHubNode(t, "room-a", bus.NewAdapter())
	b := wshubtest.StartHubNode(t, "room-b", bus.NewAdapter(), core.WithMetrics(cb))
	sock := b.Dial(t)
	send := func(msg string) { require.NoError(t, a.Hub.BroadcastToRoom("r", []byte(msg))) }

	require.NoError(t, b.Hub.JoinRoom(sock.Client, "r"))
	send("one")
	require.True(t, sock.Await("one", 5*time.Second))
	require.NoError(t, b.Hub.LeaveRoom(sock.Client, "r"))
	for range 10 {
		send("while away") // numbered 2-11 on A's stream of the room
	}
	// The bus routes by interest when A publishes, in order: once a later
	// broadcast is at B, B (without interest) is past them.
	a.Hub.BroadcastText("sync")
	require.True(t, sock.Await("sync", 5*time.Second))
	require.NoError(t, b.Hub.JoinRoom(sock.Client, "r"))
	send("two") // 12
	require.True(t, sock.Await("two", 5*time.Second))
	assert.Zero(t, cb.Traffic().Lost)
	assert.False(t, sock.Has("while away"))
}

// Messages without a sequence number (from a publisher that is not a hub
// of this version) are delivered and not followed.
func TestUnnumberedMessagesDelivered(t *testing.T) {
	bus := memory.NewBus()
	cb := wshubtest.NewCounters()
	b := wshubtest.StartHubNode(t, "plain-b", bus.NewAdapter(), core.WithMetrics(cb))
	sock := b.Dial(t)
	raw := bus.NewAdapter()
	t.Cleanup(func() { _ = raw.Close() })
	for _, data := range []string{"x", "y", "z"} {
		require.NoError(t, raw.Publish(context.Background(),
			core.AdapterMessage{NodeID: "old-node", Type: core.AdapterBroadcast, MsgType: int(core.TextMessage), Data: []byte(data)}))
	}
	require.True(t, sock.Await("z", 5*time.Second))
	assert.Equal(t, []string{"x", "y", "z"}, sock.Messages())
	tb := cb.Traffic()
	assert.Equal(t, int64(3), tb.Received)
	assert.Zero(t, tb.Lost)
}

// switchAdapter is an adapter whose link state the test sets, and whose
// publish calls block until their context ends while stall is set, like a
// broker that accepts a connection and answers nothing.
type switchAdapter struct {
	connected atomic.Bool
	stall     atomic.Bool
	mu        sync.Mutex
	got       []core.AdapterMessage
	deadlines []time.Duration // how long each call's ctx gave it
	calls     chan struct{}   // one value per call, sent once the call recorded its messages (or stalls)
}

func newSwitchAdapter() *switchAdapter {
	s := &switchAdapter{calls: make(chan struct{}, 1024)}
	s.connected.Store(true)
	return s
}

func (s *switchAdapter) Connected() bool { return s.connected.Load() }

func (s *switchAdapter) Publish(ctx context.Context, m core.AdapterMessage) error {
	return s.PublishBatch(ctx, []core.AdapterMessage{m})
}

func (s *switchAdapter) PublishBatch(ctx context.Context, ms []core.AdapterMessage) error {
	dl, _ := ctx.Deadline()
	s.mu.Lock()
	s.deadlines = append(s.deadlines, time.Until(dl))
	s.mu.Unlock()
	if s.stall.Load() {
		s.calls <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	s.got = append(s.got, ms...)
	s.mu.Unlock()
	s.calls <- struct{}{} // after the record: a test that waits for the call reads it
	return nil
}

func (s *switchAdapter) Subscribe(context.Context, func(core.AdapterMessage)) error { return nil }
func (s *switchAdapter) Close() error                                               { return nil }

func (s *switchAdapter) published() []core.AdapterMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]core.AdapterMessage(nil), s.got...)
}

// While the adapter reports its link down, messages are dropped at once
// and take no number; after it comes back, numbering goes on without a
// gap, so receivers count nothing lost for the outage (the drops are the
// sender's count).
func TestLinkDownDropsUnnumbered(t *testing.T) {
	ad := newSwitchAdapter()
	c := wshubtest.NewCounters()
	n := wshubtest.StartHubNode(t, "link", ad, core.WithMetrics(c))

	n.Hub.BroadcastText("before")
	<-ad.calls
	ad.connected.Store(false)
	for range 5 {
		n.Hub.BroadcastText("during")
	}
	require.Eventually(t, func() bool { return c.Traffic().Dropped[core.DropLinkDown] == 5 }, 5*time.Second, time.Millisecond)
	ad.connected.Store(true)
	n.Hub.BroadcastText("after")
	<-ad.calls

	got := ad.published()
	require.Len(t, got, 2)
	assert.Equal(t, "before", string(got[0].Data))
	assert.Equal(t, "after", string(got[1].Data))
	assert.Equal(t, uint64(1), got[0].Seq.Number)
	assert.Equal(t, uint64(2), got[1].Seq.Number, "no number was spent on the dropped messages")
	assert.Equal(t, got[0].Seq.Instance, got[1].Seq.Instance)
	assert.NotZero(t, got[0].Seq.Instance)
	assert.Equal(t, int64(2), c.Traffic().Published)
}

// A broker that stalls holds one publish call for at most the publish delay
// bound, and what queued meanwhile is dropped as stale instead of being
// sent late when the broker answers again.
func TestStalledBrokerDropsStaleMessages(t *testing.T) {
	const bound = 300 * time.Millisecond
	ad := newSwitchAdapter()
	c := wshubtest.NewCounters()
	n := wshubtest.StartHubNode(t, "stall", ad, core.WithMetrics(c), core.WithMaxPublishDelay(bound))

	ad.stall.Store(true)
	n.Hub.BroadcastText("stuck")
	<-ad.calls // the call that stalls
	for range 20 {
		n.Hub.BroadcastText("queued behind it")
	}
	// The stalled call ends at the bound; by then the queued messages are
	// as old, or nearly: those past the bound are dropped, the others go
	// out in the next call, which must not stall.
	ad.stall.Store(false)
	require.Eventually(t, func() bool {
		tr := c.Traffic()
		return tr.Dropped[core.DropStale]+int64(len(ad.published())) == 20
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, int64(1), c.Traffic().AdapterErrors["publish"], "the stalled call failed")

	ad.mu.Lock()
	defer ad.mu.Unlock()
	for i, d := range ad.deadlines {
		assert.LessOrEqual(t, d, bound, "call %d: a publish call never gets more than the bound", i)
	}
	for _, m := range ad.got {
		assert.NotEqual(t, "stuck", string(m.Data))
	}
}
