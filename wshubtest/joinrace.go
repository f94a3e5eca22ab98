package wshubtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// answerTimeout bounds the wait for one answer of RunJoinRace. An answer
// that takes longer is counted lost: on a healthy local broker it takes
// about a millisecond, and a message that was routed before the
// subscription existed never comes at all.
const answerTimeout = 2 * time.Second

// RunJoinRace checks causal delivery after a join, tries times over: a
// client on node B joins a room that has no other member on B (so B starts
// receiving the room only now), B broadcasts "joined", and the moment a
// client on node A reads that, A sends an answer to the room, from a node
// without members in it. The answer must reach the member on B every time:
// B's room subscription must be in place at the broker before anything B
// publishes after the join. Between tries the member leaves, so every try
// subscribes afresh. newAdapter returns a fresh, unsubscribed adapter on
// the bus under test, isolated from other tests.
func RunJoinRace(t *testing.T, tries int, newAdapter func(t *testing.T) core.Adapter) {
	a := StartHubNode(t, "race-a", newAdapter(t))
	b := StartHubNode(t, "race-b", newAdapter(t))
	WaitHealthy(t, a.Adapter)
	WaitHealthy(t, b.Adapter)
	listener := a.Dial(t)
	member := b.Dial(t)

	// Cross-node broadcasts flow before the tries start.
	require.Eventually(t, func() bool {
		b.Hub.Broadcast([]byte("hello"))
		return listener.Has("hello")
	}, waitTimeout, 20*time.Millisecond)

	start := time.Now()
	var lost []int
	for i := range tries {
		room := fmt.Sprintf("race-%d", i)
		joined, answer := "joined "+room, "answer "+room
		require.NoError(t, b.Hub.JoinRoom(member.Client, room))
		b.Hub.Broadcast([]byte(joined))
		require.True(t, listener.Await(joined, waitTimeout), "try %d: the announcement never reached node A", i)
		require.NoError(t, a.Hub.BroadcastToRoom(room, []byte(answer)))
		if !member.Await(answer, answerTimeout) {
			lost = append(lost, i)
		}
		require.NoError(t, b.Hub.LeaveRoom(member.Client, room))
	}
	t.Logf("%d tries in %v, %d answers lost", tries, time.Since(start).Round(time.Millisecond), len(lost))
	assert.Empty(t, lost, "answers lost after a join (tries listed)")
}
