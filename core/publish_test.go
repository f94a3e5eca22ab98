package core

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

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
