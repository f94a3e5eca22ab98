package nats

import (
	"context"
	"fmt"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

// TestRoomInterestRouting checks that the broker sends a room's traffic only
// to nodes that declared interest in it, and stops once interest is
// withdrawn.
func TestRoomInterestRouting(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	const room, other = "game 1.*", "game 2.>"
	ctx := context.Background()

	pub := newAdapter(t, connect(t, sharedURL), prefix)
	b := newAdapter(t, connect(t, sharedURL), prefix)
	c := newAdapter(t, connect(t, sharedURL), prefix)
	b.SetRoomInterest(other, true)
	gotB, gotC := subscribe(t, b), subscribe(t, c)
	c.SetRoomInterest(room, true) // after Subscribe
	waitHealthy(t, b)
	waitHealthy(t, c)

	roomMsg := func(r, data string) core.AdapterMessage {
		return core.AdapterMessage{NodeID: "p", Type: core.AdapterRoom, Room: r, Data: []byte(data)}
	}
	// Wait until both room subscriptions are in place.
	require.Eventually(t, func() bool {
		assert.NoError(t, pub.Publish(ctx, roomMsg(room, "probe")))
		assert.NoError(t, pub.Publish(ctx, roomMsg(other, "probe-other")))
		return gotC.has(withData("probe")) && gotB.has(withData("probe-other"))
	}, waitFor, 20*time.Millisecond)

	for i := range 50 {
		require.NoError(t, pub.Publish(ctx, roomMsg(room, fmt.Sprint("r", i))))
	}
	// B receives the marker after everything published before it (one
	// publisher connection, one receiving connection: order is kept).
	require.NoError(t, pub.Publish(ctx, core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("marker")}))
	require.Eventually(t, func() bool {
		return gotB.has(withData("marker")) && gotC.has(withData("marker"))
	}, waitFor, tick)

	isRoom := func(m core.AdapterMessage) bool { return m.Room == room }
	assert.Equal(t, 0, gotB.count(isRoom), "B has no interest in %q but got its traffic", room)
	assert.Equal(t, 0, gotC.count(func(m core.AdapterMessage) bool { return m.Room == other }))
	for i := range 50 {
		assert.Equal(t, 1, gotC.count(withData(fmt.Sprint("r", i))), "C: r%d", i)
	}

	// Withdraw C's interest: once a round arrives without the room message,
	// none may arrive in later rounds.
	c.SetRoomInterest(room, false)
	round := 0
	sendRound := func() (gotRoomMsg bool) {
		round++
		data, mark := fmt.Sprint("late", round), fmt.Sprint("mark", round)
		require.NoError(t, pub.Publish(ctx, roomMsg(room, data)))
		require.NoError(t, pub.Publish(ctx, core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte(mark)}))
		require.Eventually(t, func() bool { return gotC.has(withData(mark)) }, waitFor, tick)
		return gotC.has(withData(data))
	}
	deadline := time.Now().Add(waitFor)
	for sendRound() {
		require.False(t, time.Now().After(deadline), "interest never withdrawn")
	}
	for range 5 {
		assert.False(t, sendRound(), "room traffic after withdrawn interest")
	}
}

// Messages an earlier subscription of a room left in the inbox (routed
// while the node had left the room) are skipped once the room has a new
// subscription: a member who joined since must not get them, and the hub
// must not take them for the start of the room's stream.
func TestStaleRoomSubscriptionSkipped(t *testing.T) {
	t.Parallel()
	const room = "rejoined"
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	a.SetRoomInterest(room, true)
	got := subscribe(t, a)
	a.mu.Lock()
	old := a.rooms[room].s
	a.mu.Unlock()
	a.SetRoomInterest(room, false)
	a.SetRoomInterest(room, true)
	a.mu.Lock()
	cur := a.rooms[room].s
	a.mu.Unlock()
	require.NotSame(t, old, cur)

	msg := func(data string) []byte {
		return wire.Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: room, MsgType: 1, Data: []byte(data)})
	}
	subj := a.subj.roomSubject(room)
	a.inbox <- &natsgo.Msg{Subject: subj, Data: msg("from the old subscription"), Sub: old}
	a.inbox <- &natsgo.Msg{Subject: subj, Data: msg("from the new one"), Sub: cur}
	require.Eventually(t, func() bool { return got.has(withData("from the new one")) }, waitFor, tick)
	assert.False(t, got.has(withData("from the old subscription")))
}
