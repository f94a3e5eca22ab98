package nats

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
	"github.com/wshub/wshub/wshubtest"
)

// historyMsg is a room message for AppendHistory.
func historyMsg(room, data string) core.AdapterMessage {
	return core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: room, MsgType: 1, Data: []byte(data)}
}

// appendOne appends m to its room's history and returns its position.
func appendOne(ctx context.Context, a *Adapter, opts core.History, m core.AdapterMessage) (core.Position, error) {
	batch := []core.HistoryAppend{{Msg: m, Options: opts}}
	a.AppendHistory(ctx, batch)
	return batch[0].Msg.Pos, batch[0].Err
}

// mustAppend appends messages data... to room and returns their positions.
func mustAppend(t *testing.T, a *Adapter, opts core.History, room string, data ...string) []core.Position {
	t.Helper()
	batch := make([]core.HistoryAppend, len(data))
	for i, d := range data {
		batch[i] = core.HistoryAppend{Msg: historyMsg(room, d), Options: opts}
	}
	a.AppendHistory(context.Background(), batch)
	out := make([]core.Position, len(batch))
	for i, it := range batch {
		require.NoError(t, it.Err, "append %q", data[i])
		out[i] = it.Msg.Pos
	}
	return out
}

// dropStreams deletes the streams of opts when the test ends (before the
// connections close), so the shared broker does not keep them.
func dropStreams(t testing.TB, a *Adapter, opts ...core.History) {
	t.Helper()
	t.Cleanup(func() {
		js, err := jetstream.New(a.nc)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		for _, o := range opts {
			name := a.subj.historyStream(historyKeyOf(o))
			if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete stream %s: %v", name, err)
			}
		}
	})
}

func TestHistoryAppendRead(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	opts := core.History{Size: 10}
	dropStreams(t, a, opts)
	ctx := context.Background()

	page, err := a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, core.HistoryPage{}, page, "no stream yet")

	pos := mustAppend(t, a, opts, "r", "a", "b", "c")
	require.NotEmpty(t, pos[0].Epoch)
	for i, p := range pos {
		assert.Equal(t, core.Position{Epoch: pos[0].Epoch, Offset: uint64(i + 1)}, p)
	}
	page, err = a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, pos[0].Epoch, page.Epoch)
	assert.Equal(t, uint64(1), page.First)
	assert.Equal(t, uint64(3), page.Top)
	require.Len(t, page.Messages, 3)
	for i, m := range page.Messages {
		want := historyMsg("r", string(rune('a'+i)))
		want.Pos = pos[i]
		assert.Equal(t, want, m)
	}

	page, err = a.ReadHistory(ctx, "other room", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, core.HistoryPage{}, page, "room without messages")
}

// TestHistoryQuery checks After, Limit and Reverse against a room trimmed
// to Size, and a longer room whose messages are interleaved with another
// room's in the stream (reads that seek, fetch one by one and consume).
func TestHistoryQuery(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	small, big := core.History{Size: 10}, core.History{Size: 100}
	dropStreams(t, a, small, big)

	for i := range 15 {
		mustAppend(t, a, small, "small", fmt.Sprint("s", i+1))
	}
	for i := range 80 {
		mustAppend(t, a, big, "big", fmt.Sprint("b", i+1))
		mustAppend(t, a, big, "noise", "x", "y") // same stream, other subject
	}

	tests := []struct {
		name  string
		room  string
		opts  core.History
		give  core.HistoryQuery
		first uint64
		top   uint64
		want  []uint64
	}{
		{"all kept", "small", small, core.HistoryQuery{}, 6, 15, wshubtest.Span(6, 15)},
		{"after", "small", small, core.HistoryQuery{After: 10}, 6, 15, wshubtest.Span(11, 15)},
		{"after below first", "small", small, core.HistoryQuery{After: 2}, 6, 15, wshubtest.Span(6, 15)},
		{"limit", "small", small, core.HistoryQuery{Limit: 3}, 6, 15, wshubtest.Span(6, 8)},
		{"after and limit", "small", small, core.HistoryQuery{After: 8, Limit: 3}, 6, 15, wshubtest.Span(9, 11)},
		{"reverse", "small", small, core.HistoryQuery{Reverse: true}, 6, 15, wshubtest.Span(15, 6)},
		{"reverse limit", "small", small, core.HistoryQuery{Reverse: true, Limit: 3}, 6, 15, wshubtest.Span(15, 13)},
		{"reverse after", "small", small, core.HistoryQuery{Reverse: true, After: 12}, 6, 15, wshubtest.Span(15, 13)},
		{"reverse after limit", "small", small, core.HistoryQuery{Reverse: true, After: 12, Limit: 2}, 6, 15, wshubtest.Span(15, 14)},
		{"after top", "small", small, core.HistoryQuery{After: 15}, 6, 15, nil},
		{"after beyond top", "small", small, core.HistoryQuery{After: 100}, 6, 15, nil},
		{"after max", "small", small, core.HistoryQuery{After: math.MaxUint64}, 6, 15, nil},
		{"long all", "big", big, core.HistoryQuery{}, 1, 80, wshubtest.Span(1, 80)},
		{"long middle", "big", big, core.HistoryQuery{After: 30, Limit: 20}, 1, 80, wshubtest.Span(31, 50)},
		{"long middle short", "big", big, core.HistoryQuery{After: 41, Limit: 5}, 1, 80, wshubtest.Span(42, 46)},
		{"long one", "big", big, core.HistoryQuery{After: 5, Limit: 1}, 1, 80, []uint64{6}},
		{"long tail", "big", big, core.HistoryQuery{After: 70}, 1, 80, wshubtest.Span(71, 80)},
		{"long reverse", "big", big, core.HistoryQuery{Reverse: true, Limit: 40}, 1, 80, wshubtest.Span(80, 41)},
		{"long reverse after", "big", big, core.HistoryQuery{Reverse: true, After: 77}, 1, 80, wshubtest.Span(80, 78)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, err := a.ReadHistory(context.Background(), tt.room, tt.opts, tt.give)
			require.NoError(t, err)
			assert.NotEmpty(t, page.Epoch)
			assert.Equal(t, tt.first, page.First, "first")
			assert.Equal(t, tt.top, page.Top, "top")
			assert.Equal(t, tt.want, wshubtest.Offsets(page.Messages))
			for _, m := range page.Messages {
				assert.Equal(t, page.Epoch, m.Pos.Epoch)
				assert.Equal(t, tt.room[:1]+strconv.FormatUint(m.Pos.Offset, 10), string(m.Data))
				assert.Equal(t, tt.room, m.Room)
			}
		})
	}
}

// roomListener returns a collector of a new adapter, on its own connection,
// subscribed to room and known to receive it.
func roomListener(t *testing.T, url, prefix, room string) *collector {
	t.Helper()
	l := newAdapter(t, connect(t, url), prefix)
	l.SetRoomInterest(room, true)
	got := subscribe(t, l)
	waitHealthy(t, l)
	probe := newAdapter(t, connect(t, url), prefix)
	require.Eventually(t, func() bool {
		assert.NoError(t, probe.Publish(context.Background(), historyMsg(room, "probe")))
		return got.has(withData("probe"))
	}, waitFor, 20*time.Millisecond, "room subscription not in place")
	return got
}

// positioned returns the messages of room that got carry a position, in
// the order they arrived.
func positioned(got *collector, room string) []core.AdapterMessage {
	var out []core.AdapterMessage
	for _, m := range got.snapshot() {
		if m.Room == room && !m.Pos.IsZero() {
			out = append(out, m)
		}
	}
	return out
}

// TestHistoryContention: three nodes, each on its own connection, append
// to one room at once. Offsets stay contiguous and unique, every message
// is stored once at the position AppendHistory returned, and a listening
// node receives them all live, with their positions, each node's in offset
// order (the nodes' publishes after their acknowledgements race each other,
// so messages of different nodes may arrive in another order).
func TestHistoryContention(t *testing.T) {
	t.Parallel()
	const (
		room    = "contended"
		nodes   = 3
		perNode = 200
	)
	prefix := testPrefix()
	opts := core.History{Size: 1000}
	live := roomListener(t, sharedURL, prefix, room)

	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		pos = make(map[string]core.Position) // by Data
	)
	for n := range nodes {
		a := newAdapter(t, connect(t, sharedURL), prefix)
		if n == 0 {
			dropStreams(t, a, opts)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			batchLen := n + 1 // 1, 2 and 3 messages per call
			for i := 0; i < perNode; i += batchLen {
				var batch []core.HistoryAppend
				for j := i; j < min(i+batchLen, perNode); j++ {
					batch = append(batch, core.HistoryAppend{Msg: historyMsg(room, fmt.Sprint(n, "/", j)), Options: opts})
				}
				a.AppendHistory(context.Background(), batch)
				mu.Lock()
				for _, it := range batch {
					if assert.NoError(t, it.Err) {
						pos[string(it.Msg.Data)] = it.Msg.Pos
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, pos, nodes*perNode)

	page, err := newAdapter(t, connect(t, sharedURL), prefix).ReadHistory(context.Background(), room, opts, core.HistoryQuery{})
	require.NoError(t, err)
	require.Equal(t, wshubtest.Span(1, nodes*perNode), wshubtest.Offsets(page.Messages))
	assert.Equal(t, uint64(1), page.First)
	assert.Equal(t, uint64(nodes*perNode), page.Top)
	for _, m := range page.Messages {
		assert.Equal(t, page.Epoch, m.Pos.Epoch)
		assert.Equal(t, pos[string(m.Data)], m.Pos, "message %q stored at another position than returned", m.Data)
	}

	require.Eventually(t, func() bool { return len(positioned(live, room)) >= nodes*perNode },
		waitFor, tick, "live delivery incomplete")
	got := positioned(live, room)
	require.Len(t, got, nodes*perNode)
	lastOf := make(map[string]uint64) // by node
	inversions := 0
	for i, m := range got {
		assert.Equal(t, pos[string(m.Data)], m.Pos)
		node, _, _ := strings.Cut(string(m.Data), "/")
		assert.Greater(t, m.Pos.Offset, lastOf[node], "node %s: live messages out of order", node)
		lastOf[node] = m.Pos.Offset
		if i > 0 && m.Pos.Offset < got[i-1].Pos.Offset {
			inversions++
		}
	}
	t.Logf("live: %d of %d messages arrived after a higher offset of another node", inversions, len(got))
}

// TestHistoryLive: a node's appended messages reach a listening node with
// their positions, in offset order; a message that was not stored reaches
// no node.
func TestHistoryLive(t *testing.T) {
	t.Parallel()
	const room = "live"
	prefix := testPrefix()
	opts := core.History{Size: 50}
	live := roomListener(t, sharedURL, prefix, room)
	a := newAdapter(t, connect(t, sharedURL), prefix)
	dropStreams(t, a, opts)

	var want []core.AdapterMessage
	for i := 0; i < 200; {
		var data []string
		for j := range 1 + i%4 {
			data = append(data, fmt.Sprint("m", i+j))
		}
		for k, p := range mustAppend(t, a, opts, room, data...) {
			m := historyMsg(room, data[k])
			m.Pos = p
			want = append(want, m)
		}
		i += len(data)
	}

	// Too large for the broker: not stored, not published.
	_, err := appendOne(context.Background(), a, opts, historyMsg(room, strings.Repeat("x", int(a.nc.MaxPayload())+1)))
	require.ErrorIs(t, err, natsgo.ErrMaxPayload)
	end := mustAppend(t, a, opts, room, "end")
	assert.Equal(t, want[len(want)-1].Pos.Offset+1, end[0].Offset, "the failed message took no offset")
	endMsg := historyMsg(room, "end")
	endMsg.Pos = end[0]
	want = append(want, endMsg)

	require.Eventually(t, func() bool { return live.has(withData("end")) }, waitFor, tick)
	assert.Equal(t, want, positioned(live, room))
}

// TestHistoryTTL: a room silent for its TTL keeps nothing, and its next
// message starts a new epoch at offset 1.
func TestHistoryTTL(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	opts := core.History{Size: 10, TTL: 200 * time.Millisecond}
	dropStreams(t, a, opts)
	ctx := context.Background()

	old := mustAppend(t, a, opts, "r", "a", "b", "c")
	require.Eventually(t, func() bool {
		page, err := a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
		return assert.NoError(t, err) && page.Epoch == ""
	}, waitFor, 20*time.Millisecond, "history never expired")

	pos := mustAppend(t, a, opts, "r", "d")
	assert.NotEqual(t, old[0].Epoch, pos[0].Epoch, "an expired room starts a new epoch")
	assert.Equal(t, uint64(1), pos[0].Offset)
	page, err := a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, pos[0].Epoch, page.Epoch)
	assert.Equal(t, []uint64{1}, wshubtest.Offsets(page.Messages))
}

func TestHistoryTTLBelowJetStreamMinimum(t *testing.T) {
	t.Parallel()
	assert.Equal(t, historyKey{size: 5, ttlMS: 100}, historyKeyOf(core.History{Size: 5, TTL: time.Millisecond}))
	assert.Equal(t, historyKey{size: 5}, historyKeyOf(core.History{Size: 5, TTL: -time.Second}))
	assert.Equal(t, historyKey{size: 5, ttlMS: 1500}, historyKeyOf(core.History{Size: 5, TTL: 1500 * time.Millisecond}))
}

func TestHistoryErrors(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	opts := core.History{Size: 3}
	dropStreams(t, a, opts)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name      string
		cancelled bool // the ctx is done
		give      core.HistoryAppend
		want      error
	}{
		{"ok", false, core.HistoryAppend{Msg: historyMsg("r", "ok"), Options: opts}, nil},
		{"not a room message", false, core.HistoryAppend{Msg: core.AdapterMessage{Type: core.AdapterBroadcast}, Options: opts}, ErrNotRoomMessage},
		{"no room", false, core.HistoryAppend{Msg: historyMsg("", "x"), Options: opts}, core.ErrEmptyRoomName},
		{"no history", false, core.HistoryAppend{Msg: historyMsg("r", "x")}, core.ErrNoHistory},
		{"ctx done", true, core.HistoryAppend{Msg: historyMsg("r", "x"), Options: opts}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.cancelled {
				ctx = cancelled
			}
			pos, err := appendOne(ctx, a, tt.give.Options, tt.give.Msg)
			if tt.want == nil {
				require.NoError(t, err)
				assert.False(t, pos.IsZero())
				return
			}
			require.ErrorIs(t, err, tt.want)
			assert.True(t, pos.IsZero(), "a failed message has no position")
		})
	}

	// A failed message does not stop the rest of the batch.
	batch := []core.HistoryAppend{
		{Msg: historyMsg("r", "1"), Options: opts},
		{Msg: historyMsg("", "bad"), Options: opts},
		{Msg: historyMsg("r", "2"), Options: opts},
	}
	a.AppendHistory(context.Background(), batch)
	require.NoError(t, batch[0].Err)
	require.ErrorIs(t, batch[1].Err, core.ErrEmptyRoomName)
	require.NoError(t, batch[2].Err)
	assert.Equal(t, batch[0].Msg.Pos.Offset+1, batch[2].Msg.Pos.Offset)

	_, err := a.ReadHistory(context.Background(), "", opts, core.HistoryQuery{})
	require.ErrorIs(t, err, core.ErrEmptyRoomName)
	_, err = a.ReadHistory(context.Background(), "r", core.History{}, core.HistoryQuery{})
	require.ErrorIs(t, err, core.ErrNoHistory)
	_, err = a.ReadHistory(cancelled, "r", opts, core.HistoryQuery{})
	require.ErrorIs(t, err, context.Canceled)

	closed := newAdapter(t, connect(t, sharedURL), testPrefix())
	require.NoError(t, closed.Close())
	_, err = appendOne(context.Background(), closed, opts, historyMsg("r", "x"))
	require.ErrorIs(t, err, core.ErrAdapterClosed)
	_, err = closed.ReadHistory(context.Background(), "r", opts, core.HistoryQuery{})
	require.ErrorIs(t, err, core.ErrAdapterClosed)
}

// TestHistoryExpectNoMessage: the server honours an expected last subject
// sequence of 0 as "the subject has no message", which is what keeps two
// nodes from starting a room's epoch at once.
func TestHistoryExpectNoMessage(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	opts := core.History{Size: 3}
	dropStreams(t, a, opts)
	ctx := context.Background()
	st := a.hist.stream(historyKeyOf(opts))
	require.NoError(t, a.hist.ensure(ctx, st))
	subj := tokenSubject(st.base, "r")
	pos := core.Position{Epoch: "e", Offset: 1}

	ack, err := a.hist.publish(ctx, subj, []byte("first"), "id1", 0, pos)
	require.NoError(t, err)
	_, err = a.hist.publish(ctx, subj, []byte("second"), "id2", 0, pos)
	require.True(t, isWrongLast(err), "a second start of the subject must be refused, got %v", err)

	// The header went out, 0 included.
	js, err := jetstream.New(a.nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx, st.name)
	require.NoError(t, err)
	raw, err := s.GetMsg(ctx, ack.Sequence)
	require.NoError(t, err)
	assert.Equal(t, "0", raw.Header.Get(jetstream.ExpectedLastSubjSeqHeader))

	_, err = a.hist.publish(ctx, subj, []byte("second"), "id2", ack.Sequence, core.Position{Epoch: "e", Offset: 2})
	require.NoError(t, err)
}

// TestHistoryStreamLost: a stream deleted behind the adapters' back is
// created again and the room starts a new epoch; a node whose idea of the
// room is stale catches up.
func TestHistoryStreamLost(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	a := newAdapter(t, connect(t, sharedURL), prefix)
	b := newAdapter(t, connect(t, sharedURL), prefix)
	opts := core.History{Size: 10}
	dropStreams(t, a, opts)
	ctx := context.Background()

	old := mustAppend(t, a, opts, "r", "a", "b")
	mustAppend(t, b, opts, "r", "c")
	js, err := jetstream.New(a.nc)
	require.NoError(t, err)
	require.NoError(t, js.DeleteStream(ctx, a.subj.historyStream(historyKeyOf(opts))))

	page, err := a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, core.HistoryPage{}, page, "no stream, no history")

	pos := mustAppend(t, a, opts, "r", "d")
	assert.NotEqual(t, old[0].Epoch, pos[0].Epoch)
	assert.Equal(t, uint64(1), pos[0].Offset)
	next := mustAppend(t, b, opts, "r", "e")
	assert.Equal(t, core.Position{Epoch: pos[0].Epoch, Offset: 2}, next[0])

	page, err = a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2}, wshubtest.Offsets(page.Messages))
}

// TestHistoryMalformed: a stored message that does not decode is skipped
// and reported; a message without a position (not written by an adapter)
// makes the room start a new epoch.
func TestHistoryMalformed(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	var errs errorLog
	a.SetErrorReporter(errs.report)
	opts := core.History{Size: 10}
	dropStreams(t, a, opts)
	ctx := context.Background()
	st := a.hist.stream(historyKeyOf(opts))
	subj := tokenSubject(st.base, "r")

	pos := mustAppend(t, a, opts, "r", "a", "b")
	last, err := a.hist.get(ctx, st.name, msgGetRequest{LastFor: subj})
	require.NoError(t, err)
	_, err = a.hist.publish(ctx, subj, []byte{1, 0xee}, "garbage", last.seq, core.Position{Epoch: pos[0].Epoch, Offset: 3})
	require.NoError(t, err)
	after := mustAppend(t, a, opts, "r", "d")
	assert.Equal(t, core.Position{Epoch: pos[0].Epoch, Offset: 4}, after[0])

	page, err := a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2, 4}, wshubtest.Offsets(page.Messages))
	assert.Equal(t, uint64(4), page.Top)
	require.Len(t, errs.ops("decode"), 1)
	require.ErrorIs(t, errs.ops("decode")[0], wire.ErrMalformed)

	// A foreign message, without the position headers.
	js, err := jetstream.New(a.nc)
	require.NoError(t, err)
	_, err = js.Publish(ctx, subj, wire.Append(nil, &core.AdapterMessage{Type: core.AdapterRoom, Room: "r", Data: []byte("foreign")}))
	require.NoError(t, err)
	page, err = a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, core.HistoryPage{}, page, "no usable history")
	fresh := mustAppend(t, a, opts, "r", "e")
	assert.NotEqual(t, pos[0].Epoch, fresh[0].Epoch)
	assert.Equal(t, uint64(1), fresh[0].Offset)
	page, err = a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, fresh[0].Epoch, page.Epoch)
	assert.Equal(t, uint64(1), page.First)
	assert.Equal(t, []uint64{1}, wshubtest.Offsets(page.Messages))
	assert.Len(t, errs.ops("decode"), 3, "the malformed message once, the foreign one by read and append")
}

// TestHistoryBrokerRestart: a private server with file storage is killed
// and started again on the same store; the history survives, with the same
// epoch, and appends continue where they stopped.
func TestHistoryBrokerRestart(t *testing.T) {
	srv := newNATSServer(t)
	srv.args = []string{"-js", "-sd", t.TempDir()}
	srv.start(t)
	a := newAdapter(t, connect(t, srv.url(), faultConnOptions()...), testPrefix())
	opts := core.History{Size: 100}
	ctx := context.Background()

	var data []string
	for i := range 20 {
		data = append(data, fmt.Sprint("m", i+1))
	}
	pos := mustAppend(t, a, opts, "r", data...)
	before, err := a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	require.Equal(t, wshubtest.Span(1, 20), wshubtest.Offsets(before.Messages))

	srv.kill(t)
	srv.start(t)
	var after core.HistoryPage
	require.Eventually(t, func() bool {
		after, err = a.ReadHistory(ctx, "r", opts, core.HistoryQuery{})
		return err == nil && after.Top > 0
	}, waitFor, 20*time.Millisecond, "history not readable after the restart: %v", err)
	assert.Equal(t, before, after)

	next := mustAppend(t, a, opts, "r", "m21")
	assert.Equal(t, core.Position{Epoch: pos[0].Epoch, Offset: 21}, next[0])
}

// TestHistoryWithoutJetStream: on a broker without JetStream, appends fail
// at once with JetStream's error and reach no node.
func TestHistoryWithoutJetStream(t *testing.T) {
	srv := newNATSServer(t)
	srv.start(t)
	prefix := testPrefix()
	const room = "r"
	live := roomListener(t, srv.url(), prefix, room)
	a := newAdapter(t, connect(t, srv.url()), prefix)
	opts := core.History{Size: 10}

	start := time.Now()
	_, err := appendOne(context.Background(), a, opts, historyMsg(room, "lost"))
	require.ErrorIs(t, err, jetstream.ErrJetStreamNotEnabled)
	assert.Less(t, time.Since(start), time.Second, "not retried as if it could pass")
	_, err = a.ReadHistory(context.Background(), room, opts, core.HistoryQuery{})
	require.ErrorIs(t, err, jetstream.ErrJetStreamNotEnabled)

	require.NoError(t, a.Publish(context.Background(), historyMsg(room, "marker")))
	require.Eventually(t, func() bool { return live.has(withData("marker")) }, waitFor, tick)
	assert.False(t, live.has(withData("lost")))
}

// TestHistoryReadConsumerGone: a read long enough to take a consumer
// leaves none behind.
func TestHistoryReadConsumerGone(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	opts := core.History{Size: 100}
	dropStreams(t, a, opts)
	var data []string
	for i := range 3 * maxGetRead {
		data = append(data, fmt.Sprint(i))
	}
	mustAppend(t, a, opts, "r", data...)
	page, err := a.ReadHistory(context.Background(), "r", opts, core.HistoryQuery{})
	require.NoError(t, err)
	require.Len(t, page.Messages, len(data))

	js, err := jetstream.New(a.nc)
	require.NoError(t, err)
	s, err := js.Stream(context.Background(), a.subj.historyStream(historyKeyOf(opts)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := s.Info(context.Background())
		return assert.NoError(t, err) && info.State.Consumers == 0
	}, readerIdle/2, 20*time.Millisecond, "read consumer not deleted (before JetStream would remove it as idle)")
}
