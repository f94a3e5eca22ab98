package wshubtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// controlInterval is the heartbeat interval of the control tests: long
// enough that a node whose link died is not evicted during a request.
const controlInterval = time.Second

// RunControl checks the control plane over a real bus with four hubs and
// real WebSocket clients: node 2 runs without it (WithClusterControl(false),
// as an older version would), node 3's link dies without a goodbye.
// ClusterClients, JoinUser and LeaveUser act on the user's connections on
// every node that supports them and say which nodes answered and which do
// not support them; with node 3 dead, DisconnectUser returns within its
// deadline, closes the user's connections on the live nodes with the code
// and reason asked, and names node 3 as missing. newAdapter returns a
// fresh, unsubscribed adapter on the bus under test, isolated from other
// tests.
func RunControl(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	var nodes []*HubNode
	for i := range 4 {
		opts := []core.Option{core.WithPresence(controlInterval)}
		if i == 2 {
			opts = append(opts, core.WithClusterControl(false))
		}
		n := StartHubNode(t, fmt.Sprintf("ctl%d", i), newAdapter(t), opts...)
		WaitHealthy(t, n.Adapter)
		nodes = append(nodes, n)
	}
	var eve []*Socket
	for _, n := range nodes {
		eve = append(eve, n.DialUser(t, "eve"))
	}
	other := nodes[1].DialUser(t, "olga")
	ctx := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		t.Cleanup(cancel)
		return c
	}
	// Wait until every node knows the others and what they support. A
	// request waits for the nodes known from their heartbeats; one that
	// answers before its first heartbeat arrived counts in Answered, but
	// the next request does not wait for it. The counts of clients come
	// only with the heartbeats: all of them, every node knows every other.
	clients := len(eve) + 1
	for _, n := range nodes {
		require.Eventually(t, func() bool {
			_, res, err := n.Hub.ClusterClients(ctx(), core.ClientFilter{UserID: "eve"})
			return err == nil && len(res.Answered)+len(res.Unsupported) == 4 &&
				slices.Contains(res.Unsupported, "ctl2") == (n != nodes[2]) &&
				n.Hub.GlobalClientCount() == clients
		}, waitTimeout, 10*time.Millisecond, "node %s did not learn the cluster", n.Hub.NodeID())
	}

	list, res, err := nodes[0].Hub.ClusterClients(ctx(), core.ClientFilter{UserID: "eve"})
	require.NoError(t, err)
	assert.False(t, res.Complete(), "a node without the feature makes the result partial")
	var got []string
	for _, c := range list {
		assert.Equal(t, "eve", c.UserID)
		got = append(got, c.NodeID+"/"+c.ClientID)
	}
	assert.Equal(t, []string{"ctl0/" + eve[0].Client.ID, "ctl1/" + eve[1].Client.ID, "ctl3/" + eve[3].Client.ID}, got)

	room := "ctl-" + core.NewEpoch()
	res, err = nodes[1].Hub.JoinUser(ctx(), "eve", room)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Affected)
	for i, s := range eve {
		assert.Equal(t, i != 2, s.Client.InRoom(room), "eve's connection on node %d", i)
	}
	assert.False(t, other.Client.InRoom(room), "another user was joined")
	list, res, err = nodes[3].Hub.ClusterClients(ctx(), core.ClientFilter{Room: room})
	require.NoError(t, err)
	assert.Len(t, list, 3, "clients of the room, listed from another node: %+v", res)
	for _, c := range list {
		assert.Equal(t, []string{room}, c.Rooms)
	}
	res, err = nodes[0].Hub.LeaveUser(ctx(), "eve", room)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Affected)
	assert.False(t, eve[1].Client.InRoom(room))

	// Node 3 dies without a goodbye: a request names it missing and
	// returns at its deadline, having done its work elsewhere.
	require.NoError(t, nodes[3].Adapter.Close())
	const deadline = 400 * time.Millisecond
	dctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	res, err = nodes[0].Hub.DisconnectUser(dctx, "eve", 4001, "logged out")
	took := time.Since(start)
	require.NoError(t, err)
	assert.Less(t, took, deadline+time.Second, "the request outlived its deadline")
	assert.Equal(t, []string{"ctl0", "ctl1"}, res.Answered)
	assert.Equal(t, []string{"ctl3"}, res.Missing)
	assert.Equal(t, []string{"ctl2"}, res.Unsupported)
	assert.Equal(t, 2, res.Affected)
	for _, i := range []int{0, 1} {
		require.Eventually(t, func() bool { return eve[i].Ended() != nil }, waitTimeout, time.Millisecond)
		var ce *websocket.CloseError
		require.ErrorAs(t, eve[i].Ended(), &ce, "node %d", i)
		assert.Equal(t, 4001, ce.Code)
		assert.Equal(t, "logged out", ce.Text)
	}
	_, ok := nodes[2].Hub.GetClient(eve[2].Client.ID)
	assert.True(t, ok, "the node without the feature acted")
	_, ok = nodes[1].Hub.GetClient(other.Client.ID)
	assert.True(t, ok, "another user was disconnected")

	_, err = nodes[0].Hub.DisconnectUser(ctx(), "", 4001, "")
	assert.ErrorIs(t, err, core.ErrEmptyUserID)
}

// BenchDisconnectUser measures DisconnectUser across three nodes on the
// bus under test: each iteration connects a user to every node and
// disconnects them everywhere, timing the call until every node answered.
func BenchDisconnectUser(b *testing.B, newAdapter func(tb testing.TB) core.Adapter) {
	var nodes []*HubNode
	for i := range 3 {
		n := StartHubNode(b, fmt.Sprintf("bdu%d", i), newAdapter(b), core.WithPresence(100*time.Millisecond))
		WaitHealthy(b, n.Adapter)
		nodes = append(nodes, n)
	}
	require.Eventually(b, func() bool {
		_, res, err := nodes[0].Hub.ClusterClients(context.Background(), core.ClientFilter{UserID: "nobody"})
		return err == nil && len(res.Answered) == 3
	}, waitTimeout, 10*time.Millisecond)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		user := fmt.Sprint("u", i)
		for _, n := range nodes {
			c, resp, err := websocket.DefaultDialer.Dial("ws"+n.Server.URL[len("http"):]+"/user?id="+user, nil)
			require.NoError(b, err)
			_ = resp.Body.Close()
			b.Cleanup(func() { _ = c.Close() })
		}
		require.Eventually(b, func() bool {
			for _, n := range nodes {
				if len(n.Hub.GetClientsByUserID(user)) == 0 {
					return false
				}
			}
			return true
		}, waitTimeout, 100*time.Microsecond)
		b.StartTimer()
		start := time.Now()
		res, err := nodes[0].Hub.DisconnectUser(context.Background(), user, 4001, "bye")
		total += time.Since(start)
		require.NoError(b, err)
		require.True(b, res.Complete(), "%+v", res)
		require.Equal(b, 3, res.Affected)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/disconnect")
}
