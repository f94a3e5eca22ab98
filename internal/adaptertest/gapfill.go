package adaptertest

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

// Lossy wraps an adapter and drops, on the receiving side, the history
// messages whose offsets are listed in Drop (each once), as a failing
// link would. It forwards every optional extension the hub uses.
type Lossy struct {
	core.Adapter
	batch    core.BatchPublisher
	interest core.RoomInterestAdapter
	hist     core.HistoryAdapter
	health   core.HealthCheckAdapter
	mu       sync.Mutex
	drop     map[uint64]bool
}

// NewLossy wraps ad, dropping the received history messages at offsets.
// ad must implement core.BatchPublisher, core.RoomInterestAdapter,
// core.HistoryAdapter and core.HealthCheckAdapter, as this module's
// adapters do; NewLossy panics otherwise.
func NewLossy(ad core.Adapter, offsets ...uint64) *Lossy {
	l := &Lossy{Adapter: ad, drop: make(map[uint64]bool)}
	var ok1, ok2, ok3, ok4 bool
	l.batch, ok1 = ad.(core.BatchPublisher)
	l.interest, ok2 = ad.(core.RoomInterestAdapter)
	l.hist, ok3 = ad.(core.HistoryAdapter)
	l.health, ok4 = ad.(core.HealthCheckAdapter)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		panic("adaptertest: NewLossy needs an adapter with batches, room interest, history and health")
	}
	for _, o := range offsets {
		l.drop[o] = true
	}
	return l
}

// Subscribe subscribes the wrapped adapter, filtering what it delivers.
func (l *Lossy) Subscribe(ctx context.Context, handler func(core.AdapterMessage)) error {
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
	return l.batch.PublishBatch(ctx, msgs)
}

// SetRoomInterest forwards to the wrapped adapter.
func (l *Lossy) SetRoomInterest(room string, interested bool) {
	l.interest.SetRoomInterest(room, interested)
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
	return l.health.CheckHealth(ctx)
}

// RunGapFill checks that a node that misses bus messages of a history room
// reads them from the store and delivers everything in order: node B's
// link drops offsets 3 and 7 of a room; B's member still receives 1..12 in
// order, each once, and B counts nothing lost. Then ("trimmed") B's link
// drops offsets 1..19 of a "small-" room (HistoryRooms: 10 kept) and A
// publishes 20: B delivers what the store still keeps of the gap, 11..19,
// then 20, and counts only the 10 it no longer keeps as lost. newAdapter
// returns a fresh, unsubscribed adapter with history and room interest on
// the bus under test.
func RunGapFill(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	var rec Recoveries
	a := HistoryNode(t, "gap-a", newAdapter(t), &rec)
	counters := NewCounters()
	b := HistoryNode(t, "gap-b", NewLossy(newAdapter(t), 3, 7), &rec, core.WithMetrics(counters))
	WaitHealthy(t, a.Ad)
	WaitHealthy(t, b.Ad)
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
	b := HistoryNode(t, "trim-b", NewLossy(newAdapter(t), Span(1, n-1)...), nil, core.WithMetrics(counters))
	WaitHealthy(t, a.Ad)
	WaitHealthy(t, b.Ad)
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
