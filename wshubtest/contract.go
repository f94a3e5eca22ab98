package wshubtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// testDeliversAllFields: every field of every non-room operation arrives
// unchanged, in both directions.
func (f factory) testDeliversAllFields(t *testing.T) {
	e := f.setup(t, 2)
	e.subscribe(0, 1)
	want := []core.AdapterMessage{
		{Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("broadcast")},
		{Type: core.AdapterBroadcastExcept, ExceptClientIDs: []string{"c1", "c2"}, MsgType: 2, Data: []byte{0, 1, 2, 0xff}},
		{Type: core.AdapterUser, UserID: "alice", MsgType: 1, Data: []byte("to alice")},
		{Type: core.AdapterClient, ClientID: "client-9", MsgType: 1, Data: []byte("to client-9")},
		{Type: core.AdapterPresence, Data: []byte(`{"clients":3}`)},
		{Type: "custom_op", Room: "x", UserID: "u", ClientID: "c", ExceptClientIDs: []string{"e", ""}, MsgType: 7, Data: []byte("custom")},
		{Type: core.AdapterBroadcast, MsgType: 1},
	}
	for i := range want {
		want[i].NodeID = e.nodes[0].id
		e.publish(0, want[i])
	}
	rec := e.nodes[1].rec
	rec.wait(t, fmt.Sprintf("%d messages from adapter 0", len(want)), func(m []core.AdapterMessage) bool { return len(m) >= len(want) })
	assert.Equal(t, normalize(want), normalize(rec.snapshot()))

	back := core.AdapterMessage{Type: core.AdapterUser, UserID: "bob", MsgType: 2, Data: []byte("back")}
	e.publish(1, back)
	e.nodes[0].rec.wait(t, "a message from adapter 1", func(m []core.AdapterMessage) bool { return len(m) >= 1 })
	back.NodeID = e.nodes[1].id
	assert.Equal(t, []core.AdapterMessage{back}, e.nodes[0].rec.snapshot())
}

// testSubscribeOnce: a second Subscribe fails and its handler never runs;
// the first subscription keeps working.
func (f factory) testSubscribeOnce(t *testing.T) {
	e := f.setup(t, 2)
	e.subscribe(0, 1)
	second := newRecorder(e.nodes[1].id, e.nodes[1].rec.known)
	require.Error(t, e.nodes[1].a.Subscribe(e.ctx, second.handle), "second Subscribe must fail")

	for i := range 3 {
		e.publish(0, core.AdapterMessage{Type: core.AdapterBroadcast, MsgType: 1, Data: fmt.Appendf(nil, "m%d", i)})
	}
	e.nodes[1].rec.wait(t, "3 messages", func(m []core.AdapterMessage) bool { return len(m) >= 3 })
	assert.Len(t, e.nodes[1].rec.snapshot(), 3, "each message exactly once")
	assert.Empty(t, second.snapshot(), "the handler of the failed Subscribe was called")
}

// testSubscribeDoesNotBlock: Subscribe returns while ctx is still live.
func (f factory) testSubscribeDoesNotBlock(t *testing.T) {
	e := f.setup(t, 1)
	done := make(chan error, 1) // one result; buffered so the goroutine never waits
	go func() { done <- e.nodes[0].a.Subscribe(e.ctx, e.nodes[0].rec.handle) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatalf("Subscribe blocked for %v", waitTimeout)
	}
}

// testConcurrentPublish: Publish from many goroutines loses and duplicates
// nothing.
func (f factory) testConcurrentPublish(t *testing.T) {
	const goroutines, each = 8, 50
	e := f.setup(t, 2)
	e.subscribe(0, 1)
	errs := make(chan error, goroutines*each) // room for every possible error
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m := core.AdapterMessage{NodeID: e.nodes[0].id, Type: core.AdapterBroadcast, MsgType: 1, Data: fmt.Appendf(nil, "g%d-%d", g, i)}
				if err := e.nodes[0].a.Publish(e.ctx, m); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Publish: %v", err)
	}
	rec := e.nodes[1].rec
	rec.wait(t, fmt.Sprintf("%d messages", goroutines*each), func(m []core.AdapterMessage) bool { return len(m) >= goroutines*each })
	seen := map[string]int{}
	for _, m := range rec.snapshot() {
		seen[string(m.Data)]++
	}
	for g := range goroutines {
		for i := range each {
			assert.Equal(t, 1, seen[fmt.Sprintf("g%d-%d", g, i)], "message g%d-%d", g, i)
		}
	}
}

// testPerPublisherOrder: a receiver sees each publisher's messages in the
// order they were published, while two publishers interleave.
func (f factory) testPerPublisherOrder(t *testing.T) {
	const each = 200
	e := f.setup(t, 3)
	e.subscribe(0, 1, 2)
	errs := make(chan error, 2*each) // room for every possible error
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Go(func() {
			for i := range each {
				m := core.AdapterMessage{NodeID: e.nodes[p].id, Type: core.AdapterBroadcast, MsgType: 1, Data: []byte(strconv.Itoa(i))}
				if err := e.nodes[p].a.Publish(e.ctx, m); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Publish: %v", err)
	}
	rec := e.nodes[2].rec
	rec.wait(t, fmt.Sprintf("%d messages", 2*each), func(m []core.AdapterMessage) bool { return len(m) >= 2*each })
	for p := range 2 {
		var got []int
		for _, m := range rec.snapshot() {
			if m.NodeID == e.nodes[p].id {
				n, err := strconv.Atoi(string(m.Data))
				require.NoError(t, err)
				got = append(got, n)
			}
		}
		want := make([]int, each)
		for i := range want {
			want[i] = i
		}
		assert.Equal(t, want, got, "order of adapter %d's messages", p)
	}
}

// testPublishAfterClose: Close returns nil, later Publish (and PublishBatch)
// return core.ErrAdapterClosed, Subscribe fails. Closing an adapter that
// never subscribed works too.
func (f factory) testPublishAfterClose(t *testing.T) {
	e := f.setup(t, 2)
	e.subscribe(0)
	for i, nd := range e.nodes {
		require.NoError(t, nd.close(), "Close of adapter %d", i)
		err := nd.a.Publish(e.ctx, core.AdapterMessage{NodeID: nd.id, Type: core.AdapterBroadcast, Data: []byte("late")})
		require.ErrorIs(t, err, core.ErrAdapterClosed, "Publish after Close, adapter %d", i)
		if bp, ok := nd.a.(core.BatchPublisher); ok {
			err := bp.PublishBatch(e.ctx, []core.AdapterMessage{{NodeID: nd.id, Type: core.AdapterBroadcast, Data: []byte("late")}})
			require.ErrorIs(t, err, core.ErrAdapterClosed, "PublishBatch after Close, adapter %d", i)
			require.ErrorIs(t, bp.PublishBatch(e.ctx, nil), core.ErrAdapterClosed, "empty PublishBatch after Close, adapter %d", i)
		}
	}
	require.Error(t, e.nodes[1].a.Subscribe(e.ctx, e.nodes[1].rec.handle), "Subscribe after Close")
}

// testCloseConcurrentWithPublish: closing the receiver and then the
// publisher while several goroutines publish neither panics nor races, and
// every Publish that starts after Close has returned fails with
// core.ErrAdapterClosed.
func (f factory) testCloseConcurrentWithPublish(t *testing.T) {
	const goroutines, maxEach = 4, 1_000_000
	e := f.setup(t, 2)
	e.subscribe(0, 1)
	var closed atomic.Bool
	problems := make(chan string, goroutines) // at most one per goroutine
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range maxEach {
				after := closed.Load()
				m := core.AdapterMessage{NodeID: e.nodes[0].id, Type: core.AdapterBroadcast, MsgType: 1, Data: fmt.Appendf(nil, "g%d-%d", g, i)}
				err := e.nodes[0].a.Publish(e.ctx, m)
				switch {
				case after && err == nil:
					problems <- "Publish after Close returned nil"
					return
				case after && !errors.Is(err, core.ErrAdapterClosed):
					problems <- fmt.Sprintf("Publish after Close returned %v, want core.ErrAdapterClosed", err)
					return
				case err != nil:
					return // racing with Close: any error is acceptable
				}
			}
			problems <- "Publish never failed"
		})
	}
	e.nodes[1].rec.wait(t, "traffic before closing", func(m []core.AdapterMessage) bool { return len(m) >= 10 })
	require.NoError(t, e.nodes[1].close(), "Close of the receiver during traffic")
	require.NoError(t, e.nodes[0].close(), "Close of the publisher during traffic")
	closed.Store(true)
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Error(p)
	}
}

// testCancelThenClose: cancelling the Subscribe ctx and then closing
// returns promptly.
func (f factory) testCancelThenClose(t *testing.T) {
	e := f.setup(t, 1)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	require.NoError(t, e.nodes[0].a.Subscribe(ctx, e.nodes[0].rec.handle))
	cancel()
	done := make(chan error, 1) // one result; buffered so the goroutine never waits
	go func() { done <- e.nodes[0].close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatalf("Close after cancelling the Subscribe ctx took more than %v", waitTimeout)
	}
}

// testDataNotShared: the publisher may reuse Data once Publish returns, and
// one receiver writing into its Data does not change another's.
func (f factory) testDataNotShared(t *testing.T) {
	e := f.setup(t, 3)
	e.nodes[1].rec.scribble = true
	e.subscribe(0, 1, 2)
	const payload = "original payload"
	data := []byte(payload)
	e.publish(0, core.AdapterMessage{Type: core.AdapterBroadcast, MsgType: 2, Data: data})
	for i := range data {
		data[i] = 'Z'
	}
	for _, i := range []int{1, 2} {
		rec := e.nodes[i].rec
		rec.wait(t, "the message", func(m []core.AdapterMessage) bool { return len(m) >= 1 })
		assert.Equal(t, payload, string(rec.snapshot()[0].Data), "Data seen by adapter %d", i)
	}
}

// testBatchPublish: PublishBatch delivers every message in order.
func (f factory) testBatchPublish(t *testing.T) {
	e := f.setup(t, 2)
	bp, ok := e.nodes[0].a.(core.BatchPublisher)
	if !ok {
		t.Skip("adapter does not implement core.BatchPublisher")
	}
	e.subscribe(0, 1)
	require.NoError(t, bp.PublishBatch(e.ctx, nil), "empty batch")
	types := []string{core.AdapterBroadcast, core.AdapterUser, core.AdapterClient, core.AdapterPresence, core.AdapterBroadcastExcept}
	var want []core.AdapterMessage
	for i := range 20 {
		want = append(want, core.AdapterMessage{NodeID: e.nodes[0].id, Type: types[i%len(types)], UserID: "u", MsgType: 1, Data: []byte(strconv.Itoa(i))})
	}
	require.NoError(t, bp.PublishBatch(e.ctx, want))
	rec := e.nodes[1].rec
	rec.wait(t, "20 messages", func(m []core.AdapterMessage) bool { return len(m) >= 20 })
	assert.Equal(t, normalize(want), normalize(rec.snapshot()))
}

// testHealthCheck: CheckHealth becomes nil once subscribed and is an error
// after Close.
func (f factory) testHealthCheck(t *testing.T) {
	e := f.setup(t, 1)
	hc, ok := e.nodes[0].a.(core.HealthCheckAdapter)
	if !ok {
		t.Skip("adapter does not implement core.HealthCheckAdapter")
	}
	e.subscribe(0)
	waitHealth(t, hc, func(err error) bool { return err == nil }, "CheckHealth nil once subscribed")
	require.NoError(t, e.nodes[0].close())
	assert.Error(t, hc.CheckHealth(e.ctx), "CheckHealth after Close")
}

// testHealthAfterCancel: once the Subscribe ctx ends the adapter receives
// nothing, so CheckHealth must stop reporting the link as healthy.
func (f factory) testHealthAfterCancel(t *testing.T) {
	e := f.setup(t, 1)
	hc, ok := e.nodes[0].a.(core.HealthCheckAdapter)
	if !ok {
		t.Skip("adapter does not implement core.HealthCheckAdapter")
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	require.NoError(t, e.nodes[0].a.Subscribe(ctx, e.nodes[0].rec.handle))
	waitHealth(t, hc, func(err error) bool { return err == nil }, "CheckHealth nil once subscribed")
	cancel()
	waitHealth(t, hc, func(err error) bool { return err != nil }, "CheckHealth failing after the Subscribe ctx ended")
}

// waitHealth polls CheckHealth until ok accepts its result.
func waitHealth(t *testing.T, hc core.HealthCheckAdapter, ok func(error) bool, what string) {
	t.Helper()
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()
	deadline := time.After(waitTimeout)
	for {
		err := hc.CheckHealth(context.Background())
		if ok(err) {
			return
		}
		select {
		case <-ticker.C:
		case <-deadline:
			t.Fatalf("%s: not within %v (last: %v)", what, waitTimeout, err)
		}
	}
}

// testRoomWithoutInterest: unless the Subscribe ctx declares room interest
// (core.WithRoomInterest), every adapter delivers every room's messages,
// even one that implements core.RoomInterestAdapter and was never told of
// any interest: a wrapper hiding SetRoomInterest from the hub must cost
// traffic, not messages.
func (f factory) testRoomWithoutInterest(t *testing.T) {
	e := f.setup(t, 2)
	e.subscribe(0, 1)
	want := []core.AdapterMessage{
		{Type: core.AdapterRoom, Room: e.room("r"), MsgType: 1, Data: []byte("room")},
		{Type: core.AdapterRoomExcept, Room: e.room("r"), ExceptClientIDs: []string{"c"}, MsgType: 1, Data: []byte("except")},
	}
	for i := range want {
		want[i].NodeID = e.nodes[0].id
		e.publish(0, want[i])
	}
	rec := e.nodes[1].rec
	rec.wait(t, "2 room messages", func(m []core.AdapterMessage) bool { return len(m) >= 2 })
	assert.Equal(t, want, rec.snapshot())
}

// testRoomInterest: room messages reach the adapters interested in their
// room and no others; other operations reach everyone.
func (f factory) testRoomInterest(t *testing.T) {
	const n = 20
	e := f.setup(t, 3)
	if !e.allImplement(isRoomInterest) {
		t.Skip("adapter does not implement core.RoomInterestAdapter")
	}
	r, s := e.room("r"), e.room("s")
	setInterest(t, e.nodes[1].a, r, true) // before Subscribe: must be applied by it
	setInterest(t, e.nodes[2].a, s, true)
	e.subscribeByInterest(0, 1, 2)
	e.probe(0, 1, r)
	e.probe(0, 2, s)

	for i := range n {
		m := core.AdapterMessage{Type: core.AdapterRoom, Room: r, MsgType: 1, Data: fmt.Appendf(nil, "r-%d", i)}
		if i%2 == 1 {
			m.Type, m.ExceptClientIDs = core.AdapterRoomExcept, []string{"c1"}
		}
		e.publish(0, m)
	}
	e.publish(0, core.AdapterMessage{Type: core.AdapterRoom, Room: s, MsgType: 1, Data: []byte("s-0")})
	for _, typ := range []string{core.AdapterBroadcast, core.AdapterUser, core.AdapterClient, core.AdapterPresence} {
		e.publish(0, core.AdapterMessage{Type: typ, UserID: "u", ClientID: "c", MsgType: 1, Data: []byte("all-" + typ)})
	}

	isR := func(m *core.AdapterMessage) bool { return strings.HasPrefix(string(m.Data), "r-") }
	isAll := func(m *core.AdapterMessage) bool { return strings.HasPrefix(string(m.Data), "all-") }
	e.nodes[1].rec.wait(t, "room r traffic", func(m []core.AdapterMessage) bool { return count(m, isR) >= n && count(m, isAll) >= 4 })
	e.nodes[2].rec.wait(t, "room s traffic", func(m []core.AdapterMessage) bool {
		return count(m, withData("s-0")) >= 1 && count(m, isAll) >= 4
	})

	got1, got2 := e.nodes[1].rec.snapshot(), e.nodes[2].rec.snapshot()
	assert.Equal(t, n, count(got1, isR), "adapter 1 (interested in r): room r messages")
	assert.Zero(t, count(got1, inRoom(s)), "adapter 1 received room s messages without interest")
	assert.Zero(t, count(got2, inRoom(r)), "adapter 2 received room r messages without interest")
	assert.Zero(t, count(e.nodes[0].rec.snapshot(), inRoom(r)), "adapter 0 (no interest) received room r messages")
}

// testRoomInterestWithdrawn: after SetRoomInterest(room, false) an adapter
// eventually stops receiving the room while an interested witness still
// does; interest given again brings the room back.
func (f factory) testRoomInterestWithdrawn(t *testing.T) {
	const batch = 5
	e := f.setup(t, 3)
	if !e.allImplement(isRoomInterest) {
		t.Skip("adapter does not implement core.RoomInterestAdapter")
	}
	r := e.room("r")
	e.subscribeByInterest(0, 1, 2)
	setInterest(t, e.nodes[1].a, r, true) // after Subscribe this time
	setInterest(t, e.nodes[2].a, r, true)
	e.probe(0, 1, r)
	e.probe(0, 2, r)

	setInterest(t, e.nodes[1].a, r, false)
	// A broker may apply the change a little later: wait for a whole batch
	// that the witness received and adapter 1 did not. Messages of the room
	// and the marker may travel apart on a broker, so a batch that reached
	// adapter 1 only means "not yet", and a missing batch can at worst make
	// the test pass early, never fail a correct adapter.
	deadline := time.Now().Add(waitTimeout)
	for k := 0; ; k++ {
		tag := fmt.Sprintf("after-%d-", k)
		isTag := func(m *core.AdapterMessage) bool { return strings.HasPrefix(string(m.Data), tag) }
		for i := range batch {
			e.publish(0, core.AdapterMessage{Type: core.AdapterRoom, Room: r, MsgType: 1, Data: fmt.Appendf(nil, "%s%d", tag, i)})
		}
		e.nodes[2].rec.wait(t, "the witness's batch", func(m []core.AdapterMessage) bool { return count(m, isTag) >= batch })
		marker := "marker-" + tag
		e.publish(0, core.AdapterMessage{Type: core.AdapterBroadcast, MsgType: 1, Data: []byte(marker)})
		e.nodes[1].rec.wait(t, "the marker", func(m []core.AdapterMessage) bool { return count(m, withData(marker)) >= 1 })
		if count(e.nodes[1].rec.snapshot(), isTag) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("adapter 1 still receives room %q %v after SetRoomInterest(false)", r, waitTimeout)
		}
	}

	setInterest(t, e.nodes[1].a, r, true)
	e.probe(0, 1, r)
}
