package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
)

// fakeConn is a connection of nickTable's tests.
type fakeConn struct{ closed bool }

func (c *fakeConn) IsClosed() bool { return c.closed }

func TestNickTable(t *testing.T) {
	t.Parallel()
	var tab nickTable
	a, b, c := &fakeConn{}, &fakeConn{}, &fakeConn{}
	for _, tt := range []struct {
		name      string
		give      func() bool
		want      bool
		wantUsers int // the users of ann in lobby after the step
	}{
		{"first claim", func() bool { return tab.claim("lobby", "ann", a, "s1") }, true, 1},
		{"again by its holder", func() bool { return tab.claim("lobby", "ann", a, "s1") }, true, 1},
		{"another page", func() bool { return tab.claim("lobby", "ann", b, "s2") }, false, 1},
		{"no session", func() bool { return tab.claim("lobby", "ann", b, "") }, false, 1},
		{"same page", func() bool { return tab.claim("lobby", "ann", b, "s1") }, true, 2},
		{"another room", func() bool { return tab.claim("go", "ann", c, "s3") }, true, 2},
		{"another nick", func() bool { return tab.claim("lobby", "Ann", c, "s3") }, true, 2},
		{"still held by one", func() bool { tab.release("lobby", "ann", a); return tab.claim("lobby", "ann", c, "s3") }, false, 1},
		{"free once released", func() bool { tab.release("lobby", "ann", b); return tab.claim("lobby", "ann", c, "") }, true, 1},
		{"no session is no page", func() bool { return tab.claim("lobby", "ann", a, "") }, false, 1},
		{"a closed holder is gone", func() bool { c.closed = true; return tab.claim("lobby", "ann", a, "") }, true, 1},
	} {
		assert.Equal(t, tt.want, tt.give(), tt.name)
		tab.mu.Lock()
		assert.Len(t, tab.users[nickKey{"lobby", "ann"}], tt.wantUsers, tt.name)
		tab.mu.Unlock()
	}
	tab.release("lobby", "ann", a)
	tab.release("lobby", "ann", a) // twice: nothing
	tab.release("go", "ann", c)
	tab.release("lobby", "Ann", c)
	assert.Empty(t, tab.users, "released pairs are forgotten")
}

func TestSessionDigest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		give    string
		want    string
		wantErr bool
	}{
		{name: "none", give: ""},
		{name: "token", give: "abc", want: "ba7816bf8f01cfea414140de5dae2223"}, // SHA-256("abc"), first 16 bytes
		{name: "longest", give: strings.Repeat("a", maxSessionLen), want: "ffe054fe7ae0cb6dc65c3af9b61d5209"},
		{name: "too long", give: strings.Repeat("a", maxSessionLen+1), wantErr: true},
		{name: "space", give: "a b", wantErr: true},
		{name: "not ASCII", give: "é", wantErr: true},
		{name: "dash and underscore", give: "a-_Z9", want: "e917a1455b86c46baebc8bcb634a74c5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sessionDigest(tt.give)
			if tt.wantErr {
				assert.ErrorIs(t, err, errBadSession)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// refused reads frames until the error answering a join, failing on a
// "joined" first, and returns its text.
func refused(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	for {
		f := readFrame(t, conn)
		require.NotEqual(t, "joined", f.Event.Type, "the join went through: %s", f.Raw)
		if f.Event.Type == "error" {
			require.Equal(t, "join", f.Event.Re, "%s", f.Raw)
			return f.Event.Text
		}
	}
}

// notInRoom checks that conn is in no room: its say is refused.
func notInRoom(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	sendEvent(t, conn, event{Type: "say", Text: "am I in?"})
	assert.Equal(t, event{Type: "error", Re: "say", Text: "join a room first"}, next(t, conn, "error"))
}

// TestChatRefusesDuplicateNick: on one node, a join under a nick that
// another connection uses in the room is refused and joins nothing, and
// one that changes nothing else for the joiner; the same page coming back
// (its session) is no other connection; the nick is free in other rooms,
// under another case, and once its user left.
func TestChatRefusesDuplicateNick(t *testing.T) {
	hub, srv := startNode(t, core.WithNodeID("solo"))
	const room = "lobby"
	annJoin := event{Type: "join", Room: room, Nick: "ann", Session: "anns-tab"}
	ann := dialChat(t, srv.URL)
	sendEvent(t, ann, annJoin)
	next(t, ann, "joined")
	taken := `nick "ann" is taken in #lobby; choose another`

	for _, tt := range []struct {
		name string
		give event
	}{
		{"no session", event{Type: "join", Room: room, Nick: "ann"}},
		{"another page", event{Type: "join", Room: room, Nick: "ann", Session: "someone-else"}},
		{"padded", event{Type: "join", Room: room, Nick: "  ann "}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn := dialChat(t, srv.URL)
			sendEvent(t, conn, tt.give)
			assert.Equal(t, taken, refused(t, conn))
			notInRoom(t, conn)
			assert.Equal(t, 1, hub.RoomCount(room))
		})
	}

	// bob, in the room, may not rename himself ann: he stays bob.
	bob := dialChat(t, srv.URL)
	sendEvent(t, bob, event{Type: "join", Room: room, Nick: "bob"})
	assert.Equal(t, "bob", next(t, ann, "joined").Nick, "no refused join was announced before bob's")
	next(t, bob, "joined")
	sendEvent(t, bob, event{Type: "join", Room: room, Nick: "ann"})
	assert.Equal(t, taken, refused(t, bob))
	sendEvent(t, bob, event{Type: "say", Text: "still bob"})
	said := next(t, ann, "said")
	assert.Equal(t, "bob", said.Nick)
	assert.Equal(t, "still bob", said.Text)

	// Free elsewhere: another room, another case.
	other := dialChat(t, srv.URL)
	sendEvent(t, other, event{Type: "join", Room: "go", Nick: "ann"})
	assert.Equal(t, "go", next(t, other, "joined").Room)
	sendEvent(t, other, event{Type: "join", Room: room, Nick: "Ann"})
	assert.Equal(t, "Ann", next(t, ann, "joined").Nick, "nicks are case-sensitive")

	// Ann's page comes back while its first connection is still open:
	// the same page, so it joins.
	back := dialChat(t, srv.URL)
	sendEvent(t, back, annJoin)
	assert.Equal(t, "ann", next(t, back, "joined").Nick)
	assert.Equal(t, 4, hub.RoomCount(room))

	// Both of her connections leave (one by a leave, one by closing):
	// the nick is free again.
	sendEvent(t, ann, event{Type: "leave"})
	next(t, ann, "left")
	require.NoError(t, back.Close())
	assert.Equal(t, "ann", next(t, bob, "left").Nick)
	assert.Equal(t, "ann", next(t, bob, "left").Nick)
	newAnn := dialChat(t, srv.URL)
	sendEvent(t, newAnn, event{Type: "join", Room: room, Nick: "ann"})
	assert.Equal(t, "ann", next(t, newAnn, "joined").Nick)
}

// TestChatDuplicateNickRace: many connections of one node join one room
// under one nick at once; exactly one gets it.
func TestChatDuplicateNickRace(t *testing.T) {
	hub, srv := startNode(t)
	const n = 8
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = dialChat(t, srv.URL)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n) // one per sender, never more
	for _, conn := range conns {
		wg.Go(func() {
			<-start
			if err := conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
				errs <- err
				return
			}
			errs <- conn.WriteJSON(event{Type: "join", Room: "race", Nick: "zed"})
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	joined := 0
	for _, conn := range conns {
		for {
			f := readFrame(t, conn)
			if f.Event.Type == "joined" && f.Event.Nick == "zed" {
				joined++
				break
			}
			if f.Event.Type == "error" {
				assert.Equal(t, `nick "zed" is taken in #race; choose another`, f.Event.Text)
				break
			}
		}
	}
	assert.Equal(t, 1, joined)
	assert.Equal(t, 1, hub.RoomCount("race"))
}

// TestChatRefusesDuplicateNickAcrossNodes runs two nodes on one bus: a
// nick in use on one node is refused on the other, from the room's member
// list, unless the joiner is the same page coming back; a user who left
// and is lingering holds no nick.
func TestChatRefusesDuplicateNickAcrossNodes(t *testing.T) {
	bus := memory.NewBus()
	a := newChatNode(t, core.Hooks{}, core.WithAdapter(bus.NewAdapter()), core.WithNodeID("node-a"))
	b := newChatNode(t, core.Hooks{}, core.WithAdapter(bus.NewAdapter()), core.WithNodeID("node-b"))
	const room = "go"
	annJoin := event{Type: "join", Room: room, Nick: "ann", Session: "anns-tab"}
	ann := dialChat(t, a.srv.URL)
	sendEvent(t, ann, annJoin)
	next(t, ann, "joined")
	// Node B knows of her once node A has recorded her in the store.
	annListed := func(want bool) func() bool {
		return func() bool {
			list, err := b.hub.Presence(context.Background(), room)
			if err != nil {
				return false
			}
			for _, m := range list {
				if m.UserID == "ann" && !m.Lingering {
					return want
				}
			}
			return !want
		}
	}
	require.Eventually(t, annListed(true), 5*time.Second, 5*time.Millisecond)

	taken := `nick "ann" is taken in #go; choose another`
	for _, tt := range []struct {
		name string
		give event
	}{
		{"no session", event{Type: "join", Room: room, Nick: "ann"}},
		{"another page", event{Type: "join", Room: room, Nick: "ann", Session: "someone-else"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn := dialChat(t, b.srv.URL)
			sendEvent(t, conn, tt.give)
			assert.Equal(t, taken, refused(t, conn))
			notInRoom(t, conn)
			assert.Zero(t, b.hub.RoomCount(room))
		})
	}

	// Her page comes back on node B while node A still has her first
	// connection: the same page, so it joins.
	back := dialChat(t, b.srv.URL)
	sendEvent(t, back, annJoin)
	assert.Equal(t, "node-b", next(t, back, "joined").Node)

	// Both leave: once the store has no connection of hers (she lingers),
	// anyone may be ann.
	sendEvent(t, ann, event{Type: "leave"})
	next(t, ann, "left")
	sendEvent(t, back, event{Type: "leave"})
	next(t, back, "left")
	require.Eventually(t, annListed(false), 5*time.Second, 5*time.Millisecond)
	newAnn := dialChat(t, b.srv.URL)
	sendEvent(t, newAnn, event{Type: "join", Room: room, Nick: "ann"})
	assert.Equal(t, "ann", next(t, newAnn, "joined").Nick)
}
