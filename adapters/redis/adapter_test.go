package redis

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

func TestNew(t *testing.T) {
	t.Parallel()
	client := newClient(t, sharedAddr)
	tests := []struct {
		name string
		give []Option
		want error
	}{
		{name: "defaults"},
		{name: "prefix", give: []Option{WithChannelPrefix("x")}},
		{name: "empty prefix", give: []Option{WithChannelPrefix("")}, want: ErrInvalidOption},
		{name: "zero health timeout", give: []Option{WithHealthTimeout(0)}, want: ErrInvalidOption},
		{name: "negative health timeout", give: []Option{WithHealthTimeout(-time.Second)}, want: ErrInvalidOption},
		{name: "nil option", give: []Option{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(client, tt.give...)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				assert.Nil(t, a)
				return
			}
			require.NoError(t, err)
			require.NoError(t, a.Close())
		})
	}
	t.Run("nil client", func(t *testing.T) {
		t.Parallel()
		_, err := New(nil)
		require.ErrorIs(t, err, ErrNilClient)
	})
}

func TestChannels(t *testing.T) {
	t.Parallel()
	a, err := New(newClient(t, sharedAddr), WithChannelPrefix("p"))
	require.NoError(t, err)
	tests := []struct {
		give core.AdapterMessage
		want string
	}{
		{give: core.AdapterMessage{Type: core.AdapterBroadcast}, want: "p:all"},
		{give: core.AdapterMessage{Type: core.AdapterBroadcastExcept}, want: "p:all"},
		{give: core.AdapterMessage{Type: core.AdapterUser, UserID: "u"}, want: "p:all"},
		{give: core.AdapterMessage{Type: core.AdapterClient, ClientID: "c"}, want: "p:all"},
		{give: core.AdapterMessage{Type: core.AdapterRoom, Room: "r*?[x]"}, want: "p:room:r*?[x]"},
		{give: core.AdapterMessage{Type: core.AdapterRoomExcept, Room: "r"}, want: "p:room:r"},
		{give: core.AdapterMessage{Type: core.AdapterPresence}, want: "p:presence"},
		{give: core.AdapterMessage{Type: "future"}, want: "p:all"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, a.channel(&tt.give), tt.give.Type)
	}
}

func TestLifecycleErrors(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	ctx := context.Background()

	err := a.CheckHealth(ctx)
	require.ErrorIs(t, err, ErrNotConnected, "before Subscribe")

	require.ErrorIs(t, a.Subscribe(ctx, nil), ErrNilHandler)
	require.NoError(t, a.Subscribe(core.WithRoomInterest(ctx), func(core.AdapterMessage) {}))
	require.ErrorIs(t, a.Subscribe(core.WithRoomInterest(ctx), func(core.AdapterMessage) {}), ErrAlreadySubscribed)
	waitHealthy(t, a)

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "second Close")
	msg := core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast}
	require.ErrorIs(t, a.Publish(ctx, msg), core.ErrAdapterClosed)
	require.ErrorIs(t, a.PublishBatch(ctx, []core.AdapterMessage{msg}), core.ErrAdapterClosed)
	err = a.CheckHealth(ctx)
	require.ErrorIs(t, err, ErrNotConnected)
	require.ErrorIs(t, err, core.ErrAdapterClosed)
	a.SetRoomInterest("r", true) // ignored, must not block or panic

	b := newAdapter(t, sharedAddr, uniquePrefix(t))
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Subscribe(core.WithRoomInterest(ctx), func(core.AdapterMessage) {}), core.ErrAdapterClosed)
}

func TestPublishCancelledContext(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msg := core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast}
	require.ErrorIs(t, a.Publish(ctx, msg), context.Canceled)
	require.ErrorIs(t, a.PublishBatch(ctx, []core.AdapterMessage{msg}), context.Canceled)
	require.NoError(t, a.PublishBatch(ctx, nil), "empty batch")
}

// TestSubscribeContextStops checks that ending Subscribe's ctx stops the
// adapter's goroutines (goleak would catch them otherwise) and takes the
// link down.
func TestSubscribeContextStops(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, a.Subscribe(core.WithRoomInterest(ctx), func(core.AdapterMessage) {}))
	waitHealthy(t, a)
	cancel()
	a.wg.Wait()
	require.Nil(t, a.currentPubSub())
}

func TestPublishBatchKeepsOrder(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	pub := newAdapter(t, sharedAddr, prefix)
	sub := newAdapter(t, sharedAddr, prefix)
	var in inbox
	sub.SetRoomInterest("r", true)
	require.NoError(t, sub.Subscribe(core.WithRoomInterest(context.Background()), in.handle))
	waitHealthy(t, sub)
	probe := newClient(t, sharedAddr)
	require.Eventually(t, func() bool { return numSub(t, probe, prefix+":room:r") == 1 }, waitFor, 10*time.Millisecond)

	const n = 500
	msgs := make([]core.AdapterMessage, n)
	for i := range msgs {
		msgs[i] = core.AdapterMessage{NodeID: "pub", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte(fmt.Sprint(i))}
		if i%3 == 0 { // interleave channels: order holds across them too
			msgs[i].Type, msgs[i].Room = core.AdapterRoom, "r"
		}
	}
	require.NoError(t, pub.PublishBatch(context.Background(), msgs[:n/2]))
	require.NoError(t, pub.PublishBatch(context.Background(), msgs[n/2:]))
	require.Eventually(t, func() bool { return len(in.all()) == n }, waitFor, 10*time.Millisecond)
	for i, m := range in.all() {
		require.Equal(t, fmt.Sprint(i), string(m.Data))
		require.Equal(t, msgs[i].Type, m.Type)
		require.Equal(t, msgs[i].Room, m.Room)
	}
}

// TestMalformedPayloads publishes bytes that are not a wire message and
// checks they are reported, dropped, and do not stop later deliveries.
func TestMalformedPayloads(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	var fromHandler, fromReporter errorLog
	sub := newAdapter(t, sharedAddr, prefix, WithErrorHandler(func(err error) {
		var ae *core.AdapterError
		if errors.As(err, &ae) {
			fromHandler.report(ae)
		}
	}))
	sub.SetErrorReporter(fromReporter.report)
	var in inbox
	require.NoError(t, sub.Subscribe(core.WithRoomInterest(context.Background()), in.handle))
	waitHealthy(t, sub)

	raw := newClient(t, sharedAddr)
	ctx := context.Background()
	good := wire.Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast, Data: []byte("ok")})
	newer := append([]byte{wire.Version + 1}, good[1:]...)
	for _, p := range [][]byte{{}, {0}, {1, 99}, good[:len(good)-1], append(append([]byte{}, good...), 0), newer} {
		require.NoError(t, raw.Publish(ctx, prefix+":all", p).Err())
	}
	require.NoError(t, raw.Publish(ctx, prefix+":all", good).Err())

	require.Eventually(t, func() bool { return in.has("ok") }, waitFor, 10*time.Millisecond)
	assert.Len(t, in.all(), 1, "only the good message is delivered")
	assert.Equal(t, 5, fromReporter.count("decode"))
	assert.Equal(t, 1, fromReporter.count("version"))
	assert.Equal(t, fromReporter.ops(), fromHandler.ops(), "handler and reporter see the same errors")
}

func TestHandlerPanicIsReported(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	var errs errorLog
	var in inbox
	sub := newAdapter(t, sharedAddr, prefix)
	sub.SetErrorReporter(errs.report)
	require.NoError(t, sub.Subscribe(core.WithRoomInterest(context.Background()), func(m core.AdapterMessage) {
		if string(m.Data) == "boom" {
			panic("boom")
		}
		in.handle(m)
	}))
	waitHealthy(t, sub)
	pub := newAdapter(t, sharedAddr, prefix)
	ctx := context.Background()
	require.NoError(t, pub.Publish(ctx, core.AdapterMessage{NodeID: "p", Type: core.AdapterBroadcast, Data: []byte("boom")}))
	require.NoError(t, pub.Publish(ctx, core.AdapterMessage{NodeID: "p", Type: core.AdapterBroadcast, Data: []byte("after")}))
	require.Eventually(t, func() bool { return in.has("after") }, waitFor, 10*time.Millisecond)
	assert.Equal(t, 1, errs.count("subscribe"))
}

func TestPublishAllFields(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	pub := newAdapter(t, sharedAddr, prefix)
	sub := newAdapter(t, sharedAddr, prefix)
	var in inbox
	sub.SetRoomInterest("room", true)
	require.NoError(t, sub.Subscribe(core.WithRoomInterest(context.Background()), in.handle))
	waitHealthy(t, sub)
	probe := newClient(t, sharedAddr)
	require.Eventually(t, func() bool { return numSub(t, probe, prefix+":room:room") == 1 }, waitFor, 10*time.Millisecond)

	want := []core.AdapterMessage{
		{NodeID: "n1", Type: core.AdapterRoomExcept, Room: "room", ExceptClientIDs: []string{"a", "b"}, MsgType: 2, Data: []byte{0, 1, 2, 255}},
		{NodeID: "n1", Type: core.AdapterUser, UserID: "u", MsgType: 1, Data: []byte("to user")},
		{NodeID: "n1", Type: core.AdapterClient, ClientID: "c", MsgType: 1, Data: []byte("to client")},
		{NodeID: "n1", Type: core.AdapterPresence, Data: []byte(`{"clients":3}`)},
	}
	for _, m := range want {
		require.NoError(t, pub.Publish(context.Background(), m))
	}
	require.Eventually(t, func() bool { return len(in.all()) == len(want) }, waitFor, 10*time.Millisecond)
	assert.Equal(t, want, in.all())
}

// TestInterestRouting checks that a node without interest in a room gets
// none of its traffic, and that dropping interest stops it.
func TestInterestRouting(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	pub := newAdapter(t, sharedAddr, prefix)
	interested := newAdapter(t, sharedAddr, prefix)
	other := newAdapter(t, sharedAddr, prefix)
	var inA, inB inbox
	interested.SetRoomInterest("r", true) // before Subscribe: applied by it
	require.NoError(t, interested.Subscribe(core.WithRoomInterest(context.Background()), inA.handle))
	require.NoError(t, other.Subscribe(core.WithRoomInterest(context.Background()), inB.handle))
	other.SetRoomInterest("s", true)
	waitHealthy(t, interested)
	waitHealthy(t, other)
	probe := newClient(t, sharedAddr)
	require.Eventually(t, func() bool {
		return numSub(t, probe, prefix+":room:r") == 1 && numSub(t, probe, prefix+":room:s") == 1
	}, waitFor, 10*time.Millisecond)

	ctx := context.Background()
	room := func(r, data string) core.AdapterMessage {
		return core.AdapterMessage{NodeID: "pub", Type: core.AdapterRoom, Room: r, MsgType: 1, Data: []byte(data)}
	}
	for i := range 20 {
		require.NoError(t, pub.Publish(ctx, room("r", fmt.Sprint("r", i))))
	}
	require.NoError(t, pub.Publish(ctx, room("s", "s0")))
	// A broadcast published last arrives after everything published before
	// it on the same connection, so once it is in, nothing else is coming.
	require.NoError(t, pub.Publish(ctx, core.AdapterMessage{NodeID: "pub", Type: core.AdapterBroadcast, Data: []byte("mark1")}))
	require.Eventually(t, func() bool { return inA.has("mark1") && inB.has("mark1") }, waitFor, 10*time.Millisecond)
	assert.Len(t, inA.all(), 21, "interested node gets the room's 20 and the mark")
	assert.False(t, inA.has("s0"))
	assert.Len(t, inB.all(), 2, "the other node gets only its own room and the mark")
	assert.True(t, inB.has("s0"))

	// Dropping interest unsubscribes.
	interested.SetRoomInterest("r", false)
	require.Eventually(t, func() bool { return numSub(t, probe, prefix+":room:r") == 0 }, waitFor, 10*time.Millisecond)
	require.NoError(t, pub.Publish(ctx, room("r", "late")))
	require.NoError(t, pub.Publish(ctx, core.AdapterMessage{NodeID: "pub", Type: core.AdapterBroadcast, Data: []byte("mark2")}))
	require.Eventually(t, func() bool { return inA.has("mark2") }, waitFor, 10*time.Millisecond)
	assert.False(t, inA.has("late"))

	// Many quick flips settle on the last state.
	for i := range 50 {
		other.SetRoomInterest("flip", i%2 == 0)
	}
	other.SetRoomInterest("flip", true)
	require.Eventually(t, func() bool { return numSub(t, probe, prefix+":room:flip") == 1 }, waitFor, 10*time.Millisecond)
	require.Equal(t, int64(2), numSub(t, probe, prefix+":all"), "both subscribers keep the base channel")
}

// TestPublishConcurrent publishes from many goroutines at once (run with
// -race) and checks every message arrives.
func TestPublishConcurrent(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	pub := newAdapter(t, sharedAddr, prefix)
	sub := newAdapter(t, sharedAddr, prefix)
	var in inbox
	require.NoError(t, sub.Subscribe(core.WithRoomInterest(context.Background()), in.handle))
	waitHealthy(t, sub)
	const workers, each = 8, 50
	errc := make(chan error, workers) // one result per worker, never blocks
	for w := range workers {
		go func() {
			var err error
			for i := range each {
				m := core.AdapterMessage{NodeID: "p", Type: core.AdapterBroadcast, Data: []byte(fmt.Sprint(w, "-", i))}
				if i%2 == 0 {
					err = errors.Join(err, pub.Publish(context.Background(), m))
				} else {
					err = errors.Join(err, pub.PublishBatch(context.Background(), []core.AdapterMessage{m}))
				}
			}
			errc <- err
		}()
	}
	for range workers {
		require.NoError(t, <-errc)
	}
	require.Eventually(t, func() bool { return len(in.all()) == workers*each }, waitFor, 10*time.Millisecond)
}

// TestCheckHealthPing checks that CheckHealth also fails when the client
// cannot reach Redis even though the subscription still looks live.
func TestCheckHealthPing(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	require.NoError(t, a.Subscribe(core.WithRoomInterest(context.Background()), func(core.AdapterMessage) {}))
	waitHealthy(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := a.CheckHealth(ctx)
	require.ErrorIs(t, err, ErrNotConnected)
	require.ErrorIs(t, err, context.Canceled)
}

// go-redis's dial failures reach the logger installed with GoRedisLogger
// (TestMain installs it for the whole package, since go-redis has one
// logger per process).
func TestGoRedisLoggerReceivesDialFailures(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens there
	c := newClient(t, addr)
	require.Error(t, c.Ping(context.Background()).Err())
	require.Eventually(t, func() bool {
		return goRedisLines.Has("failed to dial") && goRedisLines.Has(addr)
	}, waitFor, time.Millisecond)
	GoRedisLogger{}.Printf(context.Background(), "dropped %d", 1) // a nil Logger discards
}

// Without declared interest the adapter takes every room through one
// pattern; glob characters in the prefix match only themselves.
func TestAnyRoomPatternEscapesPrefix(t *testing.T) {
	t.Parallel()
	base := uniquePrefix(t)
	globby := newAdapter(t, sharedAddr, base+"*[x]")
	plain := newAdapter(t, sharedAddr, base+"-x") // would match the unescaped pattern
	assert.Equal(t, base+`\*\[x\]:room:*`, globby.anyRoomPattern())

	var in inbox
	require.NoError(t, globby.Subscribe(context.Background(), in.handle))
	waitHealthy(t, globby)
	ctx := context.Background()
	require.NoError(t, plain.Publish(ctx, core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("other prefix")}))
	require.NoError(t, globby.Publish(ctx, core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("own prefix")}))
	require.Eventually(t, func() bool { return len(in.all()) >= 1 }, waitFor, time.Millisecond)
	// Each Publish returns once Redis processed it, and Redis delivers to a
	// subscriber in processing order: had the first matched, it would come
	// first.
	assert.Equal(t, "own prefix", string(in.all()[0].Data))
}

// A deployment whose prefix nests under ours (<p>:room:x) publishes on
// channels our room pattern matches; the adapter drops what is not a room
// message on its own room channel.
func TestNestedPrefixNotReceived(t *testing.T) {
	t.Parallel()
	p := uniquePrefix(t)
	ours := newAdapter(t, sharedAddr, p)
	other := newAdapter(t, sharedAddr, p+":room:x")
	var in inbox
	require.NoError(t, ours.Subscribe(context.Background(), in.handle)) // no declared interest: the pattern
	waitHealthy(t, ours)
	ctx := context.Background()
	require.NoError(t, other.Publish(ctx, core.AdapterMessage{NodeID: "other", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("foreign broadcast")}))
	require.NoError(t, other.Publish(ctx, core.AdapterMessage{NodeID: "other", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("foreign room")}))
	require.NoError(t, ours.Publish(ctx, core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("own room")}))
	// Each Publish returns once Redis processed it and Redis delivers in
	// that order, so once ours arrived the foreign ones would have too.
	require.Eventually(t, func() bool { return len(in.all()) >= 1 }, waitFor, time.Millisecond)
	got := in.all()
	require.Len(t, got, 1)
	assert.Equal(t, "own room", string(got[0].Data))
}
