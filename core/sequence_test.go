package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamStateFollow(t *testing.T) {
	t.Parallel()
	q := func(inst, epoch, n uint64) Sequence { return Sequence{Instance: inst, Epoch: epoch, Number: n} }
	type step struct {
		give Sequence
		want seqCount
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{name: "in order", steps: []step{
			{q(7, 1, 10), seqCount{}}, // the first sets the start: nothing before it counts
			{q(7, 1, 11), seqCount{}},
			{q(7, 1, 12), seqCount{}},
		}},
		{name: "gap", steps: []step{
			{q(7, 1, 1), seqCount{}},
			{q(7, 1, 5), seqCount{lost: 3}},
			{q(7, 1, 6), seqCount{}},
		}},
		{name: "late after a gap", steps: []step{
			{q(7, 1, 1), seqCount{}},
			{q(7, 1, 4), seqCount{lost: 2}},
			{q(7, 1, 3), seqCount{reordered: 1}},
			{q(7, 1, 2), seqCount{reordered: 1}},
			{q(7, 1, 3), seqCount{duplicate: 1}},
			{q(7, 1, 5), seqCount{}},
		}},
		{name: "duplicate", steps: []step{
			{q(7, 1, 1), seqCount{}},
			{q(7, 1, 2), seqCount{}},
			{q(7, 1, 2), seqCount{duplicate: 1}},
			{q(7, 1, 1), seqCount{duplicate: 1}},
		}},
		{name: "far behind the window", steps: []step{
			{q(7, 1, 1), seqCount{}},
			{q(7, 1, 200), seqCount{lost: 198}},
			{q(7, 1, 100), seqCount{reordered: 1}},
			{q(7, 1, 137), seqCount{reordered: 1}}, // the window covers 137-200: 137 never came
			{q(7, 1, 137), seqCount{duplicate: 1}},
		}},
		{name: "jump past the window forgets it", steps: []step{
			{q(7, 1, 1), seqCount{}},
			{q(7, 1, 2), seqCount{}},
			{q(7, 1, 100), seqCount{lost: 97}},
			{q(7, 1, 99), seqCount{reordered: 1}},
		}},
		{name: "restarted sender", steps: []step{
			{q(7, 1, 500), seqCount{}},
			{q(8, 1, 1), seqCount{}},
			{q(8, 1, 2), seqCount{}},
		}},
		{name: "restarted sender, first messages lost", steps: []step{
			{q(7, 1, 500), seqCount{}},
			{q(8, 1, 4), seqCount{lost: 3}},
		}},
		{name: "new room epoch", steps: []step{
			{q(7, 3, 40), seqCount{}},
			{q(7, 9, 1), seqCount{}},
			{q(7, 9, 3), seqCount{lost: 1}},
			{q(7, 3, 41), seqCount{reordered: 1}}, // an old epoch's straggler
		}},
		{name: "absurd jump restarts", steps: []step{
			{q(7, 1, 5), seqCount{}},
			{q(7, 1, 1<<62), seqCount{}},
			{q(7, 1, 1<<62+1), seqCount{}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s streamState
			for i, st := range tt.steps {
				assert.Equal(t, st.want, s.follow(st.give), "step %d: %+v", i, st.give)
			}
		})
	}
}

func TestNumberingStreams(t *testing.T) {
	t.Parallel()
	q := newNumbering()
	require.NotZero(t, q.instance)
	msgs := []AdapterMessage{
		{Type: AdapterBroadcast}, {Type: AdapterUser}, {Type: AdapterClient}, {Type: AdapterBroadcastExcept},
		{Type: AdapterRoom, Room: "a"}, {Type: AdapterRoomExcept, Room: "a"}, {Type: AdapterRoom, Room: "b"},
		{Type: AdapterPresence}, {Type: "custom"},
	}
	for i := range msgs {
		q.number(&msgs[i])
		assert.Equal(t, q.instance, msgs[i].Seq.Instance)
	}
	num := func(i int) [2]uint64 { return [2]uint64{msgs[i].Seq.Epoch, msgs[i].Seq.Number} }
	// Broadcasts, users, clients and unknown types share the channel that
	// carries them, so they share one stream.
	assert.Equal(t, [2]uint64{1, 1}, num(0))
	assert.Equal(t, [2]uint64{1, 2}, num(1))
	assert.Equal(t, [2]uint64{1, 3}, num(2))
	assert.Equal(t, [2]uint64{1, 4}, num(3))
	assert.Equal(t, [2]uint64{1, 5}, num(8))
	// Each room has its own, in its own epoch.
	assert.Equal(t, [2]uint64{1, 1}, num(4))
	assert.Equal(t, [2]uint64{1, 2}, num(5))
	assert.Equal(t, [2]uint64{2, 1}, num(6))
	assert.Equal(t, [2]uint64{1, 1}, num(7))

	// A room unused for a whole sweep period loses its counter; used again,
	// it starts over in a higher epoch, which receivers follow.
	now := time.Now()
	q.sweep(now) // first sweep: marks the round
	m := AdapterMessage{Type: AdapterRoom, Room: "b"}
	q.number(&m) // b is used in this round, a is not
	q.sweep(now.Add(roomCounterIdle))
	assert.NotContains(t, q.rooms, "a")
	assert.Contains(t, q.rooms, "b")
	m = AdapterMessage{Type: AdapterRoom, Room: "a"}
	q.number(&m)
	assert.Equal(t, Sequence{Instance: q.instance, Epoch: 3, Number: 1}, m.Seq)
	// A sweep before its time does nothing.
	q.sweep(now.Add(roomCounterIdle + time.Second))
	assert.Contains(t, q.rooms, "b")

	var s streamState
	s.follow(Sequence{Instance: q.instance, Epoch: 1, Number: 2})
	assert.Equal(t, seqCount{}, s.follow(m.Seq), "a new epoch from 1 loses nothing")
}

func TestOriginStreamsForget(t *testing.T) {
	t.Parallel()
	var o originStreams
	now := time.Now()
	o.follow("a", false, Sequence{Instance: 1, Epoch: 1, Number: 1}, now)
	o.follow("a", true, Sequence{Instance: 1, Epoch: 1, Number: 1}, now)
	o.follow("b", false, Sequence{Instance: 2, Epoch: 1, Number: 1}, now)
	o.forget("a")
	assert.Len(t, o.streams, 1)
	// Idle origins go after originIdle.
	later := now.Add(originIdle + time.Minute)
	o.follow("c", false, Sequence{Instance: 3, Epoch: 1, Number: 1}, later)
	assert.Len(t, o.streams, 1)
	assert.Contains(t, o.streams, originKey{node: "c"})
}
