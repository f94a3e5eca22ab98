package memory

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
	"github.com/wshub/wshub/wshubtest"
)

func TestMain(m *testing.M) {
	// A dialing child process of BenchmarkMembers10kOverMemory does its
	// work here; a bus in memory cannot serve a hub in another process.
	wshubtest.MemberChild(func(string) (core.Adapter, error) { return nil, errors.New("no bus in a child process") })
	goleak.VerifyTestMain(m)
}

// reports collects what an adapter hands its error reporter.
type reports struct {
	mu   sync.Mutex
	errs []*core.AdapterError
}

func (r *reports) report(e *core.AdapterError) {
	r.mu.Lock()
	r.errs = append(r.errs, e)
	r.mu.Unlock()
}

func (r *reports) get() []*core.AdapterError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*core.AdapterError(nil), r.errs...)
}

func TestFullInboxDropsAndReports(t *testing.T) {
	bus := NewBus()
	pub, slow := bus.NewAdapter(), bus.NewAdapter(WithInboxSize(1))
	defer func() { require.NoError(t, pub.Close()) }()
	defer func() { require.NoError(t, slow.Close()) }()
	var rep reports
	slow.SetErrorReporter(rep.report)

	entered := make(chan string, 3) // one per message at most
	release := make(chan struct{})
	require.NoError(t, slow.Subscribe(t.Context(), func(m core.AdapterMessage) {
		entered <- string(m.Data)
		<-release
	}))
	ctx := t.Context()
	msg := func(data string) core.AdapterMessage {
		return core.AdapterMessage{NodeID: "pub", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte(data)}
	}
	require.NoError(t, pub.Publish(ctx, msg("first")))
	assert.Equal(t, "first", <-entered) // the handler now holds the delivery goroutine

	require.NoError(t, pub.Publish(ctx, msg("second"))) // fills the inbox of one
	require.NoError(t, pub.Publish(ctx, msg("third")))  // dropped, without blocking
	assert.Equal(t, uint64(1), slow.Dropped())
	errs := rep.get()
	require.Len(t, errs, 1)
	assert.Equal(t, "subscribe", errs[0].Op)
	require.ErrorIs(t, errs[0], ErrInboxFull)
	assert.Zero(t, pub.Dropped())

	close(release)
	assert.Equal(t, "second", <-entered)
}

func TestSubscribeErrors(t *testing.T) {
	bus := NewBus()
	a := bus.NewAdapter()
	handler := func(core.AdapterMessage) {}
	require.ErrorIs(t, a.Subscribe(t.Context(), nil), ErrNilHandler)
	require.NoError(t, a.Subscribe(t.Context(), handler))
	require.ErrorIs(t, a.Subscribe(t.Context(), handler), ErrAlreadySubscribed)
	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close is idempotent")
	require.ErrorIs(t, bus.NewAdapter().Subscribe(t.Context(), nil), ErrNilHandler)

	b := bus.NewAdapter()
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Subscribe(t.Context(), handler), core.ErrAdapterClosed)
	require.ErrorIs(t, b.CheckHealth(t.Context()), core.ErrAdapterClosed)
}

func TestPublishWithDoneContext(t *testing.T) {
	a := NewBus().NewAdapter()
	defer func() { require.NoError(t, a.Close()) }()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, a.Publish(ctx, core.AdapterMessage{Type: core.AdapterBroadcast}), context.Canceled)
	require.ErrorIs(t, a.PublishBatch(ctx, []core.AdapterMessage{{Type: core.AdapterBroadcast}}), context.Canceled)
}

// TestUnsubscribedReceivesNothing: messages published before Subscribe, or
// after the Subscribe ctx ended, are not queued for the adapter.
func TestUnsubscribedReceivesNothing(t *testing.T) {
	bus := NewBus()
	pub, sub := bus.NewAdapter(), bus.NewAdapter(WithInboxSize(1))
	defer func() { require.NoError(t, pub.Close()) }()
	var rep reports
	sub.SetErrorReporter(rep.report)
	for range 3 {
		require.NoError(t, pub.Publish(t.Context(), core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("early")}))
	}
	assert.Empty(t, sub.inbox)
	assert.Zero(t, sub.Dropped())

	got := make(chan string, 1) // the one message below
	ctx, cancel := context.WithCancel(t.Context())
	require.NoError(t, sub.Subscribe(ctx, func(m core.AdapterMessage) { got <- string(m.Data) }))
	require.NoError(t, pub.Publish(t.Context(), core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("on time")}))
	assert.Equal(t, "on time", <-got)

	cancel()
	require.Eventually(t, func() bool {
		sub.mu.RLock()
		defer sub.mu.RUnlock()
		return !sub.receiving
	}, 10*time.Second, time.Millisecond, "delivery goroutine did not stop on ctx cancel")
	for range 3 {
		require.NoError(t, pub.Publish(t.Context(), core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("late")}))
	}
	assert.Empty(t, sub.inbox)
	assert.Zero(t, sub.Dropped())
	assert.Empty(t, rep.get())
	require.NoError(t, sub.Close())
}

// TestUndecodableReported feeds the delivery goroutine bytes no Publish
// would produce; they are reported and skipped, and delivery goes on.
func TestUndecodableReported(t *testing.T) {
	bus := NewBus()
	a := bus.NewAdapter()
	defer func() { require.NoError(t, a.Close()) }()
	var rep reports
	a.SetErrorReporter(rep.report)
	got := make(chan string, 1) // the one good message
	require.NoError(t, a.Subscribe(t.Context(), func(m core.AdapterMessage) { got <- string(m.Data) }))

	a.inbox <- []byte{1, 3}                      // truncated
	a.inbox <- []byte{wire.Version + 1, 1, 0, 0} // a future version
	require.NoError(t, a.Publish(t.Context(), core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("good")}))
	assert.Equal(t, "good", <-got)

	errs := rep.get()
	require.Len(t, errs, 2)
	assert.Equal(t, "decode", errs[0].Op)
	assert.Equal(t, "version", errs[1].Op)
	require.ErrorIs(t, errs[1], wire.ErrVersion)
}

func TestCheckHealth(t *testing.T) {
	a := NewBus().NewAdapter()
	require.NoError(t, a.CheckHealth(t.Context()), "healthy before Subscribe")
	require.NoError(t, a.Close())
	require.ErrorIs(t, a.CheckHealth(t.Context()), core.ErrAdapterClosed)
}

func TestWithInboxSize(t *testing.T) {
	bus := NewBus()
	for _, tt := range []struct {
		give int
		want int
	}{
		{give: 0, want: DefaultInboxSize},
		{give: -5, want: DefaultInboxSize},
		{give: 1, want: 1},
		{give: 64, want: 64},
	} {
		a := bus.NewAdapter(WithInboxSize(tt.give))
		assert.Equal(t, tt.want, cap(a.inbox), "WithInboxSize(%d)", tt.give)
		require.NoError(t, a.Close())
	}
	assert.Equal(t, DefaultInboxSize, cap(bus.NewAdapter().inbox))
}
