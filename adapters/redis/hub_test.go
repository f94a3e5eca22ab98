package redis

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// hubNode is one hub on its own Redis client, served over HTTP: plain
// WebSocket clients through hub.HandleHTTP at /, clients of a user through
// UpgradeConnection with core.WithUserID at /user?id=U.
type hubNode struct {
	hub *core.Hub
	srv *httptest.Server

	adapter *Adapter

	mu      sync.Mutex
	byLabel map[string]*core.Client // filled from each client's first message
}

func startHubNode(t *testing.T, id, prefix string) *hubNode {
	t.Helper()
	n := &hubNode{byLabel: make(map[string]*core.Client)}
	n.adapter = newAdapter(t, sharedAddr, prefix) // Shutdown closes it too
	n.hub = core.NewHub(
		core.WithAdapter(n.adapter),
		core.WithNodeID(id),
		// Each test client announces its label in its first message.
		core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
			n.mu.Lock()
			n.byLabel[string(m.Data)] = c
			n.mu.Unlock()
			return nil
		}),
	)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		n.hub.Run()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, n.hub.WaitRunning(ctx))

	mux := http.NewServeMux()
	mux.Handle("/", n.hub.HandleHTTP())
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		// UpgradeConnection answers refusals itself.
		_, _ = n.hub.UpgradeConnection(w, r, core.WithUserID(r.URL.Query().Get("id")))
	})
	n.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		assert.NoError(t, n.hub.Shutdown(ctx))
		<-ran
		n.srv.Close()
	})
	waitHealthy(t, n.adapter)
	return n
}

// client returns the server side of the client labelled label.
func (n *hubNode) client(label string) *core.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byLabel[label]
}

// socket is a real WebSocket client; a reader goroutine records every text
// message it receives until the connection closes.
type socket struct {
	label string
	conn  *websocket.Conn
	done  chan struct{} // closed when the reader ends

	mu   sync.Mutex
	msgs []string
}

// dial connects a socket to n at path (with query), announces label and
// waits until the hub has registered it.
func (n *hubNode) dial(t *testing.T, label, pathQuery string) *socket {
	t.Helper()
	u := "ws" + strings.TrimPrefix(n.srv.URL, "http") + pathQuery
	conn, resp, err := websocket.DefaultDialer.Dial(u, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	s := &socket{label: label, conn: conn, done: make(chan struct{})}
	go s.read()
	t.Cleanup(func() {
		_ = conn.Close()
		<-s.done
	})
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(label)))
	require.Eventually(t, func() bool { return n.client(label) != nil }, waitFor, 5*time.Millisecond)
	return s
}

func (s *socket) read() {
	defer close(s.done)
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			return // closed by the test or the hub
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, string(data))
		s.mu.Unlock()
	}
}

func (s *socket) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// TestHubsAcrossRedis runs three hubs, each with its own Redis client, and
// checks that every kind of send reaches exactly the right sockets on every
// node, once, and no others.
func TestHubsAcrossRedis(t *testing.T) {
	prefix := uniquePrefix(t)
	nodes := []*hubNode{
		startHubNode(t, "node0", prefix),
		startHubNode(t, "node1", prefix),
		startHubNode(t, "node2", prefix),
	}

	// Per node i: plain sockets p{i}a and p{i}b, and one user socket: alice
	// on nodes 0 and 2, bob on node 1. Room r holds p0a, p1a, p2a and
	// alice's socket on node 2; room solo holds p1b only.
	sockets := map[string]*socket{}
	nodeOf := map[string]*hubNode{}
	for i, n := range nodes {
		for _, suffix := range []string{"a", "b"} {
			label := fmt.Sprintf("p%d%s", i, suffix)
			sockets[label] = n.dial(t, label, "/")
			nodeOf[label] = n
		}
		user := "alice"
		if i == 1 {
			user = "bob"
		}
		label := fmt.Sprintf("%s%d", user, i)
		sockets[label] = n.dial(t, label, "/user?id="+url.QueryEscape(user))
		nodeOf[label] = n
	}
	srv := func(label string) *core.Client { return nodeOf[label].client(label) }
	for _, label := range []string{"p0a", "p1a", "p2a", "alice2"} {
		require.NoError(t, nodeOf[label].hub.JoinRoom(srv(label), "r"))
	}
	require.NoError(t, nodes[1].hub.JoinRoom(srv("p1b"), "solo"))
	require.Equal(t, "alice", srv("alice0").GetUserID())

	// Wait until Redis has every node's subscriptions: the base channel on
	// all three, room r on all three, room solo on node 1 only.
	probe := newClient(t, sharedAddr)
	require.Eventually(t, func() bool {
		return numSub(t, probe, prefix+":all") == 3 &&
			numSub(t, probe, prefix+":room:r") == 3 &&
			numSub(t, probe, prefix+":room:solo") == 1
	}, waitFor, 10*time.Millisecond)

	all := []string{"p0a", "p0b", "alice0", "p1a", "p1b", "bob1", "p2a", "p2b", "alice2"}
	except := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(l string) bool { return slices.Contains(drop, l) })
	}
	cases := []struct {
		name string
		send func() error
		want []string // labels of the sockets that must get the message once
	}{
		{
			name: "Broadcast from node0",
			send: func() error { nodes[0].hub.Broadcast([]byte("Broadcast from node0")); return nil },
			want: all,
		},
		{
			name: "BroadcastExcept from node1",
			send: func() error {
				// A local and a remote client excluded: only IDs travel.
				nodes[1].hub.BroadcastExcept([]byte("BroadcastExcept from node1"), srv("p1a"), srv("p2b"))
				return nil
			},
			want: except("p1a", "p2b"),
		},
		{
			name: "BroadcastToRoom from node2",
			send: func() error { return nodes[2].hub.BroadcastToRoom("r", []byte("BroadcastToRoom from node2")) },
			want: []string{"p0a", "p1a", "p2a", "alice2"},
		},
		{
			name: "BroadcastToRoom from node0 to a room it lacks",
			send: func() error {
				return nodes[0].hub.BroadcastToRoom("solo", []byte("BroadcastToRoom from node0 to a room it lacks"))
			},
			want: []string{"p1b"},
		},
		{
			name: "BroadcastToRoomExcept from node0",
			send: func() error {
				return nodes[0].hub.BroadcastToRoomExcept("r", []byte("BroadcastToRoomExcept from node0"), srv("p0a"), srv("alice2"))
			},
			want: []string{"p1a", "p2a"},
		},
		{
			name: "SendToUser from node1",
			send: func() error { nodes[1].hub.SendToUser("alice", []byte("SendToUser from node1")); return nil },
			want: []string{"alice0", "alice2"},
		},
		{
			name: "SendToUser from node0",
			send: func() error { nodes[0].hub.SendToUser("bob", []byte("SendToUser from node0")); return nil },
			want: []string{"bob1"},
		},
		{
			name: "SendToClient from node0",
			send: func() error { return nodes[0].hub.SendToClient(srv("p2b").ID, []byte("SendToClient from node0")) },
			want: []string{"p2b"},
		},
		{
			name: "SendToClient from node2 to a local client",
			send: func() error {
				return nodes[2].hub.SendToClient(srv("p2a").ID, []byte("SendToClient from node2 to a local client"))
			},
			want: []string{"p2a"},
		},
	}
	for _, c := range cases {
		require.NoError(t, c.send(), c.name)
	}
	// Each node's messages reach Redis in the order the node sent them, and
	// each receiving node reads them in that order; so once a socket has the
	// fence of every node, it has everything those nodes sent it before.
	fences := make([]string, len(nodes))
	for i, n := range nodes {
		fences[i] = fmt.Sprintf("fence%d", i)
		n.hub.Broadcast([]byte(fences[i]))
	}
	for _, label := range all {
		s := sockets[label]
		require.Eventually(t, func() bool {
			got := s.received()
			for _, f := range fences {
				if !slices.Contains(got, f) {
					return false
				}
			}
			return true
		}, waitFor, 5*time.Millisecond, "socket %s never got every fence; got %q", label, s.received())
	}

	for _, label := range all {
		counts := map[string]int{}
		for _, m := range sockets[label].received() {
			counts[m]++
		}
		for _, f := range fences {
			assert.Equal(t, 1, counts[f], "%s: fence %s", label, f)
			delete(counts, f)
		}
		for _, c := range cases {
			want := 0
			if slices.Contains(c.want, label) {
				want = 1
			}
			assert.Equal(t, want, counts[c.name], "%s: %s", label, c.name)
			delete(counts, c.name)
		}
		assert.Empty(t, counts, "%s received unexpected messages", label)
	}
}
