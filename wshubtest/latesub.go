package wshubtest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// LateInterest wraps an adapter whose room subscriptions take effect late,
// as the Redis adapter's do (its keeper goroutine subscribes in the
// background, seconds late on a busy machine): SetRoomInterest only records
// the change, which reaches the wrapped adapter just before the wrapper's
// next publish, history append or history read. That is as late as the
// contracts of core.RoomInterestAdapter and core.HistoryAdapter allow, so
// another node's messages published meanwhile never reach this node on the
// bus. It forwards the optional extensions the hub uses, as Lossy does,
// and hides any other.
type LateInterest struct {
	core.Adapter
	batch    core.BatchPublisher // nil: PublishBatch publishes one by one
	interest core.RoomInterestAdapter
	hist     core.HistoryAdapter
	health   core.HealthCheckAdapter // nil: CheckHealth returns nil
	mu       sync.Mutex
	queued   []roomInterest
}

type roomInterest struct {
	room       string
	interested bool
}

// NewLateInterest wraps ad, for a test of a node whose room
// subscriptions take effect late (as [RunLateSubscription] does). ad must
// implement core.RoomInterestAdapter and core.HistoryAdapter: t fails,
// and the test stops, when it does not. Closing the LateInterest closes
// ad.
func NewLateInterest(t testing.TB, ad core.Adapter) *LateInterest {
	t.Helper()
	l := &LateInterest{Adapter: ad}
	var ok1, ok2 bool
	l.interest, ok1 = ad.(core.RoomInterestAdapter)
	l.hist, ok2 = ad.(core.HistoryAdapter)
	if !ok1 || !ok2 {
		t.Fatalf("wshubtest: NewLateInterest needs an adapter with room interest and history "+
			"(core.RoomInterestAdapter and core.HistoryAdapter); a %T is not one", ad)
	}
	l.batch, _ = ad.(core.BatchPublisher)
	l.health, _ = ad.(core.HealthCheckAdapter)
	return l
}

// SetRoomInterest records the change for the wrapped adapter's next use.
func (l *LateInterest) SetRoomInterest(room string, interested bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queued = append(l.queued, roomInterest{room, interested})
}

// apply hands the recorded changes, in order, to the wrapped adapter.
func (l *LateInterest) apply() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ri := range l.queued {
		l.interest.SetRoomInterest(ri.room, ri.interested)
	}
	l.queued = nil
}

// Publish applies the recorded interest, then publishes.
func (l *LateInterest) Publish(ctx context.Context, msg core.AdapterMessage) error {
	l.apply()
	return l.Adapter.Publish(ctx, msg)
}

// PublishBatch applies the recorded interest, then publishes.
func (l *LateInterest) PublishBatch(ctx context.Context, msgs []core.AdapterMessage) error {
	l.apply()
	return publishBatch(ctx, l.Adapter, l.batch, msgs)
}

// AppendHistory applies the recorded interest, then appends.
func (l *LateInterest) AppendHistory(ctx context.Context, batch []core.HistoryAppend) {
	l.apply()
	l.hist.AppendHistory(ctx, batch)
}

// ReadHistory applies the recorded interest, then reads.
func (l *LateInterest) ReadHistory(ctx context.Context, room string, opts core.History, q core.HistoryQuery) (core.HistoryPage, error) {
	l.apply()
	return l.hist.ReadHistory(ctx, room, opts, q)
}

// CheckHealth forwards to the wrapped adapter.
func (l *LateInterest) CheckHealth(ctx context.Context) error {
	return checkHealth(ctx, l.health)
}

// RunLateSubscription checks where a history room starts on a node whose
// subscription takes effect late (LateInterest): a client joins a "small-"
// room (HistoryRooms: 10 kept) on node B; once its join returned, node A
// publishes 25 messages, which the store has trimmed to the last 10 before
// B publishes 5 more. The member must receive all 30, once and in order,
// and B count nothing lost: a join that starts a history room on a node
// returns only once the node receives the room's messages, so none
// published after it is owed to the store alone. newAdapter returns a
// fresh, unsubscribed adapter with history and room interest
// (core.HistoryAdapter, core.RoomInterestAdapter) on the bus under test.
func RunLateSubscription(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	a := HistoryNode(t, "late-a", newAdapter(t), nil)
	counters := NewCounters()
	b := HistoryNode(t, "late-b", NewLateInterest(t, newAdapter(t)), nil, core.WithMetrics(counters))
	WaitHealthy(t, a.Adapter)
	WaitHealthy(t, b.Adapter)
	room := "small-" + core.NewEpoch()
	member := b.DialRoom(t, room, "")

	const early, after = 25, 5
	for i := range early {
		require.NoError(t, a.Hub.BroadcastToRoom(room, []byte("a"+strconv.Itoa(i))))
	}
	require.Eventually(t, func() bool {
		page, err := a.Hub.History(context.Background(), room, core.HistoryQuery{Limit: 1, Reverse: true})
		return err == nil && page.Top == early && page.First > 1
	}, waitTimeout, time.Millisecond, "A's messages stored, the first ones trimmed")
	for i := range after {
		require.NoError(t, b.Hub.BroadcastToRoom(room, []byte("b"+strconv.Itoa(i))))
	}
	// The last offset arrives last either way: on the bus, or after a gap
	// fill that finds the first ones trimmed.
	require.Eventually(t, func() bool {
		got, _, _ := member.Offsets(room)
		return len(got) > 0 && got[len(got)-1] == early+after
	}, waitTimeout, time.Millisecond, "no offset %d", early+after)
	got, _, _ := member.Offsets(room)
	assert.Equal(t, contiguous(1, early+after), got, "every message published after the join, once, in order")
	assert.Zero(t, counters.Traffic().Lost, "nothing lost")
}
