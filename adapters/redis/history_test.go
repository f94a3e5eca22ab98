package redis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
	"github.com/wshub/wshub/wshubtest"
)

// roomMsg is a room message of node n with payload data.
func roomMsg(room, data string) core.AdapterMessage {
	return core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: room, MsgType: int(core.TextMessage), Data: []byte(data)}
}

// dropHistoryOnCleanup deletes the history keys of rooms when the test ends,
// so tests leave nothing in the shared Redis. Registered after a's
// newAdapter, it runs while a's client is still open.
func dropHistoryOnCleanup(t testing.TB, a *Adapter, rooms ...string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, r := range rooms {
			s, m := a.historyKeys(r)
			_ = a.client.Del(ctx, s, m).Err() // best effort: the server may be gone
		}
	})
}

// appendOK appends msgs to their rooms' history with opts, requires every
// one to be stored, and returns their positions.
func appendOK(t testing.TB, a *Adapter, opts core.History, msgs ...core.AdapterMessage) []core.Position {
	t.Helper()
	batch := make([]core.HistoryAppend, len(msgs))
	for i, m := range msgs {
		batch[i] = core.HistoryAppend{Msg: m, Options: opts}
	}
	a.AppendHistory(context.Background(), batch)
	pos := make([]core.Position, len(batch))
	for i, it := range batch {
		require.NoError(t, it.Err, "item %d", i)
		require.NotZero(t, it.Msg.Pos.Offset, "item %d", i)
		pos[i] = it.Msg.Pos
	}
	return pos
}

// readOK reads room's history and requires it to succeed.
func readOK(t testing.TB, a *Adapter, room string, q core.HistoryQuery) core.HistoryPage {
	t.Helper()
	page, err := a.ReadHistory(context.Background(), room, core.History{Size: 1}, q)
	require.NoError(t, err)
	return page
}

// Three adapters append to one room at once: the offsets they get are
// unique and, together, exactly 1..600 of one epoch, and each adapter's
// own appends are numbered in the order it made them.
func TestHistoryContiguousOffsets(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	const nodes, each = 3, 200
	var as [nodes]*Adapter
	for i := range as {
		as[i] = newAdapter(t, sharedAddr, prefix)
	}
	dropHistoryOnCleanup(t, as[0], "r")
	opts := core.History{Size: 1000}

	var (
		wg   sync.WaitGroup
		pos  [nodes][]core.Position
		errs [nodes]error
	)
	for n := range nodes {
		wg.Go(func() {
			for sent := 0; sent < each; {
				k := min(1+sent%7, each-sent) // batches of 1 to 7
				batch := make([]core.HistoryAppend, k)
				for j := range batch {
					batch[j] = core.HistoryAppend{Msg: roomMsg("r", fmt.Sprintf("%d-%d", n, sent+j)), Options: opts}
				}
				as[n].AppendHistory(context.Background(), batch)
				for _, it := range batch {
					if it.Err != nil {
						errs[n] = it.Err
						return
					}
					pos[n] = append(pos[n], it.Msg.Pos)
				}
				sent += k
			}
		})
	}
	wg.Wait()

	epoch := pos[0][0].Epoch
	data := make(map[uint64]string) // offset -> payload appended at it
	for n := range nodes {
		require.NoError(t, errs[n], "node %d", n)
		require.Len(t, pos[n], each)
		for i, p := range pos[n] {
			require.Equal(t, epoch, p.Epoch)
			if i > 0 {
				require.Greater(t, p.Offset, pos[n][i-1].Offset, "node %d numbered out of order", n)
			}
			_, dup := data[p.Offset]
			require.False(t, dup, "offset %d given twice", p.Offset)
			data[p.Offset] = fmt.Sprintf("%d-%d", n, i)
		}
	}

	page := readOK(t, as[1], "r", core.HistoryQuery{})
	assert.Equal(t, epoch, page.Epoch)
	assert.Equal(t, uint64(1), page.First)
	assert.Equal(t, uint64(nodes*each), page.Top)
	require.Equal(t, wshubtest.Span(1, nodes*each), wshubtest.Offsets(page.Messages))
	for _, m := range page.Messages {
		require.Equal(t, epoch, m.Pos.Epoch)
		require.Equal(t, data[m.Pos.Offset], string(m.Data), "offset %d", m.Pos.Offset)
	}
}

// A read made after SetRoomInterest comes after the room's subscription:
// Redis has the SUBSCRIBE when ReadHistory returns, so what another node
// stores next reaches this one (the hub reads where a room starts that
// way). Several rooms, since the keeper subscribes in the background and
// could win the race now and then.
func TestHistoryReadAfterInterest(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	pub := newAdapter(t, sharedAddr, prefix)
	sub := newAdapter(t, sharedAddr, prefix)
	var in inbox
	require.NoError(t, sub.Subscribe(core.WithRoomInterest(context.Background()), in.handle))
	waitHealthy(t, sub)
	probe := newClient(t, sharedAddr)
	opts := core.History{Size: 10}
	for i := range 20 {
		room := "r" + strconv.Itoa(i)
		dropHistoryOnCleanup(t, pub, room)
		sub.SetRoomInterest(room, true)
		page := readOK(t, sub, room, core.HistoryQuery{Limit: 1, Reverse: true})
		require.Zero(t, page.Top)
		require.Equal(t, int64(1), numSub(t, probe, prefix+":room:"+room), "room %s: subscribed before the read", room)
		appendOK(t, pub, opts, roomMsg(room, "after the read "+room))
	}
	require.Eventually(t, func() bool { return len(in.all()) == 20 }, waitFor, 10*time.Millisecond,
		"every message stored after a read is received")
}

// A subscribed adapter receives a history room's messages, with their
// positions, in offset order; a room without interest is not received.
func TestHistoryLiveDelivery(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	pub := newAdapter(t, sharedAddr, prefix)
	sub := newAdapter(t, sharedAddr, prefix)
	dropHistoryOnCleanup(t, pub, "r", "other")
	var in inbox
	sub.SetRoomInterest("r", true)
	require.NoError(t, sub.Subscribe(core.WithRoomInterest(context.Background()), in.handle))
	waitHealthy(t, sub)
	probe := newClient(t, sharedAddr)
	require.Eventually(t, func() bool { return numSub(t, probe, prefix+":room:r") == 1 }, waitFor, 10*time.Millisecond)

	const n = 300 // offsets past 127 take two varint bytes
	opts := core.History{Size: n}
	var want []core.AdapterMessage
	for sent := 0; sent < n; {
		var msgs []core.AdapterMessage
		for range min(64, n-sent) {
			m := roomMsg("r", strconv.Itoa(sent))
			if sent%5 == 0 {
				m.Type, m.ExceptClientIDs = core.AdapterRoomExcept, []string{"c1", "c2"}
			}
			msgs = append(msgs, m)
			sent++
		}
		msgs = append(msgs, roomMsg("other", "not for sub"))
		pos := appendOK(t, pub, opts, msgs...)
		for i, m := range msgs[:len(msgs)-1] {
			m.Pos = pos[i]
			want = append(want, m)
		}
	}
	require.Eventually(t, func() bool { return len(in.all()) >= n }, waitFor, 10*time.Millisecond)
	got := in.all()
	require.Len(t, got, n, "the room without interest is not received")
	assert.Equal(t, want, got)
	assert.Equal(t, wshubtest.Span(1, n), wshubtest.Offsets(got))
}

// The bytes the script stores and publishes are exactly wire.Append of the
// message with its position, for offsets whose varint takes 1, 2, 3 and 8
// bytes, and a room whose offsets reach 2^53 starts a new epoch.
func TestHistoryWireBytes(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	a := newAdapter(t, sharedAddr, prefix)
	dropHistoryOnCleanup(t, a, "r")
	raw := newClient(t, sharedAddr)
	ctx := context.Background()
	ps := raw.Subscribe(ctx, a.roomChannel("r"))
	t.Cleanup(func() { _ = ps.Close() })
	_, err := ps.Receive(ctx) // the subscription's confirmation
	require.NoError(t, err)
	stream, meta := a.historyKeys("r")

	msgs := []core.AdapterMessage{
		roomMsg("r", "plain"),
		{NodeID: "node-2", Type: core.AdapterRoomExcept, Room: "r", ExceptClientIDs: []string{"a", "b"}, MsgType: int(core.BinaryMessage), Data: []byte{0, 1, 2, 0xff}},
		{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: int(core.TextMessage), Seq: core.Sequence{Instance: 0x0102030405060708, Epoch: 3, Number: 300}},
	}
	tests := []struct {
		name string
		give uint64 // top seeded in the meta hash; 0: no meta hash
		want []uint64
	}{
		{name: "fresh", want: []uint64{1, 2, 3}},
		{name: "one to two varint bytes", give: 126, want: []uint64{127, 128, 129}},
		{name: "two to three varint bytes", give: 16382, want: []uint64{16383, 16384, 16385}},
		{name: "past 2^53 a new epoch", give: 1<<53 - 3, want: []uint64{1<<53 - 2, 1<<53 - 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, raw.Del(ctx, stream, meta).Err())
			if tt.give > 0 {
				require.NoError(t, raw.HSet(ctx, meta, "epoch", "seeded", "top", tt.give).Err())
			}
			pos := appendOK(t, a, core.History{Size: 10}, msgs...)
			for i, m := range msgs {
				require.Equal(t, tt.want[i], pos[i].Offset, "message %d", i)
				m.Pos = pos[i]
				want := wire.Append(nil, &m)

				id := fmt.Sprintf("%d-1", pos[i].Offset)
				pm, err := ps.ReceiveMessage(ctx)
				require.NoError(t, err)
				assert.Equal(t, string(want), pm.Payload, "published bytes of %s", id)
				if pos[i].Epoch != pos[len(pos)-1].Epoch {
					continue // the new epoch dropped the old stream
				}
				entries, err := raw.XRange(ctx, stream, id, id).Result()
				require.NoError(t, err)
				require.Len(t, entries, 1, "entry %s", id)
				stored, ok := entries[0].Values[entryField].(string)
				require.True(t, ok, "entry %s has field %q", id, entryField)
				assert.Equal(t, string(want), stored, "stored bytes of %s", id)
				decoded, err := wire.Decode([]byte(stored))
				require.NoError(t, err)
				assert.Equal(t, m, decoded)
			}
			if tt.give > 0 && tt.want[0] > 1 {
				assert.Equal(t, "seeded", pos[0].Epoch, "a seeded meta hash keeps its epoch")
			}
		})
	}
}

// HistoryQuery selects as core.MemoryHistory.Read does.
func TestHistoryQuery(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	dropHistoryOnCleanup(t, a, "r", "empty")
	mem := core.NewMemoryHistory()
	opts := core.History{Size: 100}
	for i := range 10 {
		m := roomMsg("r", strconv.Itoa(i+1))
		appendOK(t, a, opts, m)
		mem.Append(&m, opts)
	}
	epoch := readOK(t, a, "r", core.HistoryQuery{}).Epoch
	require.NotEmpty(t, epoch)

	tests := []struct {
		name string
		give core.HistoryQuery
		want []uint64
	}{
		{name: "all", want: wshubtest.Span(1, 10)},
		{name: "negative limit is all", give: core.HistoryQuery{Limit: -1}, want: wshubtest.Span(1, 10)},
		{name: "after", give: core.HistoryQuery{After: 4}, want: wshubtest.Span(5, 10)},
		{name: "limit", give: core.HistoryQuery{Limit: 3}, want: wshubtest.Span(1, 3)},
		{name: "after and limit", give: core.HistoryQuery{After: 4, Limit: 3}, want: wshubtest.Span(5, 7)},
		{name: "reverse", give: core.HistoryQuery{Reverse: true}, want: wshubtest.Span(10, 1)},
		{name: "reverse limit", give: core.HistoryQuery{Reverse: true, Limit: 3}, want: wshubtest.Span(10, 8)},
		{name: "reverse after", give: core.HistoryQuery{Reverse: true, After: 7}, want: wshubtest.Span(10, 8)},
		{name: "reverse after and limit", give: core.HistoryQuery{Reverse: true, After: 2, Limit: 2}, want: wshubtest.Span(10, 9)},
		{name: "after top", give: core.HistoryQuery{After: 10}},
		{name: "after far beyond", give: core.HistoryQuery{After: math.MaxUint64}},
		{name: "reverse after top", give: core.HistoryQuery{After: 10, Reverse: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := readOK(t, a, "r", tt.give)
			assert.Equal(t, epoch, got.Epoch)
			assert.Equal(t, uint64(1), got.First)
			assert.Equal(t, uint64(10), got.Top)
			assert.Equal(t, tt.want, wshubtest.Offsets(got.Messages))
			if tt.give.After == math.MaxUint64 {
				return // MemoryHistory's After+1 wraps to 0 there and returns all
			}
			ref := mem.Read("r", tt.give)
			require.Len(t, got.Messages, len(ref.Messages), "as MemoryHistory")
			for i := range ref.Messages {
				assert.Equal(t, ref.Messages[i].Pos.Offset, got.Messages[i].Pos.Offset)
				assert.Equal(t, ref.Messages[i].Data, got.Messages[i].Data)
				assert.Equal(t, epoch, got.Messages[i].Pos.Epoch)
			}
		})
	}
	t.Run("unknown room", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, core.HistoryPage{}, readOK(t, a, "empty", core.HistoryQuery{}))
	})
}

// History.Size bounds what is kept; changing it keeps the epoch, as
// core.MemoryHistory does.
func TestHistorySize(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	dropHistoryOnCleanup(t, a, "r")
	mem := core.NewMemoryHistory()
	add := func(n int, opts core.History) {
		for range n {
			m := roomMsg("r", "x")
			appendOK(t, a, opts, m)
			mem.Append(&m, opts)
		}
	}
	tests := []struct {
		name      string
		give      int // messages appended
		size      int
		wantFirst uint64
		wantTop   uint64
	}{
		{name: "size+5 keeps the newest size", give: 15, size: 10, wantFirst: 6, wantTop: 15},
		{name: "growing keeps what is there", give: 5, size: 20, wantFirst: 6, wantTop: 20},
		{name: "shrinking trims on the next append", give: 1, size: 3, wantFirst: 19, wantTop: 21},
	}
	var epoch string
	for _, tt := range tests { // in order: each step builds on the last
		add(tt.give, core.History{Size: tt.size})
		got := readOK(t, a, "r", core.HistoryQuery{})
		if epoch == "" {
			epoch = got.Epoch
		}
		assert.Equal(t, epoch, got.Epoch, tt.name)
		assert.Equal(t, tt.wantFirst, got.First, tt.name)
		assert.Equal(t, tt.wantTop, got.Top, tt.name)
		assert.Equal(t, wshubtest.Span(tt.wantFirst, tt.wantTop), wshubtest.Offsets(got.Messages), tt.name)
		ref := mem.Read("r", core.HistoryQuery{})
		assert.Equal(t, ref.First, got.First, tt.name+": as MemoryHistory")
		assert.Equal(t, ref.Top, got.Top, tt.name+": as MemoryHistory")
	}
}

// A room silent for its TTL keeps nothing, and its next message starts a
// new epoch at offset 1.
func TestHistoryTTL(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	dropHistoryOnCleanup(t, a, "r")
	opts := core.History{Size: 10, TTL: 500 * time.Millisecond}
	first := appendOK(t, a, opts, roomMsg("r", "1"), roomMsg("r", "2"), roomMsg("r", "3"))
	page := readOK(t, a, "r", core.HistoryQuery{})
	require.Equal(t, first[0].Epoch, page.Epoch)
	require.Len(t, page.Messages, 3)
	stream, meta := a.historyKeys("r")
	for _, k := range []string{stream, meta} {
		ttl, err := a.client.PTTL(context.Background(), k).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "%s expires", k)
		assert.LessOrEqual(t, ttl, opts.TTL, "%s expires", k)
	}

	require.Eventually(t, func() bool {
		page, err := a.ReadHistory(context.Background(), "r", opts, core.HistoryQuery{})
		return err == nil && page.Epoch == ""
	}, waitFor, 20*time.Millisecond, "the history expires")
	assert.Equal(t, core.HistoryPage{}, readOK(t, a, "r", core.HistoryQuery{}))

	again := appendOK(t, a, opts, roomMsg("r", "4"))
	assert.Equal(t, uint64(1), again[0].Offset)
	assert.NotEqual(t, first[0].Epoch, again[0].Epoch)

	// Without a TTL the keys of a room that had one no longer expire.
	appendOK(t, a, core.History{Size: 10}, roomMsg("r", "5"))
	for _, k := range []string{stream, meta} {
		ttl, err := a.client.PTTL(context.Background(), k).Result()
		require.NoError(t, err)
		assert.Equal(t, time.Duration(-1), ttl, "%s has no expiry", k)
	}
}

func TestHistoryErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := core.History{Size: 10}

	t.Run("items that are not history messages", func(t *testing.T) {
		t.Parallel()
		a := newAdapter(t, sharedAddr, uniquePrefix(t))
		dropHistoryOnCleanup(t, a, "r")
		stale := roomMsg("r", "ok1")
		stale.Pos = core.Position{Epoch: "stale", Offset: 99} // replaced, not encoded twice
		batch := []core.HistoryAppend{
			{Msg: stale, Options: opts},
			{Msg: core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast, Data: []byte("b")}, Options: opts},
			{Msg: roomMsg("", "no room"), Options: opts},
			{Msg: roomMsg("r", "no history"), Options: core.History{}},
			{Msg: roomMsg("r", "ok2"), Options: opts},
		}
		a.AppendHistory(ctx, batch)
		wantErr := []error{nil, ErrNotRoomMessage, core.ErrEmptyRoomName, core.ErrNoHistory, nil}
		for i, it := range batch {
			if wantErr[i] == nil {
				require.NoError(t, it.Err, "item %d", i)
				continue
			}
			require.ErrorIs(t, it.Err, wantErr[i], "item %d", i)
			assert.Zero(t, it.Msg.Pos, "item %d", i)
		}
		assert.Equal(t, []uint64{1, 2}, []uint64{batch[0].Msg.Pos.Offset, batch[4].Msg.Pos.Offset})
		assert.NotEqual(t, "stale", batch[0].Msg.Pos.Epoch)
		assert.Equal(t, []string{"ok1", "ok2"}, payloads(readOK(t, a, "r", core.HistoryQuery{}).Messages))
		_, err := a.ReadHistory(ctx, "", opts, core.HistoryQuery{})
		require.ErrorIs(t, err, core.ErrEmptyRoomName)
		a.AppendHistory(ctx, nil) // nothing to do, must not block or panic
	})

	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		a := newAdapter(t, sharedAddr, uniquePrefix(t))
		dropHistoryOnCleanup(t, a, "r")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		batch := []core.HistoryAppend{{Msg: roomMsg("r", "x"), Options: opts}}
		a.AppendHistory(cctx, batch)
		require.ErrorIs(t, batch[0].Err, context.Canceled)
		_, err := a.ReadHistory(cctx, "r", opts, core.HistoryQuery{})
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, core.HistoryPage{}, readOK(t, a, "r", core.HistoryQuery{}), "nothing stored")
	})

	t.Run("after Close", func(t *testing.T) {
		t.Parallel()
		a := newAdapter(t, sharedAddr, uniquePrefix(t))
		require.NoError(t, a.Close())
		batch := []core.HistoryAppend{{Msg: roomMsg("r", "x"), Options: opts}, {Msg: roomMsg("s", "y"), Options: opts}}
		a.AppendHistory(ctx, batch)
		for _, it := range batch {
			require.ErrorIs(t, it.Err, core.ErrAdapterClosed)
		}
		_, err := a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
		require.ErrorIs(t, err, core.ErrAdapterClosed)
	})

	t.Run("link down", func(t *testing.T) {
		t.Parallel()
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens there
		a := newAdapter(t, addr, uniquePrefix(t))
		require.NoError(t, a.Subscribe(core.WithRoomInterest(ctx), func(core.AdapterMessage) {}))
		require.Eventually(t, func() bool { return !a.Connected() }, waitFor, 10*time.Millisecond)
		batch := []core.HistoryAppend{{Msg: roomMsg("r", "x"), Options: opts}}
		a.AppendHistory(ctx, batch)
		require.ErrorIs(t, batch[0].Err, ErrNotConnected)
	})
}

// A Redis that restarts empty loses the histories: the next append, once
// the adapter has reconnected, starts a new epoch at offset 1. Redis also
// forgot the script, so it is sent again, and a batch keeps its order.
func TestHistoryBrokerRestart(t *testing.T) {
	srv := newRedisServer(t) // registered first: killed after the clients close
	srv.start()
	a := newAdapter(t, srv.addr(), uniquePrefix(t))
	var errs errorLog
	a.SetErrorReporter(errs.report)
	var in inbox
	a.SetRoomInterest("r", true)
	require.NoError(t, a.Subscribe(core.WithRoomInterest(context.Background()), in.handle))
	waitHealthy(t, a)
	opts := core.History{Size: 100}
	before := appendOK(t, a, opts, roomMsg("r", "1"), roomMsg("r", "2"), roomMsg("r", "3"))
	require.Equal(t, uint64(3), before[2].Offset)

	srv.stop()
	require.Eventually(t, func() bool { return !a.Connected() }, waitFor, 10*time.Millisecond)
	srv.start()

	// Retry until the adapter is back; each attempt stores nothing or all.
	var after []core.Position
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		batch := []core.HistoryAppend{
			{Msg: roomMsg("r", "a"), Options: opts},
			{Msg: roomMsg("r", "b"), Options: opts},
			{Msg: roomMsg("r", "c"), Options: opts},
		}
		a.AppendHistory(ctx, batch)
		after = after[:0]
		for _, it := range batch {
			if it.Err != nil {
				return false
			}
			after = append(after, it.Msg.Pos)
		}
		return true
	}, waitFor, 50*time.Millisecond, "appends resume after the restart")
	assert.NotEqual(t, before[0].Epoch, after[0].Epoch, "a new epoch")
	assert.Equal(t, []uint64{1, 2, 3}, []uint64{after[0].Offset, after[1].Offset, after[2].Offset})
	page := readOK(t, a, "r", core.HistoryQuery{})
	assert.Equal(t, after[0].Epoch, page.Epoch)
	assert.Equal(t, uint64(1), page.First)
	assert.Equal(t, []string{"a", "b", "c"}, payloads(page.Messages))

	// Redis forgets the script (SCRIPT FLUSH): the whole batch is sent
	// again by source, in order.
	raw := newClient(t, srv.addr())
	require.NoError(t, raw.ScriptFlush(context.Background()).Err())
	evals := evalCalls(t, raw)
	flushed := appendOK(t, a, opts, roomMsg("r", "d"), roomMsg("r", "e"))
	assert.Equal(t, []uint64{4, 5}, []uint64{flushed[0].Offset, flushed[1].Offset})
	assert.Equal(t, evals+2, evalCalls(t, raw), "each script sent again with EVAL")

	// The subscriber receives the new epoch's messages once the
	// subscription is back (the first batch may have gone out before it).
	require.Eventually(t, func() bool { return in.has("e") }, waitFor, 10*time.Millisecond)
	got := in.all()
	assert.Equal(t, flushed[1], got[len(got)-1].Pos)
}

// evalCalls returns how many EVAL commands the server of c has run.
func evalCalls(t *testing.T, c *goredis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	for line := range strings.Lines(info) {
		if rest, ok := strings.CutPrefix(line, "cmdstat_eval:calls="); ok {
			calls, _, _ := strings.Cut(rest, ",")
			n, err := strconv.Atoi(calls)
			require.NoError(t, err)
			return n
		}
	}
	return 0
}

// payloads lists the Data of msgs as strings.
func payloads(msgs []core.AdapterMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Data))
	}
	return out
}

// A stored entry that does not decode is skipped and reported, never a
// panic; keys changed behind the adapter's back start a new epoch instead
// of failing every append.
func TestHistoryMalformedEntries(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	dropHistoryOnCleanup(t, a, "r")
	var errs errorLog
	a.SetErrorReporter(errs.report)
	opts := core.History{Size: 100}
	ctx := context.Background()
	stream, meta := a.historyKeys("r")
	appendOK(t, a, opts, roomMsg("r", "1"), roomMsg("r", "2"))

	good := wire.Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", Data: []byte("ok")})
	newer := append([]byte{wire.Version + 1}, good[1:]...)
	for _, e := range []struct {
		id     string
		values []any
	}{
		{id: "3-1", values: []any{entryField, []byte{1, 99}}},
		{id: "4-1", values: []any{entryField, newer}},
		{id: "5-1", values: []any{"other", "field"}},
		{id: "6-1", values: []any{entryField, good[:len(good)-1]}},
		{id: "7-1", values: []any{entryField, wire.Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "elsewhere"})}},
		{id: "8-1", values: []any{entryField, wire.Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast})}},
	} {
		require.NoError(t, a.client.XAdd(ctx, &goredis.XAddArgs{Stream: stream, ID: e.id, Values: e.values}).Err())
	}
	require.NoError(t, a.client.HSet(ctx, meta, "top", 8).Err())
	appendOK(t, a, opts, roomMsg("r", "9"))

	page := readOK(t, a, "r", core.HistoryQuery{})
	assert.Equal(t, []uint64{1, 2, 9}, wshubtest.Offsets(page.Messages))
	assert.Equal(t, []string{"1", "2", "9"}, payloads(page.Messages))
	assert.Equal(t, uint64(1), page.First)
	assert.Equal(t, uint64(9), page.Top)
	assert.Equal(t, []string{"decode", "version", "decode", "decode", "decode", "decode"}, errs.ops())
	require.ErrorIs(t, errs.first(), wire.ErrMalformed)

	// A meta hash behind its stream: the stream refuses the next offset.
	require.NoError(t, a.client.HSet(ctx, meta, "top", 2).Err())
	healed := appendOK(t, a, opts, roomMsg("r", "a"))
	assert.Equal(t, uint64(1), healed[0].Offset)
	assert.NotEqual(t, page.Epoch, healed[0].Epoch)
	// A stream key that is not a stream.
	require.NoError(t, a.client.Del(ctx, stream).Err())
	require.NoError(t, a.client.Set(ctx, stream, "not a stream", 0).Err())
	healed = appendOK(t, a, opts, roomMsg("r", "b"))
	assert.Equal(t, uint64(1), healed[0].Offset)
	// A meta hash without a usable top: the stream left behind is dropped.
	require.NoError(t, a.client.HSet(ctx, meta, "top", "0x10").Err())
	assert.Equal(t, core.HistoryPage{}, readOK(t, a, "r", core.HistoryQuery{}))
	healed = appendOK(t, a, opts, roomMsg("r", "c"))
	assert.Equal(t, uint64(1), healed[0].Offset)
	assert.Equal(t, []string{"c"}, payloads(readOK(t, a, "r", core.HistoryQuery{}).Messages))
}

// FuzzHistoryEntry feeds arbitrary stream entries, as anything with write
// access to Redis could leave them, to the step ReadHistory decodes them
// with: it must never panic, and accept exactly the entries whose ID
// carries an offset and whose field holds a wire message.
//
//	go test -run '^$' -fuzz FuzzHistoryEntry -fuzztime 30s ./adapters/redis/
func FuzzHistoryEntry(f *testing.F) {
	good := wire.Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("hi")})
	f.Add("1-1", good, true)
	f.Add("18446744073709551615-1", good, true)
	f.Add("0-1", good, true)
	f.Add("x", []byte{}, true)
	f.Add("3-1", good, false)
	f.Add("5-1", []byte{2, 3, 1, 1, 'n', 1, 'r', 1, 0, 2, 2, 5, 'e'}, true)
	f.Fuzz(func(t *testing.T, id string, value []byte, hasField bool) {
		e := goredis.XMessage{ID: id, Values: map[string]any{"other": "x"}}
		if hasField {
			e.Values[entryField] = string(value)
		}
		m, err := decodeEntry(e, "r", "epoch")
		off, idErr := entryOffset(id)
		decoded, decErr := wire.Decode(value)
		isRoom := (decoded.Type == core.AdapterRoom || decoded.Type == core.AdapterRoomExcept) && decoded.Room == "r"
		if wantOK := idErr == nil && hasField && decErr == nil && isRoom; (err == nil) != wantOK {
			t.Fatalf("entry %q %x (field %v): error %v, want ok %v", id, value, hasField, err, wantOK)
		}
		if err != nil {
			return
		}
		decoded.Pos = core.Position{Epoch: "epoch", Offset: off}
		if !assert.ObjectsAreEqual(decoded, m) {
			t.Fatalf("entry %q: got %+v, want %+v", id, m, decoded)
		}
	})
}
