package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
)

// chatNode is a hub and the server in front of it.
type chatNode struct {
	hub *core.Hub
	srv *httptest.Server
}

// newChatNode starts a node (startNode) whose hub also runs hooks.
func newChatNode(t *testing.T, hooks core.Hooks, opts ...core.Option) chatNode {
	t.Helper()
	hub, srv := startNodeWith(t, nodeSetup{hooks: hooks}, opts...)
	return chatNode{hub: hub, srv: srv}
}

// recoveries collects Hooks.OnRecovery outcomes.
type recoveries chan core.Recovery

func (r recoveries) hook(_ *core.Client, _ string, rec core.Recovery) { r <- rec }

func (r recoveries) await(t *testing.T) core.Recovery {
	t.Helper()
	select {
	case rec := <-r:
		return rec
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no OnRecovery call")
		return core.Recovery{}
	}
}

// position parses a frame's cursor.
func position(t *testing.T, f frame) core.Position {
	t.Helper()
	p, err := core.ParseCursor(f.Cursor)
	require.NoError(t, err, "frame %+v", f)
	return p
}

// untilAnswer reads frames until the recovery answer and returns the room
// messages before it, and the answer. The member list that the join sends
// the client alone, and the hello sent on connecting, may come before,
// after or amid them; they are skipped.
func untilAnswer(t *testing.T, conn *websocket.Conn) ([]frame, answer) {
	t.Helper()
	var got []frame
	for {
		f := readFrame(t, conn)
		switch {
		case f.Recovery != nil:
			return got, *f.Recovery
		case f.Cursor == "" && (f.Event.Type == "members" || f.Event.Type == "hello"):
			continue
		}
		require.NotEmpty(t, f.Cursor, "only room messages come before the answer: %s", f.Raw)
		got = append(got, f)
	}
}

// roomFrame reads the next message of a room, skipping member lists and
// the hello.
func roomFrame(t *testing.T, conn *websocket.Conn) frame {
	t.Helper()
	for {
		f := readFrame(t, conn)
		if f.Cursor == "" && (f.Event.Type == "members" || f.Event.Type == "hello") {
			continue
		}
		require.NotEmpty(t, f.Cursor, "not a room message: %s", f.Raw)
		return f
	}
}

// arrival reads a member's two messages on joining a room: the chat's
// "joined" and the "presence" event of the user's arrival, in either
// order (the hub records the membership, and fires the event, in the
// background). It checks they are the room's next two offsets from
// after, and returns the offset of the later one.
func arrival(t *testing.T, conn *websocket.Conn, nick string, after uint64) uint64 {
	t.Helper()
	var kinds []string
	for i := range 2 {
		f := roomFrame(t, conn)
		assert.Equal(t, after+1+uint64(i), position(t, f).Offset, "%s", f.Raw)
		switch f.Event.Type {
		case "joined":
			assert.Equal(t, nick, f.Event.Nick)
		case "presence":
			p := decode[presenceEvent](t, f.Raw)
			assert.Equal(t, "join", p.Event)
			assert.Equal(t, nick, p.User)
		}
		kinds = append(kinds, f.Event.Type)
	}
	assert.ElementsMatch(t, []string{"joined", "presence"}, kinds)
	return after + 2
}

// decode unmarshals raw into a T.
func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(raw, &v), "%s", raw)
	return v
}

func TestChatRecoversMissedMessages(t *testing.T) {
	recs := make(recoveries, 1) // one recovery; the hook must not block
	node := newChatNode(t, core.Hooks{OnRecovery: recs.hook}, core.WithNodeID("solo"))
	assertRecovery(t, node, node, node, recs)
}

// TestChatRecoversOnAnotherNode: with an adapter the history lives in the
// broker, so a page that comes back on another node recovers there.
func TestChatRecoversOnAnotherNode(t *testing.T) {
	bus := memory.NewBus()
	recs := make(recoveries, 1)
	a := newChatNode(t, core.Hooks{}, core.WithAdapter(bus.NewAdapter()), core.WithNodeID("node-a"))
	b := newChatNode(t, core.Hooks{OnRecovery: recs.hook}, core.WithAdapter(bus.NewAdapter()), core.WithNodeID("node-b"))
	assertRecovery(t, a, b, b, recs)
}

// assertRecovery: ann, on first, receives the room's events with cursors
// and disconnects; bob, on bobs, says three things; ann comes back on back
// with her last cursor in the URL and joins again. She must receive
// exactly what she missed, in order, with contiguous offsets, then the
// recovery answer, then live messages; back's OnRecovery reports to recs.
//
// The room also carries presence events (members.go): each arrival's, and
// ann's departure and return when her absence outlasts the linger. They
// take offsets like any message, so the offsets must still follow each
// other without holes; the chat's own events are compared exactly, and
// the only presence events among them must be ann's.
func assertRecovery(t *testing.T, first, bobs, back chatNode, recs recoveries) {
	t.Helper()
	const room = "go"
	ann, bob := dialChat(t, first.srv.URL), dialChat(t, bobs.srv.URL)
	// ann's page sends its session, as the chat page does: when she comes
	// back, the store may still list her first connection (its node
	// writes the removal in the background), and only the session shows
	// that connection to be hers rather than another user's of her nick.
	annJoin := event{Type: "join", Room: room, Nick: "ann", Session: "anns-tab"}
	sendEvent(t, ann, annJoin)
	top := arrival(t, ann, "ann", 0) // the room's first two messages
	sendEvent(t, bob, event{Type: "join", Room: room, Nick: "bob"})
	top = arrival(t, ann, "bob", top)
	sendEvent(t, bob, event{Type: "say", Text: "before"})
	f := roomFrame(t, ann)
	assert.Equal(t, "before", f.Event.Text)
	assert.Equal(t, room, f.Room, "the envelope names the room")
	since := position(t, f)
	assert.Equal(t, top+1, since.Offset)

	require.NoError(t, ann.Close())
	// Her departure is announced and kept like any message of the room.
	missed := []event{{Type: "left", Room: room, Nick: "ann", Node: first.hub.NodeID()}}
	assert.Equal(t, missed[0], next(t, bob, "left"))
	for _, text := range []string{"one", "two", "three"} {
		sendEvent(t, bob, event{Type: "say", Text: text})
		missed = append(missed, event{Type: "said", Room: room, Nick: "bob", Text: text, Node: bobs.hub.NodeID()})
	}
	// Messages are delivered once stored: when bob has the last, the
	// history has them all.
	for _, want := range missed[1:] {
		assert.Equal(t, want, next(t, bob, "said"))
	}

	ann = dialChat(t, back.srv.URL, f.Cursor+":"+room)
	sendEvent(t, ann, annJoin)
	joined := event{Type: "joined", Room: room, Nick: "ann", Node: back.hub.NodeID()}
	want := append(append([]event(nil), missed...), joined)
	got, ans := untilAnswer(t, ann)
	replayable := len(got)
	// Her own "joined" is published once she is a member again, so it
	// comes with the replay or just after it, before or after the answer.
	for !slices.ContainsFunc(got, func(f frame) bool { return f.Event == joined }) {
		got = append(got, roomFrame(t, ann))
	}
	last := since.Offset
	var events []event
	for _, f := range got {
		last++
		assert.Equal(t, room, f.Room)
		assert.Equal(t, core.Position{Epoch: since.Epoch, Offset: last}, position(t, f),
			"%s: offsets follow her cursor without holes", f.Raw)
		if f.Event.Type == "presence" {
			assert.Equal(t, "ann", decode[presenceEvent](t, f.Raw).User, "only ann came and went")
			continue
		}
		events = append(events, f.Event)
	}
	assert.Equal(t, want, events, "exactly the missed messages and her join")
	assert.True(t, ans.Recovered, "answer %+v", ans)
	assert.Equal(t, f.Cursor, ans.Since)
	assert.Empty(t, ans.Reason)
	assert.GreaterOrEqual(t, ans.Replayed, len(missed), "the missed messages came from the history")
	assert.LessOrEqual(t, ans.Replayed, replayable)
	rec := recs.await(t)
	assert.Equal(t, core.Recovery{Recovered: true, Replayed: ans.Replayed, Since: since}, rec, "OnRecovery")

	// Live messages follow, continuing the offsets.
	sendEvent(t, bob, event{Type: "say", Text: "live"})
	for {
		f = roomFrame(t, ann)
		last++
		assert.Equal(t, last, position(t, f).Offset, "%s", f.Raw)
		if f.Event.Type == "said" {
			assert.Equal(t, "live", f.Event.Text)
			break
		}
		assert.Equal(t, "ann", decode[presenceEvent](t, f.Raw).User, "only ann came and went: %s", f.Raw)
	}
}

func TestChatRecoveryRefusesUnknownCursors(t *testing.T) {
	recs := make(recoveries, 2) // one per case; the hook must not block
	node := newChatNode(t, core.Hooks{OnRecovery: recs.hook})
	for _, tt := range []struct {
		name       string
		give       func(epoch string) string // the cursor, from the room's epoch
		wantReason string
	}{
		{"another epoch", func(string) string { return "0badc0de:1" }, core.RecoveryEpoch},
		{"ahead of the room", func(epoch string) string { return epoch + ":1000000" }, core.RecoveryAhead},
	} {
		t.Run(tt.name, func(t *testing.T) {
			room := "refuse-" + tt.wantReason
			bob := dialChat(t, node.srv.URL)
			sendEvent(t, bob, event{Type: "join", Room: room, Nick: "bob"})
			cursor := tt.give(position(t, nextFrame(t, bob, "joined")).Epoch)

			ann := dialChat(t, node.srv.URL, cursor+":"+room)
			sendEvent(t, ann, event{Type: "join", Room: room, Nick: "ann"})
			_, ans := untilAnswer(t, ann) // at most her own join comes before
			assert.Equal(t, answer{Recovered: false, Since: cursor, Reason: tt.wantReason}, ans)
			rec := recs.await(t)
			assert.False(t, rec.Recovered)
			assert.Equal(t, tt.wantReason, rec.Reason)

			// She is in the room all the same, with the messages from now.
			sendEvent(t, bob, event{Type: "say", Text: "from now"})
			assert.Equal(t, "from now", next(t, ann, "said").Text)
		})
	}
}

func TestChatRefusesMalformedCursors(t *testing.T) {
	_, srv := startNode(t)
	for _, tt := range []struct {
		name string
		give string
	}{
		{"no offset", "nonsense"},
		{"no room", "0badc0de:1:"},
		{"offset zero", "0badc0de:0:lobby"},
		{"bad epoch", "bad.epoch:1:lobby"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv.URL, tt.give), nil)
			if conn != nil {
				_ = conn.Close()
			}
			require.ErrorIs(t, err, websocket.ErrBadHandshake)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
	}
}
