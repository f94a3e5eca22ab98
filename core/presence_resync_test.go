package core

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resyncSpy is an adapter with an in-memory member store that counts the
// resync requests published through it and delivers nothing.
type resyncSpy struct {
	*MemoryPresence
	resyncs atomic.Int64
}

func (s *resyncSpy) Publish(ctx context.Context, m AdapterMessage) error {
	return s.PublishBatch(ctx, []AdapterMessage{m})
}

func (s *resyncSpy) PublishBatch(_ context.Context, ms []AdapterMessage) error {
	for _, m := range ms {
		if r, err := decodeCluster(m.Data); m.Type == AdapterPresence && err == nil && r.kind == kindResync {
			s.resyncs.Add(1)
		}
	}
	return nil
}

func (*resyncSpy) Subscribe(context.Context, func(AdapterMessage)) error { return nil }
func (*resyncSpy) Close() error                                          { return nil }

// A sweep that removed the members of a node which is alive by the time
// its writes land asks that node to write them again once, after the
// last write, not once per record it wrote: a node with 1,000 members
// would otherwise rewrite its records 1,000 times over.
func TestResyncAfterSweepIsAskedOnce(t *testing.T) {
	spy := &resyncSpy{MemoryPresence: NewMemoryPresence()}
	h, _ := startHub(t, WithAdapter(spy), WithNodeID("a"), WithRoomOptions(memberTestRooms),
		WithPresence(time.Minute)) // no eviction during the test
	p := h.pres
	p.mu.Lock()
	p.nodes["b"] = &nodeInfo{instance: "b-instance", lastSeen: time.Now()} // b is heard
	p.mu.Unlock()

	for range 1000 { // the writes of one sweep, b heard meanwhile
		p.removed("b")
	}
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return spy.resyncs.Load() > 0 && len(p.resyncs) == 0
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, int64(1), spy.resyncs.Load())

	// A node not heard is asked when it is first heard, not now.
	p.removed("c")
	p.mu.Lock()
	_, swept := p.swept["c"]
	pending := len(p.resyncs)
	p.mu.Unlock()
	assert.True(t, swept)
	assert.Zero(t, pending)
}
