package nats

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// wsClient is a real WebSocket client of one hub.
type wsClient struct {
	label string
	conn  *websocket.Conn
	msgs  chan string // filled by the reader goroutine, closed when it ends
}

// clusterNode is one hub with its own NATS connection and HTTP server.
type clusterNode struct {
	hub *core.Hub
	srv *httptest.Server

	mu     sync.Mutex
	byName map[string]*core.Client // server side of each client, by label
}

// newClusterNode starts a hub on its own NATS connection. Plain clients
// connect through hub.HandleHTTP at /ws, clients of a user through a handler
// calling UpgradeConnection with core.WithUserID at /user?id=U. Every client
// first sends its label, which the message handler records.
func newClusterNode(t *testing.T, id, prefix string) *clusterNode {
	t.Helper()
	a := newAdapter(t, connect(t, sharedURL), prefix) // also closed by Shutdown
	n := &clusterNode{byName: make(map[string]*core.Client)}
	n.hub = core.NewHub(
		core.WithAdapter(a),
		core.WithNodeID(id),
		core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
			n.mu.Lock()
			n.byName[string(m.Data)] = c
			n.mu.Unlock()
			return nil
		}),
	)
	done := make(chan struct{})
	go func() {
		n.hub.Run()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, n.hub.WaitRunning(ctx))

	mux := http.NewServeMux()
	mux.Handle("/ws", n.hub.HandleHTTP())
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		// The hub answers refusals itself; nothing else to do here.
		_, _ = n.hub.UpgradeConnection(w, r, core.WithUserID(r.URL.Query().Get("id")))
	})
	n.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		assert.NoError(t, n.hub.Shutdown(ctx))
		<-done
		n.srv.Close()
	})
	waitHealthy(t, a)
	return n
}

// dial connects a client (of user, if not empty) and waits until the hub
// knows it by label.
func (n *clusterNode) dial(t *testing.T, label, user string) *wsClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(n.srv.URL, "http") + "/ws"
	if user != "" {
		u = "ws" + strings.TrimPrefix(n.srv.URL, "http") + "/user?id=" + user
	}
	conn, resp, err := websocket.DefaultDialer.Dial(u, nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	c := &wsClient{label: label, conn: conn, msgs: make(chan string, 1024)}
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		defer close(c.msgs)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			c.msgs <- string(data) // 1024 slots: far more than a test sends
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close() // ends the reader
		reader.Wait()
	})
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(label)))
	require.Eventually(t, func() bool { return n.client(label) != nil }, waitFor, tick)
	return c
}

func (n *clusterNode) client(label string) *core.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byName[label]
}

// readUntil returns what c received before marker, failing if marker does
// not arrive.
func (c *wsClient) readUntil(t *testing.T, marker string) []string {
	t.Helper()
	var got []string
	timeout := time.After(waitFor)
	for {
		select {
		case m, ok := <-c.msgs:
			require.True(t, ok, "%s: connection closed before %q", c.label, marker)
			if m == marker {
				return got
			}
			got = append(got, m)
		case <-timeout:
			t.Fatalf("%s: %q not received; before it: %q", c.label, marker, got)
		}
	}
}

// tryRead reports whether c received want within d, discarding the rest.
func (c *wsClient) tryRead(want string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				return false
			}
			if m == want {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// TestHubsOverNATS runs three hubs, each on its own NATS connection, with
// real WebSocket clients, and checks that every kind of send reaches the
// right sockets of every node exactly once and no others.
func TestHubsOverNATS(t *testing.T) {
	prefix := testPrefix()
	nodes := []*clusterNode{
		newClusterNode(t, "node-0", prefix),
		newClusterNode(t, "node-1", prefix),
		newClusterNode(t, "node-2", prefix),
	}
	// Per node: a is in the room, b is not, u is a client of a user.
	users := []string{"alice", "bob", "alice"}
	clients := make(map[string]*wsClient)
	var all []*wsClient
	for i, n := range nodes {
		for _, kind := range []string{"a", "b", "u"} {
			label := fmt.Sprintf("%s%d", kind, i)
			user := ""
			if kind == "u" {
				user = users[i]
			}
			c := n.dial(t, label, user)
			clients[label] = c
			all = append(all, c)
		}
	}
	server := func(label string) *core.Client {
		n := nodes[label[1]-'0']
		c := n.client(label)
		require.NotNil(t, c, label)
		return c
	}
	assert.Equal(t, "alice", server("u0").GetUserID())

	// Room "lobby.*" has members on nodes 0 and 1 only.
	const room = "lobby.* >"
	for _, label := range []string{"a0", "u0", "a1"} {
		require.NoError(t, nodes[label[1]-'0'].hub.JoinRoom(server(label), room))
	}
	// Room interest is applied in the background: probe from node 2 until
	// both remote nodes deliver the room's traffic.
	for k, probed := 0, false; !probed; k++ {
		require.Less(t, k, int(waitFor/(50*time.Millisecond)), "room subscriptions never became active")
		probe := fmt.Sprint("probe", k)
		require.NoError(t, nodes[2].hub.BroadcastToRoom(room, []byte(probe)))
		probed = clients["a0"].tryRead(probe, 50*time.Millisecond) && clients["a1"].tryRead(probe, 50*time.Millisecond)
	}
	// Flush the probes everywhere: all of them precede this broadcast.
	nodes[2].hub.Broadcast([]byte("probes-done"))
	for _, c := range all {
		c.readUntil(t, "probes-done")
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
			want: []string{"a0", "b0", "u0", "a1", "b1", "u1", "a2", "b2", "u2"},
		},
		{
			name: "BroadcastExcept", from: 1,
			send: func(h *core.Hub, d []byte) error { h.BroadcastExcept(d, server("b1"), server("b2")); return nil },
			want: []string{"a0", "b0", "u0", "a1", "u1", "a2", "u2"},
		},
		{
			name: "BroadcastToRoom", from: 2,
			send: func(h *core.Hub, d []byte) error { return h.BroadcastToRoom(room, d) },
			want: []string{"a0", "u0", "a1"},
		},
		{
			name: "BroadcastToRoomFromMember", from: 1,
			send: func(h *core.Hub, d []byte) error { return h.BroadcastToRoom(room, d) },
			want: []string{"a0", "u0", "a1"},
		},
		{
			name: "BroadcastToRoomExcept", from: 0,
			send: func(h *core.Hub, d []byte) error { return h.BroadcastToRoomExcept(room, d, server("u0"), server("a1")) },
			want: []string{"a0"},
		},
		{
			name: "SendToUser", from: 1,
			send: func(h *core.Hub, d []byte) error { h.SendToUser("alice", d); return nil },
			want: []string{"u0", "u2"},
		},
		{
			name: "SendToClientRemote", from: 2,
			send: func(h *core.Hub, d []byte) error { return h.SendToClient(server("b0").ID, d) },
			want: []string{"b0"},
		},
		{
			name: "SendToClientLocal", from: 1,
			send: func(h *core.Hub, d []byte) error { return h.SendToClient(server("b1").ID, d) },
			want: []string{"b1"},
		},
	}
	for i, tt := range tests {
		// Subtests share the cluster, so they run in order.
		t.Run(tt.name, func(t *testing.T) {
			data := fmt.Sprintf("msg-%d-%s", i, tt.name)
			marker := fmt.Sprintf("marker-%d", i)
			h := nodes[tt.from].hub
			require.NoError(t, tt.send(h, []byte(data)))
			// A broadcast from the same node travels behind the message on
			// every path (local queue, same NATS connection), so whatever
			// the message delivers anywhere arrives before the marker.
			h.Broadcast([]byte(marker))
			wanted := make(map[string]bool)
			for _, l := range tt.want {
				wanted[l] = true
			}
			for _, c := range all {
				got := c.readUntil(t, marker)
				n := 0
				for _, m := range got {
					if m == data {
						n++
					} else {
						t.Errorf("%s: unexpected message %q", c.label, m)
					}
				}
				if wanted[c.label] {
					assert.Equal(t, 1, n, "%s: times received", c.label)
				} else {
					assert.Equal(t, 0, n, "%s must not receive it", c.label)
				}
			}
		})
	}
}
