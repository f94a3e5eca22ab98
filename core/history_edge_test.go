package core_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// gatedStore holds ReadHistory calls with After > 0 (recoveries) until
// released.
type gatedStore struct {
	*memory.Adapter
	gate    chan struct{}
	waiting atomic.Int32
}

func (g *gatedStore) ReadHistory(ctx context.Context, room string, o core.History, q core.HistoryQuery) (core.HistoryPage, error) {
	if q.After > 0 {
		g.waiting.Add(1)
		select {
		case <-g.gate:
		case <-ctx.Done():
			return core.HistoryPage{}, ctx.Err()
		}
	}
	return g.Adapter.ReadHistory(ctx, room, o, q)
}

// A client that leaves a room while its recovery waits for the store gets
// nothing of that recovery: no replay, no answer, no OnRecovery; a later
// recovery of the room works.
func TestLeaveCancelsRecovery(t *testing.T) {
	bus := memory.NewBus()
	var rec wshubtest.Recoveries
	store := &gatedStore{Adapter: bus.NewAdapter(), gate: make(chan struct{})}
	n := wshubtest.HistoryNode(t, "gated", store, &rec)
	room := "hist-leave"
	stay := n.DialRoom(t, room, "")
	for i := range 5 {
		require.NoError(t, n.Hub.BroadcastToRoom(room, []byte(strconv.Itoa(i))))
	}
	stay.AwaitCount(t, room, 5)
	_, last, _ := stay.Offsets(room)
	p := mustCursor(t, last)

	s := n.DialRoom(t, room, p.Epoch+":2")
	require.Eventually(t, func() bool { return store.waiting.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, n.Hub.LeaveRoom(s.Client, room))
	store.gate <- struct{}{} // the cancelled recovery's read returns
	// A marker through the client's own queue: whatever the cancelled
	// recovery could have sent would be before it.
	require.NoError(t, s.Client.Send([]byte("marker")))
	require.True(t, s.Await("marker", 5*time.Second))
	got, _, answers := s.Offsets(room)
	assert.Empty(t, got, "no replay after the leave")
	assert.Empty(t, answers, "no answer after the leave")

	close(store.gate)
	require.NoError(t, n.Hub.JoinRoomFrom(s.Client, room, core.Position{Epoch: p.Epoch, Offset: 3}))
	ans := s.AwaitAnswer(t, room)
	assert.True(t, ans.Recovery.Recovered)
	got, _, _ = s.Offsets(room)
	assert.Equal(t, []uint64{4, 5}, got)
	r := rec.Await(t, s.Client, room)
	assert.True(t, r.Recovered, "the hook heard only the second recovery")
	assert.Equal(t, 2, r.Replayed)
}

// A replay larger than the client's queue waits for room instead of
// dropping, and the answer after it is not what the queue drops.
func TestReplayLargerThanTheQueue(t *testing.T) {
	var rec wshubtest.Recoveries
	cfg := core.DefaultConfig()
	cfg.SendChannelSize = 2
	n := singleHistoryHub(t, &rec, core.WithConfig(cfg))
	room := "hist-queue"
	for i := range 40 {
		require.NoError(t, n.Hub.BroadcastToRoom(room, []byte(strconv.Itoa(i))))
	}
	page, err := n.Hub.History(contextFor(t), room, core.HistoryQuery{})
	require.NoError(t, err)
	s := n.DialRoom(t, room, page.Epoch+":1")
	ans := s.AwaitAnswer(t, room)
	assert.True(t, ans.Recovery.Recovered)
	got, _, _ := s.Offsets(room)
	assert.Len(t, got, 39)
}

// An OnSendDropped hook that calls back into the hub (here: makes the slow
// client leave the room) does not deadlock a history room's delivery.
func TestDropHookMayCallTheHub(t *testing.T) {
	cfg := core.DefaultConfig()
	cfg.SendChannelSize = 1
	var hub atomic.Pointer[core.Hub]
	var drops atomic.Int32
	hooks := core.WithHooks(core.Hooks{OnSendDropped: func(c *core.Client, _ []byte) {
		drops.Add(1)
		_ = hub.Load().LeaveRoom(c, "hist-drop")
	}})
	h := core.NewHub(core.WithRoomOptions(wshubtest.HistoryRooms), core.WithConfig(cfg), hooks)
	hub.Store(h)
	go h.Run()
	require.NoError(t, h.WaitRunning(contextFor(t)))
	srv := wshubtest.ServeHub(t, h)
	slow := srv.Dial(t)
	require.NoError(t, h.JoinRoom(slow.Client, "hist-drop"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			_ = h.BroadcastToRoom("hist-drop", []byte(strconv.Itoa(i)))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("history delivery deadlocked in a drop hook")
	}
	require.Positive(t, drops.Load(), "the queue of one must have dropped for this test to mean anything")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.Shutdown(ctx))
}

// scriptedBus is an adapter whose bus and store the test plays: Deliver
// hands the hub a message as if another node sent it, and each gap fill's
// read of the store waits for the page the test answers it with.
type scriptedBus struct {
	handler atomic.Pointer[func(core.AdapterMessage)]
	reads   chan core.HistoryQuery // a gap fill's read, waiting for its page
	pages   chan core.HistoryPage
}

func newScriptedBus() *scriptedBus {
	return &scriptedBus{reads: make(chan core.HistoryQuery), pages: make(chan core.HistoryPage)}
}

func (b *scriptedBus) Publish(context.Context, core.AdapterMessage) error { return nil }

func (b *scriptedBus) Subscribe(_ context.Context, handler func(core.AdapterMessage)) error {
	b.handler.Store(&handler)
	return nil
}

func (b *scriptedBus) Close() error { return nil }

func (b *scriptedBus) AppendHistory(_ context.Context, batch []core.HistoryAppend) {
	for i := range batch {
		batch[i].Err = errors.New("scripted: no appends")
	}
}

// ReadHistory answers the join's read of where the room starts at once
// (nothing stored) and hands every other read to the test.
func (b *scriptedBus) ReadHistory(ctx context.Context, _ string, _ core.History, q core.HistoryQuery) (core.HistoryPage, error) {
	if q.Reverse {
		return core.HistoryPage{}, nil
	}
	select {
	case b.reads <- q:
	case <-ctx.Done():
		return core.HistoryPage{}, ctx.Err()
	}
	select {
	case p := <-b.pages:
		return p, nil
	case <-ctx.Done():
		return core.HistoryPage{}, ctx.Err()
	}
}

// Deliver hands m to the hub as a message from node "other".
func (b *scriptedBus) Deliver(room string, p core.Position) {
	(*b.handler.Load())(scriptedMsg(room, p))
}

func scriptedMsg(room string, p core.Position) core.AdapterMessage {
	return core.AdapterMessage{NodeID: "other", Type: core.AdapterRoom, Room: room,
		MsgType: int(core.TextMessage), Data: []byte(p.Epoch + ":" + strconv.FormatUint(p.Offset, 10)), Pos: p}
}

// awaitRead waits for the next gap fill's read of the store.
func (b *scriptedBus) awaitRead(t *testing.T) core.HistoryQuery {
	t.Helper()
	select {
	case q := <-b.reads:
		return q
	case <-time.After(5 * time.Second):
		t.Fatal("no gap fill read the store")
		return core.HistoryQuery{}
	}
}

// A stream that starts anew while a gap fill of the old one reads the
// store gets a fill of its own gap: the message after that gap is not left
// waiting for a later message to show the gap again.
func TestNewEpochDuringGapFill(t *testing.T) {
	bus := newScriptedBus()
	n := wshubtest.HistoryNode(t, "scripted", bus, nil)
	require.Eventually(t, func() bool { return bus.handler.Load() != nil }, 5*time.Second, time.Millisecond)
	room := "hist-epochs"
	s := n.DialRoom(t, room, "")
	old, cur := core.Position{Epoch: "old"}, core.Position{Epoch: "new"}
	at := func(p core.Position, off uint64) core.Position { p.Offset = off; return p }

	bus.Deliver(room, at(old, 1))
	s.AwaitCount(t, room, 1)
	bus.Deliver(room, at(old, 3)) // 2 missing: a fill reads it
	q := bus.awaitRead(t)
	assert.Equal(t, uint64(1), q.After)
	bus.Deliver(room, at(cur, 2)) // a new stream, its 1 missing, while the fill reads
	bus.pages <- core.HistoryPage{Epoch: "old", First: 1, Top: 3, Messages: []core.AdapterMessage{scriptedMsg(room, at(old, 2))}}

	q = bus.awaitRead(t) // the new stream's gap
	assert.Equal(t, uint64(0), q.After)
	bus.pages <- core.HistoryPage{Epoch: "new", First: 1, Top: 2, Messages: []core.AdapterMessage{scriptedMsg(room, at(cur, 1))}}
	s.AwaitCount(t, room, 3)
	var got []string
	for _, m := range s.Messages() {
		if e, ok := wshubtest.ParseEnvelope(m); ok && e.Room == room {
			got = append(got, e.Cursor)
		}
	}
	assert.Equal(t, []string{"old:1", "new:1", "new:2"}, got)
}
