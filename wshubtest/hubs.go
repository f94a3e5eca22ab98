package wshubtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// RunHubs checks, with three hubs on the bus under test and real WebSocket
// clients, that every kind of send reaches exactly the right sockets of
// every node, once, and no others: broadcasts (excluding a local and a
// remote client), rooms (from a member node, from a node without members,
// to a room on one remote node, excluding a local and a remote member),
// users with sockets on one or two other nodes, and single clients, local
// and remote. The room name holds dots, wildcards and a space, which mean
// something to NATS subjects. newAdapter returns a fresh, unsubscribed
// adapter on the bus under test, isolated from other tests.
func RunHubs(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	const room, solo = "lobby.* >", "solo"
	var nodes []*HubNode
	for i := range 3 {
		n := StartHubNode(t, fmt.Sprintf("node%d", i), newAdapter(t))
		WaitHealthy(t, n.Adapter)
		nodes = append(nodes, n)
	}

	// Per node i: plain sockets p{i}a and p{i}b, and one socket of a user:
	// alice on nodes 0 and 2, bob on node 1. room holds p0a, alice0 and p1a
	// (no member on node 2); solo holds p1b only.
	sockets := map[string]*Socket{}
	nodeOf := map[string]*HubNode{}
	var all []string
	for i, n := range nodes {
		for _, suffix := range []string{"a", "b"} {
			label := fmt.Sprintf("p%d%s", i, suffix)
			sockets[label], nodeOf[label] = n.Dial(t), n
			all = append(all, label)
		}
		user := "alice"
		if i == 1 {
			user = "bob"
		}
		label := fmt.Sprintf("%s%d", user, i)
		sockets[label], nodeOf[label] = n.DialUser(t, user), n
		all = append(all, label)
	}
	client := func(label string) *core.Client { return sockets[label].Client }
	require.Equal(t, "alice", client("alice0").GetUserID())
	for _, label := range []string{"p0a", "alice0", "p1a"} {
		require.NoError(t, nodeOf[label].Hub.JoinRoom(client(label), room))
	}
	require.NoError(t, nodes[1].Hub.JoinRoom(client("p1b"), solo))

	// Room interest may reach the bus in the background: probe from node 2,
	// which has no members, until the member nodes get both rooms' traffic.
	k := 0
	require.Eventually(t, func() bool {
		k++
		probe := fmt.Sprint("probe", k)
		assert.NoError(t, nodes[2].Hub.BroadcastToRoom(room, []byte(probe)))
		assert.NoError(t, nodes[2].Hub.BroadcastToRoom(solo, []byte(probe)))
		return sockets["p0a"].HasPrefix("probe") && sockets["p1a"].HasPrefix("probe") && sockets["p1b"].HasPrefix("probe")
	}, waitTimeout, probeInterval, "room subscriptions never became active")

	// next[label] indexes the first message of sockets[label] not yet
	// examined. readUntil returns what arrived from there up to marker and
	// moves past it.
	next := map[string]int{}
	readUntil := func(t *testing.T, label, marker string) []string {
		t.Helper()
		s, from := sockets[label], next[label]
		find := func() int { return slices.Index(s.Messages()[from:], marker) }
		require.Eventually(t, func() bool { return find() >= 0 }, waitTimeout, time.Millisecond,
			"%s: %q not received", label, marker)
		i := from + find()
		next[label] = i + 1
		return s.Messages()[from:i]
	}
	// Flush the probes everywhere: all of them precede this broadcast.
	nodes[2].Hub.Broadcast([]byte("probes-done"))
	for _, label := range all {
		readUntil(t, label, "probes-done")
	}

	except := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(l string) bool { return slices.Contains(drop, l) })
	}
	tests := []struct {
		name string
		from int
		send func(h *core.Hub, data []byte) error
		want []string // labels that must receive the message, once
	}{
		{
			name: "Broadcast", from: 0,
			send: func(h *core.Hub, d []byte) error { h.Broadcast(d); return nil },
			want: all,
		},
		{
			name: "BroadcastExcept", from: 1,
			send: func(h *core.Hub, d []byte) error { h.BroadcastExcept(d, client("p1a"), client("p2b")); return nil },
			want: except("p1a", "p2b"),
		},
		{
			name: "BroadcastToRoomFromNodeWithoutMembers", from: 2,
			send: func(h *core.Hub, d []byte) error { return h.BroadcastToRoom(room, d) },
			want: []string{"p0a", "alice0", "p1a"},
		},
		{
			name: "BroadcastToRoomFromMember", from: 1,
			send: func(h *core.Hub, d []byte) error { return h.BroadcastToRoom(room, d) },
			want: []string{"p0a", "alice0", "p1a"},
		},
		{
			name: "BroadcastToRoomOnOneRemoteNode", from: 0,
			send: func(h *core.Hub, d []byte) error { return h.BroadcastToRoom(solo, d) },
			want: []string{"p1b"},
		},
		{
			name: "BroadcastToRoomExcept", from: 0,
			send: func(h *core.Hub, d []byte) error {
				return h.BroadcastToRoomExcept(room, d, client("alice0"), client("p1a"))
			},
			want: []string{"p0a"},
		},
		{
			name: "SendToUserOnTwoNodes", from: 1,
			send: func(h *core.Hub, d []byte) error { h.SendToUser("alice", d); return nil },
			want: []string{"alice0", "alice2"},
		},
		{
			name: "SendToUserOnOneNode", from: 0,
			send: func(h *core.Hub, d []byte) error { h.SendToUser("bob", d); return nil },
			want: []string{"bob1"},
		},
		{
			name: "SendToClientRemote", from: 2,
			send: func(h *core.Hub, d []byte) error { return h.SendToClient(client("p0b").ID, d) },
			want: []string{"p0b"},
		},
		{
			name: "SendToClientLocal", from: 1,
			send: func(h *core.Hub, d []byte) error { return h.SendToClient(client("p1b").ID, d) },
			want: []string{"p1b"},
		},
	}
	for i, tt := range tests {
		// Subtests share the cluster, so they run in order.
		t.Run(tt.name, func(t *testing.T) {
			data := fmt.Sprintf("msg-%d-%s", i, tt.name)
			marker := fmt.Sprintf("marker-%d", i)
			h := nodes[tt.from].Hub
			require.NoError(t, tt.send(h, []byte(data)))
			// A broadcast from the same node travels behind the message on
			// every path (local queue, the node's one publisher), so
			// whatever the message delivers anywhere arrives before it.
			h.Broadcast([]byte(marker))
			for _, label := range all {
				n := 0
				for _, m := range readUntil(t, label, marker) {
					if m == data {
						n++
					} else {
						t.Errorf("%s: unexpected message %q", label, m)
					}
				}
				if slices.Contains(tt.want, label) {
					assert.Equal(t, 1, n, "%s: times received", label)
				} else {
					assert.Equal(t, 0, n, "%s must not receive it", label)
				}
			}
		})
	}

	// A fence from every node: each reaches every socket once, and nothing
	// else arrives after the last marker.
	fences := make([]string, len(nodes))
	for i, n := range nodes {
		fences[i] = fmt.Sprintf("fence%d", i)
		n.Hub.Broadcast([]byte(fences[i]))
	}
	for _, label := range all {
		s := sockets[label]
		rest := func() []string { return s.Messages()[next[label]:] }
		require.Eventually(t, func() bool {
			got := rest()
			for _, f := range fences {
				if !slices.Contains(got, f) {
					return false
				}
			}
			return true
		}, waitTimeout, time.Millisecond, "%s never got every fence", label)
		counts := map[string]int{}
		for _, m := range rest() {
			counts[m]++
		}
		for _, f := range fences {
			assert.Equal(t, 1, counts[f], "%s: fence %s", label, f)
			delete(counts, f)
		}
		assert.Empty(t, counts, "%s received unexpected messages", label)
	}
}

// WaitHealthy waits, up to 15 s, until ad is healthy, when it reports its
// health (core.HealthCheckAdapter), and returns at once otherwise: call it
// on a node's adapter before a test publishes across nodes, so that the
// node's subscriptions are in place on the bus. t fails, and the test
// stops, when ad stays unhealthy.
func WaitHealthy(t testing.TB, ad core.Adapter) {
	t.Helper()
	hc, ok := ad.(core.HealthCheckAdapter)
	if !ok {
		return
	}
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return hc.CheckHealth(ctx) == nil
	}, waitTimeout, 10*time.Millisecond, "adapter never became healthy")
}

// RunPresence checks WithPresence over a real bus: three nodes converge on
// the cluster's counts; a node whose adapter dies is evicted after about
// three intervals; a node that shuts down gracefully is removed at once.
// newAdapter returns a fresh, unsubscribed adapter on the bus under test,
// isolated from other tests.
func RunPresence(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	const every = 200 * time.Millisecond
	var nodes []*HubNode
	for i := 0; i < 3; i++ {
		n := StartHubNode(t, fmt.Sprintf("presence-%d", i), newAdapter(t), core.WithPresence(every))
		for j := 0; j <= i; j++ { // 1, 2, 3 clients
			s := n.Dial(t)
			require.NoError(t, n.Hub.JoinRoom(s.Client, "lobby"))
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		require.Eventually(t, func() bool {
			return n.Hub.GlobalClientCount() == 6 && n.Hub.GlobalRoomCount("lobby") == 6
		}, waitTimeout, 5*time.Millisecond, "node %s did not converge", n.Hub.NodeID())
	}

	// Node 2's bus link dies without a goodbye: evicted after three
	// intervals without a heartbeat, not before.
	require.NoError(t, nodes[2].Adapter.Close())
	start := time.Now()
	require.Eventually(t, func() bool { return nodes[0].Hub.GlobalClientCount() == 3 }, waitTimeout, 5*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), 2*every, "evicted before three intervals")

	// Node 1 shuts down gracefully: its goodbye removes it well before an
	// eviction could.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, nodes[1].Hub.Shutdown(ctx))
	require.Eventually(t, func() bool {
		return nodes[0].Hub.GlobalClientCount() == 1 && nodes[0].Hub.GlobalRoomCount("lobby") == 1
	}, 2*every, time.Millisecond, "graceful shutdown was not seen at once")
}

// Broker is a broker process of the test's own, which [RunHubFault],
// [RunRecoveryAcrossRestart] and [RunBrokerRestarts] kill and start again
// while hubs use it: implement it over the broker your adapter talks to.
// Never give them a broker other tests share.
type Broker interface {
	// Kill ends the broker abruptly, as a crash would, and returns once
	// it is down.
	Kill(t *testing.T)
	// Start starts it again on the same address and returns once it
	// accepts connections.
	Start(t *testing.T)
}

// RunHubFault checks two hubs across a broker that dies and comes back:
// local delivery never stops while the broker is gone, nothing panics, and
// cross-node delivery resumes within 5 s of the broker's return.
// newAdapter must return adapters that reconnect by themselves (connections
// with unlimited reconnects).
func RunHubFault(t *testing.T, broker Broker, newAdapter func(t *testing.T) core.Adapter) {
	a := StartHubNode(t, "fault-a", newAdapter(t))
	b := StartHubNode(t, "fault-b", newAdapter(t))
	localA := a.Dial(t)
	remoteB := b.Dial(t)
	require.NoError(t, a.Hub.JoinRoom(localA.Client, "r"))
	require.NoError(t, b.Hub.JoinRoom(remoteB.Client, "r"))

	// Cross-node works before the fault.
	require.Eventually(t, func() bool {
		_ = a.Hub.BroadcastToRoom("r", []byte("before"))
		return remoteB.HasPrefix("before")
	}, waitTimeout, 50*time.Millisecond)

	broker.Kill(t)
	// Wait until both adapters know the link is down, so the outage is
	// real for the hubs, not just for the process table.
	for _, n := range []*HubNode{a, b} {
		if hc, ok := n.Adapter.(core.HealthCheckAdapter); ok {
			require.Eventually(t, func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				return hc.CheckHealth(ctx) != nil
			}, waitTimeout, 20*time.Millisecond, "adapter did not notice the broker was gone")
		}
	}
	for i := 0; i < 50; i++ {
		msg := fmt.Sprintf("local-%d", i)
		require.NoError(t, a.Hub.BroadcastToRoom("r", []byte(msg)))
		require.Eventually(t, func() bool { return localA.Has(msg) }, waitTimeout, time.Millisecond,
			"local delivery stalled while the broker was down")
	}

	broker.Start(t)
	back := time.Now()
	// Messages sent before the link is back may be lost; keep sending
	// until one gets through.
	n := 0
	require.Eventually(t, func() bool {
		n++
		_ = a.Hub.BroadcastToRoom("r", []byte(fmt.Sprintf("after-%d", n)))
		return remoteB.HasPrefix("after-")
	}, 5*time.Second, 20*time.Millisecond, "cross-node delivery did not resume within 5s")
	t.Logf("cross-node delivery resumed %v after the broker returned", time.Since(back).Round(time.Millisecond))
}
