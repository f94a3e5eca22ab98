package core

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gateAdapter holds its first batch until gate is closed, like a slow
// broker, and refuses a done ctx as the real adapters do.
type gateAdapter struct {
	subCtx    chan context.Context // the Subscribe ctx: done once Shutdown stops the background
	first     sync.Once
	holding   chan struct{} // closed while the first batch is held
	gate      chan struct{}
	published atomic.Int64
}

func (g *gateAdapter) Publish(ctx context.Context, m AdapterMessage) error {
	return g.PublishBatch(ctx, []AdapterMessage{m})
}

func (g *gateAdapter) PublishBatch(ctx context.Context, ms []AdapterMessage) error {
	g.first.Do(func() {
		close(g.holding)
		<-g.gate
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	g.published.Add(int64(len(ms)))
	return nil
}

func (g *gateAdapter) Subscribe(ctx context.Context, _ func(AdapterMessage)) error {
	g.subCtx <- ctx
	return nil
}

func (g *gateAdapter) Close() error { return nil }

// Messages queued for the other nodes when Shutdown starts are published,
// including a batch the broker was still taking when the hub stopped.
func TestShutdownPublishesQueuedMessages(t *testing.T) {
	const queued = 1000
	g := &gateAdapter{subCtx: make(chan context.Context, 1), holding: make(chan struct{}), gate: make(chan struct{})}
	h := NewHub(WithAdapter(g))
	go h.Run()
	bg := <-g.subCtx
	h.Broadcast([]byte("first")) // the publisher takes it; the broker holds it
	<-g.holding
	for i := 0; i < queued; i++ {
		h.Broadcast([]byte("queued"))
	}
	done := make(chan error, 1)
	go func() { done <- h.Shutdown(context.Background()) }()
	<-bg.Done() // Shutdown stopped the background goroutines' context
	close(g.gate)
	require.NoError(t, <-done)
	assert.Equal(t, int64(queued+1), g.published.Load())
}

// stuckAdapter's PublishBatch waits for its ctx, like a broker that does
// not answer.
type stuckAdapter struct{ sending chan struct{} }

func (s *stuckAdapter) Publish(ctx context.Context, m AdapterMessage) error {
	return s.PublishBatch(ctx, []AdapterMessage{m})
}

func (s *stuckAdapter) PublishBatch(ctx context.Context, _ []AdapterMessage) error {
	select {
	case s.sending <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *stuckAdapter) Subscribe(context.Context, func(AdapterMessage)) error { return nil }
func (s *stuckAdapter) Close() error                                          { return nil }

// A batch in flight to a broker that does not answer ends with Shutdown's
// ctx, not after WriteWait.
func TestShutdownBoundsPublishInFlight(t *testing.T) {
	a := &stuckAdapter{sending: make(chan struct{}, 1)}
	h := NewHub(WithAdapter(a), WithConfig(DefaultConfig().WithTimeouts(time.Hour, time.Minute, 30*time.Second)))
	go h.Run()
	ctx := context.Background()
	require.NoError(t, h.WaitRunning(ctx))
	h.Broadcast([]byte("stuck"))
	<-a.sending

	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Shutdown(sctx) }()
	select {
	case err := <-done: // WriteWait is an hour: only Shutdown's ctx can have ended the send
		t.Log("Shutdown:", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown waited for the publish in flight beyond its ctx")
	}
}
