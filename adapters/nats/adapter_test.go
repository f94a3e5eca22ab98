package nats

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	nc := connect(t, sharedURL)

	_, err := New(nil)
	require.ErrorIs(t, err, ErrNilConn)
	_, err = New(nc, WithSubjectPrefix("bad prefix"))
	require.ErrorIs(t, err, ErrInvalidPrefix)
	_, err = New(nc, WithHealthTimeout(0))
	require.ErrorIs(t, err, ErrInvalidOption)

	a, err := New(nc)
	require.NoError(t, err)
	assert.Equal(t, "wshub.all", a.subj.all)
	assert.Equal(t, "wshub.presence", a.subj.presence)
	require.NoError(t, a.Close())
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	a := newAdapter(t, connect(t, sharedURL), prefix)
	recv := newAdapter(t, connect(t, sharedURL), prefix)
	got := subscribe(t, recv)
	ctx := context.Background()

	err := a.Publish(ctx, core.AdapterMessage{Type: core.AdapterRoom})
	require.ErrorIs(t, err, core.ErrEmptyRoomName)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = a.Publish(cancelled, core.AdapterMessage{Type: core.AdapterBroadcast})
	require.ErrorIs(t, err, context.Canceled)
	err = a.PublishBatch(cancelled, []core.AdapterMessage{{Type: core.AdapterBroadcast}})
	require.ErrorIs(t, err, context.Canceled)

	// A batch reports the first failure but still sends the rest.
	err = a.PublishBatch(ctx, []core.AdapterMessage{
		{Type: core.AdapterBroadcast, Data: []byte("first")},
		{Type: core.AdapterRoomExcept},
		{Type: core.AdapterBroadcast, Data: []byte("last")},
	})
	require.ErrorIs(t, err, core.ErrEmptyRoomName)
	require.Eventually(t, func() bool { return got.has(withData("first")) && got.has(withData("last")) }, waitFor, tick)
}

func TestLifecycleErrors(t *testing.T) {
	t.Parallel()
	nc := connect(t, sharedURL)
	a := newAdapter(t, nc, testPrefix())
	ctx := context.Background()

	require.ErrorIs(t, a.CheckHealth(ctx), ErrNotSubscribed)
	require.ErrorIs(t, a.Subscribe(ctx, nil), ErrNilHandler)
	require.NoError(t, a.Subscribe(core.WithRoomInterest(ctx), func(core.AdapterMessage) {}))
	require.ErrorIs(t, a.Subscribe(core.WithRoomInterest(ctx), func(core.AdapterMessage) {}), ErrAlreadySubscribed)
	waitHealthy(t, a)

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "second Close")
	require.ErrorIs(t, a.Publish(ctx, core.AdapterMessage{Type: core.AdapterBroadcast}), core.ErrAdapterClosed)
	require.ErrorIs(t, a.PublishBatch(ctx, []core.AdapterMessage{{Type: core.AdapterBroadcast}}), core.ErrAdapterClosed)
	require.ErrorIs(t, a.CheckHealth(ctx), core.ErrAdapterClosed)

	b := newAdapter(t, nc, testPrefix())
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Subscribe(core.WithRoomInterest(ctx), func(core.AdapterMessage) {}), core.ErrAdapterClosed)
}

func TestRoundTripAllTypes(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	pub := newAdapter(t, connect(t, sharedURL), prefix)
	recv := newAdapter(t, connect(t, sharedURL), prefix)
	const room = "room.with dots*and>wildcards"
	recv.SetRoomInterest(room, true) // before Subscribe: applied by it
	got := subscribe(t, recv)
	waitHealthy(t, recv)

	// The room subscription is made in the background: wait until room
	// traffic flows before checking everything else arrives exactly once.
	ctx := context.Background()
	require.Eventually(t, func() bool {
		assert.NoError(t, pub.Publish(ctx, core.AdapterMessage{NodeID: "n1", Type: core.AdapterRoom, Room: room, Data: []byte("probe")}))
		return got.has(withData("probe"))
	}, waitFor, 20*time.Millisecond)

	want := []core.AdapterMessage{
		{NodeID: "n1", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("b")},
		{NodeID: "n1", Type: core.AdapterBroadcastExcept, ExceptClientIDs: []string{"c1", "c2"}, MsgType: 2, Data: []byte("be")},
		{NodeID: "n1", Type: core.AdapterRoom, Room: room, MsgType: 1, Data: []byte("r")},
		{NodeID: "n1", Type: core.AdapterRoomExcept, Room: room, ExceptClientIDs: []string{"c3"}, MsgType: 1, Data: []byte("re")},
		{NodeID: "n1", Type: core.AdapterUser, UserID: "u1", MsgType: 1, Data: []byte("u")},
		{NodeID: "n1", Type: core.AdapterClient, ClientID: "c9", MsgType: 1, Data: []byte("c")},
		{NodeID: "n1", Type: core.AdapterPresence, Data: []byte("p")},
		{NodeID: "n1", Type: "future_op", Room: "x", UserID: "u", MsgType: 1, Data: []byte("f")},
	}
	require.NoError(t, pub.PublishBatch(ctx, want[:3]))
	for _, m := range want[3:] {
		require.NoError(t, pub.Publish(ctx, m))
	}
	for _, m := range want {
		require.Eventually(t, func() bool { return got.has(withData(string(m.Data))) }, waitFor, tick, "missing %s", m.Type)
	}
	// A final marker: everything published before it has arrived by then.
	require.NoError(t, pub.Publish(ctx, core.AdapterMessage{NodeID: "n1", Type: core.AdapterBroadcast, Data: []byte("end")}))
	require.Eventually(t, func() bool { return got.has(withData("end")) }, waitFor, tick)
	for _, m := range want {
		assert.Equal(t, 1, got.count(withData(string(m.Data))), "%s not exactly once", m.Type)
		for _, g := range got.snapshot() {
			if string(g.Data) == string(m.Data) {
				assert.Equal(t, m, g)
			}
		}
	}
}

func TestUndecodableMessagesAreReported(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	nc := connect(t, sharedURL)
	var handled []error
	var mu sync.Mutex
	a := newAdapter(t, nc, prefix, WithErrorHandler(func(err error) {
		mu.Lock()
		handled = append(handled, err)
		mu.Unlock()
	}))
	var log errorLog
	a.SetErrorReporter(log.report)
	got := subscribe(t, a)
	waitHealthy(t, a)

	newer := wire.Append(nil, &core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("future")})
	newer[0] = wire.Version + 1
	for _, b := range [][]byte{nil, {0}, {1, 255, 0}, {1, 1, 0, 200}, newer} {
		require.NoError(t, nc.Publish(prefix+".all", b))
	}
	ok := wire.Append(nil, &core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("fine")})
	require.NoError(t, nc.Publish(prefix+".presence", ok))
	require.Eventually(t, func() bool { return got.has(withData("fine")) }, waitFor, tick)

	assert.Len(t, got.snapshot(), 1, "bad messages must not reach the handler")
	decode, version := log.ops("decode"), log.ops("version")
	assert.Len(t, decode, 4)
	require.Len(t, version, 1)
	require.ErrorIs(t, version[0], wire.ErrVersion)
	for _, e := range decode {
		require.ErrorIs(t, e, wire.ErrMalformed)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, handled, 5)
	var ae *core.AdapterError
	require.ErrorAs(t, handled[0], &ae)
}

func TestSubscribeContextEndStopsDelivery(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	nc := connect(t, sharedURL)
	a := newAdapter(t, nc, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	got := &collector{}
	require.NoError(t, a.Subscribe(core.WithRoomInterest(ctx), got.handle))
	waitHealthy(t, a)

	cancel()
	require.Eventually(t, func() bool {
		return errors.Is(a.CheckHealth(context.Background()), ErrNotSubscribed)
	}, waitFor, tick)
	// Publishing still works (the hub may keep sending while it stops).
	require.NoError(t, a.Publish(context.Background(), core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("x")}))
}

func TestSubscribeRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	nc, err := natsgo.Connect(sharedURL)
	require.NoError(t, err)
	nc.Close() // every subscribe now fails
	a := newAdapter(t, nc, testPrefix())
	var log errorLog
	a.SetErrorReporter(log.report)
	a.SetRoomInterest("r", true)

	require.NoError(t, a.Subscribe(core.WithRoomInterest(context.Background()), func(core.AdapterMessage) {}),
		"Subscribe must not fail on a broken connection: it retries in the background")
	// Passes at once, then after waits drawn from windows of 100, 200 and
	// 400 ms (internal/backoff, whose spread its own tests check), each
	// reporting three failures.
	var allFails []time.Time
	require.Eventually(t, func() bool {
		allFails = log.timesOf("subscribe", `.all"`)
		return len(allFails) >= 4
	}, waitFor, tick)
	for _, e := range log.ops("subscribe") {
		require.ErrorIs(t, e, natsgo.ErrConnectionClosed)
	}
	// A jittered wait may be near zero, so only upper bounds hold: each
	// within its window, plus generous room for a loaded machine.
	for i, window := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		assert.Less(t, allFails[i+1].Sub(allFails[i]), window+2*time.Second, "wait %d", i)
	}
	err = a.CheckHealth(context.Background())
	require.ErrorIs(t, err, ErrNotConnected)
}

func TestCloseWaitsForHandler(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	nc := connect(t, sharedURL)
	a := newAdapter(t, nc, prefix)
	entered := make(chan struct{})
	release := make(chan struct{})
	var finished sync.WaitGroup
	finished.Add(1)
	var once sync.Once
	require.NoError(t, a.Subscribe(core.WithRoomInterest(context.Background()), func(core.AdapterMessage) {
		once.Do(func() {
			close(entered)
			<-release
			finished.Done()
		})
	}))
	waitHealthy(t, a)
	require.NoError(t, a.Publish(context.Background(), core.AdapterMessage{Type: core.AdapterBroadcast}))
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("handler not called")
	}

	closed := make(chan struct{})
	go func() {
		assert.NoError(t, a.Close())
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while the handler was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	finished.Wait()
}

// Deployments whose prefix nests under ours (<p>.room, <p>.room.x) publish
// on subjects the room wildcard could match; the adapter keeps only room
// messages on their own room subject.
func TestNestedPrefixNotReceived(t *testing.T) {
	p := testPrefix()
	nc := connect(t, sharedURL)
	ours := newAdapter(t, nc, p)
	var got collector
	require.NoError(t, ours.Subscribe(context.Background(), got.handle)) // no declared interest: the wildcard
	require.NoError(t, nc.Flush())
	ctx := context.Background()
	for _, prefix := range []string{p + ".room", p + ".room.x"} {
		other := newAdapter(t, nc, prefix)
		require.NoError(t, other.Publish(ctx, core.AdapterMessage{NodeID: "other", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("foreign broadcast")}))
		require.NoError(t, other.Publish(ctx, core.AdapterMessage{NodeID: "other", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("foreign room")}))
	}
	require.NoError(t, ours.Publish(ctx, core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("own room")}))
	// One connection published all of them in this order, and NATS keeps a
	// publisher's order: once ours arrived, the foreign ones would have.
	require.Eventually(t, func() bool { return len(got.snapshot()) >= 1 }, waitFor, time.Millisecond)
	msgs := got.snapshot()
	require.Len(t, msgs, 1)
	assert.Equal(t, "own room", string(msgs[0].Data))
}
