package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
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

// offsets returns the offsets of msgs.
func offsets(msgs []core.AdapterMessage) []uint64 {
	var out []uint64
	for _, m := range msgs {
		out = append(out, m.Pos.Offset)
	}
	return out
}

// span returns from, from+1, ..., to (descending when to < from).
func span(from, to uint64) []uint64 {
	var out []uint64
	if from <= to {
		for o := from; o <= to; o++ {
			out = append(out, o)
		}
		return out
	}
	for o := from; o >= to; o-- {
		out = append(out, o)
	}
	return out
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
		{"all kept", "small", small, core.HistoryQuery{}, 6, 15, span(6, 15)},
		{"after", "small", small, core.HistoryQuery{After: 10}, 6, 15, span(11, 15)},
		{"after below first", "small", small, core.HistoryQuery{After: 2}, 6, 15, span(6, 15)},
		{"limit", "small", small, core.HistoryQuery{Limit: 3}, 6, 15, span(6, 8)},
		{"after and limit", "small", small, core.HistoryQuery{After: 8, Limit: 3}, 6, 15, span(9, 11)},
		{"reverse", "small", small, core.HistoryQuery{Reverse: true}, 6, 15, span(15, 6)},
		{"reverse limit", "small", small, core.HistoryQuery{Reverse: true, Limit: 3}, 6, 15, span(15, 13)},
		{"reverse after", "small", small, core.HistoryQuery{Reverse: true, After: 12}, 6, 15, span(15, 13)},
		{"reverse after limit", "small", small, core.HistoryQuery{Reverse: true, After: 12, Limit: 2}, 6, 15, span(15, 14)},
		{"after top", "small", small, core.HistoryQuery{After: 15}, 6, 15, nil},
		{"after beyond top", "small", small, core.HistoryQuery{After: 100}, 6, 15, nil},
		{"long all", "big", big, core.HistoryQuery{}, 1, 80, span(1, 80)},
		{"long middle", "big", big, core.HistoryQuery{After: 30, Limit: 20}, 1, 80, span(31, 50)},
		{"long middle short", "big", big, core.HistoryQuery{After: 41, Limit: 5}, 1, 80, span(42, 46)},
		{"long one", "big", big, core.HistoryQuery{After: 5, Limit: 1}, 1, 80, []uint64{6}},
		{"long tail", "big", big, core.HistoryQuery{After: 70}, 1, 80, span(71, 80)},
		{"long reverse", "big", big, core.HistoryQuery{Reverse: true, Limit: 40}, 1, 80, span(80, 41)},
		{"long reverse after", "big", big, core.HistoryQuery{Reverse: true, After: 77}, 1, 80, span(80, 78)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, err := a.ReadHistory(context.Background(), tt.room, tt.opts, tt.give)
			require.NoError(t, err)
			assert.NotEmpty(t, page.Epoch)
			assert.Equal(t, tt.first, page.First, "first")
			assert.Equal(t, tt.top, page.Top, "top")
			assert.Equal(t, tt.want, offsets(page.Messages))
			for _, m := range page.Messages {
				assert.Equal(t, page.Epoch, m.Pos.Epoch)
				assert.Equal(t, tt.room[:1]+strconv.FormatUint(m.Pos.Offset, 10), string(m.Data))
				assert.Equal(t, tt.room, m.Room)
			}
		})
	}
}
