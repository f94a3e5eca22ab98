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

// Lossy wraps an adapter with history and drops, on the receiving side,
// the history messages whose offsets it was given (each once), as a
// failing link would. It forwards the optional extensions the hub uses:
// core.BatchPublisher (publishing one message at a time when the wrapped
// adapter has no batches), core.RoomInterestAdapter (doing nothing when
// it routes no rooms), core.HistoryAdapter and core.HealthCheckAdapter
// (healthy when it reports nothing). It hides any other extension.
type Lossy struct {
	core.Adapter
	batch    core.BatchPublisher      // nil: PublishBatch publishes one by one
	interest core.RoomInterestAdapter // nil: SetRoomInterest does nothing
	hist     core.HistoryAdapter
	health   core.HealthCheckAdapter // nil: CheckHealth returns nil
	mu       sync.Mutex
	drop     map[uint64]bool
}

// NewLossy wraps ad, dropping the received history messages at offsets,
// for a test of how a hub fills gaps from the store (as [RunGapFill]
// does). ad must implement core.HistoryAdapter: t fails, and the test
// stops, when it does not. Closing the Lossy closes ad.
func NewLossy(t testing.TB, ad core.Adapter, offsets ...uint64) *Lossy {
	t.Helper()
	l := &Lossy{Adapter: ad, drop: make(map[uint64]bool)}
	var ok bool
	if l.hist, ok = ad.(core.HistoryAdapter); !ok {
		t.Fatalf("wshubtest: NewLossy needs an adapter with history (core.HistoryAdapter); a %T is not one", ad)
	}
	l.batch, _ = ad.(core.BatchPublisher)
	l.interest, _ = ad.(core.RoomInterestAdapter)
	l.health, _ = ad.(core.HealthCheckAdapter)
	for _, o := range offsets {
		l.drop[o] = true
	}
	return l
}

// Subscribe subscribes the wrapped adapter, filtering what it delivers.
// A hub declares room interest to l (see core.WithRoomInterest); when the
// wrapped adapter routes no rooms, Subscribe hides that declaration from
// it, so that it receives every room.
func (l *Lossy) Subscribe(ctx context.Context, handler func(core.AdapterMessage)) error {
	if l.interest == nil {
		ctx = valuesHidden{ctx}
	}
	return l.Adapter.Subscribe(ctx, func(m core.AdapterMessage) {
		l.mu.Lock()
		d := l.drop[m.Pos.Offset]
		delete(l.drop, m.Pos.Offset)
		l.mu.Unlock()
		if d {
			return
		}
		handler(m)
	})
}

// PublishBatch forwards to the wrapped adapter.
func (l *Lossy) PublishBatch(ctx context.Context, msgs []core.AdapterMessage) error {
	return publishBatch(ctx, l.Adapter, l.batch, msgs)
}

// SetRoomInterest forwards to the wrapped adapter.
func (l *Lossy) SetRoomInterest(room string, interested bool) {
	if l.interest != nil {
		l.interest.SetRoomInterest(room, interested)
	}
}

// AppendHistory forwards to the wrapped adapter.
func (l *Lossy) AppendHistory(ctx context.Context, batch []core.HistoryAppend) {
	l.hist.AppendHistory(ctx, batch)
}

// ReadHistory forwards to the wrapped adapter.
func (l *Lossy) ReadHistory(ctx context.Context, room string, opts core.History, q core.HistoryQuery) (core.HistoryPage, error) {
	return l.hist.ReadHistory(ctx, room, opts, q)
}

// CheckHealth forwards to the wrapped adapter.
func (l *Lossy) CheckHealth(ctx context.Context) error {
	return checkHealth(ctx, l.health)
}

// valuesHidden is a context without values, which ends when the context
// it wraps does.
type valuesHidden struct{ context.Context } //nolint:containedctx // a context wrapper, not a struct that keeps one

// Value returns nil for every key.
func (valuesHidden) Value(any) any { return nil }

// publishBatch publishes msgs with batch, or one by one with ad when batch
// is nil, stopping at the first error.
func publishBatch(ctx context.Context, ad core.Adapter, batch core.BatchPublisher, msgs []core.AdapterMessage) error {
	if batch != nil {
		return batch.PublishBatch(ctx, msgs)
	}
	for _, m := range msgs {
		if err := ad.Publish(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// checkHealth asks hc, or reports healthy when hc is nil.
func checkHealth(ctx context.Context, hc core.HealthCheckAdapter) error {
	if hc == nil {
		return nil
	}
	return hc.CheckHealth(ctx)
}

// RunGapFill checks that a node that misses bus messages of a history room
// reads them from the store and delivers everything in order: node B's
// link drops offsets 3 and 7 of a room; B's member still receives 1..12 in
// order, each once, and B counts nothing lost. Then ("trimmed") B's link
// drops offsets 1..19 of a "small-" room (HistoryRooms: 10 kept) and A
// publishes 20: B delivers what the store still keeps of the gap, 11..19,
// then 20, and counts only the 10 it no longer keeps as lost. newAdapter
// returns a fresh, unsubscribed adapter with history (core.HistoryAdapter)
// on the bus under test, whose store is shared by the adapters it returns.
func RunGapFill(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	var rec Recoveries
	a := HistoryNode(t, "gap-a", newAdapter(t), &rec)
	counters := NewCounters()
	b := HistoryNode(t, "gap-b", NewLossy(t, newAdapter(t), 3, 7), &rec, core.WithMetrics(counters))
	WaitHealthy(t, a.Adapter)
	WaitHealthy(t, b.Adapter)
	room := "hist-" + core.NewEpoch()
	member := b.DialRoom(t, room, "")
	for i := range 12 {
		require.NoError(t, a.Hub.BroadcastToRoom(room, []byte("g"+strconv.Itoa(i))))
	}
	member.AwaitCount(t, room, 12)
	got, _, _ := member.Offsets(room)
	assert.Equal(t, contiguous(1, 12), got, "every offset once, in order, the dropped ones read from the store")
	assert.Zero(t, counters.Traffic().Lost, "nothing lost: the store had it")

	t.Run("trimmed", func(t *testing.T) { runGapFillTrimmed(t, newAdapter) })
}

func runGapFillTrimmed(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	const n, kept = 20, 10
	a := HistoryNode(t, "trim-a", newAdapter(t), nil)
	counters := NewCounters()
	b := HistoryNode(t, "trim-b", NewLossy(t, newAdapter(t), Span(1, n-1)...), nil, core.WithMetrics(counters))
	WaitHealthy(t, a.Adapter)
	WaitHealthy(t, b.Adapter)
	room := "small-" + core.NewEpoch()
	member := b.DialRoom(t, room, "")
	for i := range n {
		require.NoError(t, a.Hub.BroadcastToRoom(room, []byte("t"+strconv.Itoa(i))))
	}
	// Offset n is stored last: when B receives it, which shows it the gap,
	// the store keeps n-kept+1..n for good.
	require.Eventually(t, func() bool {
		got, _, _ := member.Offsets(room)
		return len(got) > 0 && got[len(got)-1] == n
	}, waitTimeout, time.Millisecond, "no offset %d", n)
	got, _, _ := member.Offsets(room)
	assert.Equal(t, Span(n-kept+1, n), got, "what the store keeps of the gap, in order, then the rest")
	assert.Equal(t, int64(n-kept), counters.Traffic().Lost, "lost: only what the store no longer keeps")
}
