package main

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
)

// watcher reads what a chat connection receives about members: its
// member lists and the presence events of its rooms, each in the order
// they came. It drops the chat's other frames.
type watcher struct {
	t        *testing.T
	conn     *websocket.Conn
	lists    []membersEvent
	presence []presenceEvent
}

func watch(t *testing.T, conn *websocket.Conn) *watcher { return &watcher{t: t, conn: conn} }

// read reads one frame, keeping it if it is about members.
func (w *watcher) read() {
	w.t.Helper()
	f := readFrame(w.t, w.conn)
	switch f.Event.Type {
	case "members":
		require.Empty(w.t, f.Cursor, "a member list goes to its client alone, out of the room's stream")
		w.lists = append(w.lists, decode[membersEvent](w.t, f.Raw))
	case "presence":
		require.NotEmpty(w.t, f.Cursor, "presence events are room messages, with cursors")
		w.presence = append(w.presence, decode[presenceEvent](w.t, f.Raw))
	}
}

// members returns the next member list, failing after 5s without one.
func (w *watcher) members() membersEvent {
	w.t.Helper()
	for len(w.lists) == 0 {
		w.read()
	}
	m := w.lists[0]
	w.lists = w.lists[1:]
	return m
}

// next returns the next presence event, failing after 5s without one.
func (w *watcher) next() presenceEvent {
	w.t.Helper()
	for len(w.presence) == 0 {
		w.read()
	}
	p := w.presence[0]
	w.presence = w.presence[1:]
	return p
}

// joinRoom dials the node at base and joins room as nick.
func joinRoom(t *testing.T, base, room, nick string) (*websocket.Conn, *watcher) {
	t.Helper()
	return joinRoomAs(t, base, event{Type: "join", Room: room, Nick: nick})
}

// joinRoomAs dials the node at base and sends it join, which may carry a
// session as a page's does.
func joinRoomAs(t *testing.T, base string, join event) (*websocket.Conn, *watcher) {
	t.Helper()
	conn := dialChat(t, base)
	sendEvent(t, conn, join)
	return conn, watch(t, conn)
}

// TestChatMembersAcrossNodes runs two nodes on one bus, as the app runs
// over NATS or Redis: a page joining on one node gets the members of
// both, one entry per user, and hears of arrivals and departures on
// either; a user leaves when their last connection closes, after the
// linger.
//
// The nodes send no heartbeats (the app sets Config.Presence): they only
// tell which node died, which no test here needs.
func TestChatMembersAcrossNodes(t *testing.T) {
	bus := memory.NewBus()
	a := newChatNode(t, core.Hooks{}, core.WithAdapter(bus.NewAdapter()), core.WithNodeID("node-a"))
	b := newChatNode(t, core.Hooks{}, core.WithAdapter(bus.NewAdapter()), core.WithNodeID("node-b"))
	const room = "go"
	joined := func(user, node string) presenceEvent {
		return presenceEvent{Type: "presence", Room: room, Event: "join", User: user, Name: user, Node: node}
	}

	// bob, on node B, is alone; his arrival is announced once recorded.
	// His page presents its session (a nick is unique in a room, but a
	// page's own connections may share it: nicks.go).
	bobJoin := event{Type: "join", Room: room, Nick: "bob", Session: "bobs-tab"}
	_, bob := joinRoomAs(t, b.srv.URL, bobJoin)
	assert.Equal(t, membersEvent{Type: "members", Room: room, Members: []member{{"bob", "bob", "node-b"}}},
		bob.members(), "a page is in its own list, recorded or not")
	assert.Equal(t, joined("bob", "node-b"), bob.next())

	// ann joins on node A: she sees bob, and each hears of her arrival.
	_, ann := joinRoom(t, a.srv.URL, room, "ann")
	assert.Equal(t, []member{{"bob", "bob", "node-b"}, {"ann", "ann", "node-a"}}, ann.members().Members,
		"earliest first, whichever node")
	assert.Equal(t, joined("ann", "node-a"), ann.next())
	assert.Equal(t, joined("ann", "node-a"), bob.next())

	// bob's page connects again, on node A, before node B noticed its
	// first connection went away (a dropped network): still one bob, and
	// no arrival. carl then joins on node B: ann hears of him (and of
	// nobody before).
	bobTab, bob2 := joinRoomAs(t, a.srv.URL, bobJoin)
	assert.Equal(t, []member{{"bob", "bob", "node-b"}, {"ann", "ann", "node-a"}}, bob2.members().Members,
		"one entry per user")
	carlConn, _ := joinRoom(t, b.srv.URL, room, "carl")
	assert.Equal(t, joined("carl", "node-b"), ann.next(), "bob's second tab is no arrival")
	assert.Equal(t, joined("carl", "node-b"), bob2.next())

	// bob's first connection closes (his second stays), then carl's: only
	// carl leaves, once the linger has passed. A leave of bob would come
	// first, his linger having started first.
	bob.conn.Close() //nolint:errcheck // an abrupt close, as a tab's
	closed := time.Now()
	require.NoError(t, carlConn.Close())
	left := presenceEvent{Type: "presence", Room: room, Event: "leave", User: "carl", Name: "carl"}
	assert.Equal(t, left, ann.next())
	assert.GreaterOrEqual(t, time.Since(closed), testLinger-10*time.Millisecond, "the leave came before the linger ended")
	assert.Equal(t, left, bob2.next())

	// A page joining now sees who is left, with bob on node A.
	_, dan := joinRoom(t, b.srv.URL, room, "dan")
	assert.Equal(t, []member{{"ann", "ann", "node-a"}, {"bob", "bob", "node-a"}, {"dan", "dan", "node-b"}},
		dan.members().Members)
	assert.Equal(t, joined("dan", "node-b"), ann.next())
	require.NoError(t, bobTab.Close())
}

// TestChatMembersFollowTheRoom: a page that moves to another room, or
// joins its room again under another nick, is in the new room's (or
// nick's) list at once, and its old membership leaves after the linger.
func TestChatMembersFollowTheRoom(t *testing.T) {
	_, srv := startNode(t, core.WithNodeID("solo"))
	presence := func(room, kind, user string) presenceEvent {
		p := presenceEvent{Type: "presence", Room: room, Event: kind, User: user, Name: user}
		if kind == "join" {
			p.Node = "solo"
		}
		return p
	}
	_, ann := joinRoom(t, srv.URL, "a", "ann")
	assert.Equal(t, []member{{"ann", "ann", "solo"}}, ann.members().Members)
	assert.Equal(t, presence("a", "join", "ann"), ann.next())
	conn, bob := joinRoom(t, srv.URL, "a", "bob")
	assert.Equal(t, []member{{"ann", "ann", "solo"}, {"bob", "bob", "solo"}}, bob.members().Members)
	assert.Equal(t, presence("a", "join", "bob"), ann.next())

	sendEvent(t, conn, event{Type: "join", Room: "b", Nick: "bob"})
	assert.Equal(t, membersEvent{Type: "members", Room: "b", Members: []member{{"bob", "bob", "solo"}}}, bob.members())
	assert.Equal(t, presence("a", "leave", "bob"), ann.next())

	sendEvent(t, conn, event{Type: "join", Room: "a", Nick: "bob"})
	assert.Equal(t, []member{{"ann", "ann", "solo"}, {"bob", "bob", "solo"}}, bob.members().Members)
	assert.Equal(t, presence("a", "join", "bob"), ann.next())
	sendEvent(t, conn, event{Type: "join", Room: "a", Nick: "robert"})
	assert.ElementsMatch(t, []member{{"ann", "ann", "solo"}, {"robert", "robert", "solo"}, {"bob", "bob", "solo"}}, bob.members().Members,
		"the old nick is listed until its leave is announced")
	assert.Equal(t, presence("a", "join", "robert"), ann.next())
	assert.Equal(t, presence("a", "leave", "bob"), ann.next())
}

func TestDisplayName(t *testing.T) {
	for _, tt := range []struct {
		name string
		give string
		want string
	}{
		{"none", "", "user"},
		{"name", `{"name":"Ann"}`, "Ann"},
		{"empty name", `{"name":""}`, "user"},
		{"not JSON", `Ann`, "user"},
		{"not a string", `{"name":5}`, "user"},
		{"not an object", `["Ann"]`, "user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, displayName([]byte(tt.give), "user"))
		})
	}
}
