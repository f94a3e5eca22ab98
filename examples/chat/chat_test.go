package main

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// testLinger is the linger of the test nodes' rooms: short, so that a
// leave comes quickly, and long enough for a test to see what happens
// within it.
const testLinger = 300 * time.Millisecond

// startNode runs a hub with the chat behind an httptest server serving the
// page and /ws, as the browser test does; its rooms keep history and track
// members as the app's do (with testLinger), and the chat's hooks announce
// arrivals and departures. Cleanup stops both.
func startNode(t *testing.T, opts ...core.Option) (*core.Hub, *httptest.Server) {
	t.Helper()
	return startNodeWith(t, nodeSetup{}, opts...)
}

// nodeSetup is what a test adds to a node of startNodeWith.
type nodeSetup struct {
	// wrap wraps the /ws handler (nil: not wrapped).
	wrap func(http.Handler) http.Handler
	// hooks run besides the chat's own (core.WithHooks among the options
	// would replace those); the chat's replace those of the same names.
	hooks core.Hooks
	// linger is the linger of the rooms' member lists (0: testLinger).
	linger time.Duration
}

// startNodeWith is startNode with what setup adds.
func startNodeWith(t *testing.T, setup nodeSetup, opts ...core.Option) (*core.Hub, *httptest.Server) {
	t.Helper()
	chat := NewChat()
	hooks, own := setup.hooks, chat.Hooks()
	hooks.AfterConnect, hooks.OnPresenceJoin, hooks.OnPresenceLeave = own.AfterConnect, own.OnPresenceJoin, own.OnPresenceLeave
	base := []core.Option{
		core.WithConfig(core.DefaultConfig().WithRequests(true)), // as the app (chatConfig)
		core.WithMessageHandler(chat.Router().Handle),
		core.WithRoomOptions(core.RoomOptionsByPrefix(chatRooms(cmp.Or(setup.linger, testLinger)))),
		core.WithHooks(hooks),
	}
	hub := core.NewHub(append(base, opts...)...)
	chat.Bind(hub)
	go hub.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, hub.WaitRunning(ctx))

	var ws http.Handler = hub.HandleHTTP()
	if setup.wrap != nil {
		ws = setup.wrap(ws)
	}
	mux := http.NewServeMux()
	mux.Handle("/", pageHandler())
	mux.Handle("/ws", ws)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, hub.Shutdown(ctx))
		srv.Close()
	})
	return hub, srv
}

// wsURL returns the /ws URL of the server at base (http://host:port)
// presenting cursors, each "<epoch>:<offset>:<room>", as a reconnecting
// page does.
func wsURL(base string, cursors ...string) string {
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	if len(cursors) > 0 {
		u += "?" + url.Values{core.RecoverParam: cursors}.Encode()
	}
	return u
}

// dialChat connects to /ws of the server at base (http://host:port),
// presenting cursors as wsURL does.
func dialChat(t *testing.T, base string, cursors ...string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(base, cursors...), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func sendEvent(t *testing.T, conn *websocket.Conn, e event) {
	t.Helper()
	require.NoError(t, conn.SetWriteDeadline(time.Now().Add(5*time.Second)))
	require.NoError(t, conn.WriteJSON(e))
}

// frame is one message a chat client reads: a room's event in the
// envelope of core.JSONFramer ({"room","cursor","data"}), a recovery
// answer ({"room","recovery"}), or an event sent to this client alone
// ({"type":"error",...}, {"type":"members",...}, {"type":"hello",...}, the
// leaver's "left"), which has no envelope.
type frame struct {
	Room     string          `json:"room"`
	Cursor   string          `json:"cursor"`
	Data     json.RawMessage `json:"data"`
	Recovery *answer         `json:"recovery"`
	// Event is the chat event: Data for a room's message, the frame itself
	// for a message to this client alone, zero for a recovery answer.
	// Raw is its JSON, for the events that event does not describe
	// (members and presence).
	Event event           `json:"-"`
	Raw   json.RawMessage `json:"-"`
	// At is the time the server stamped on a chat event (said, joined,
	// left), which readFrame checks and moves here from Event.At, so that
	// tests compare events whole.
	At time.Time `json:"-"`
}

// stamped are the chat events that carry the server's time.
var stamped = map[string]bool{"said": true, "joined": true, "left": true}

// answer is a recovery answer, as the page reads it.
type answer struct {
	Recovered bool   `json:"recovered"`
	Replayed  int    `json:"replayed"`
	Since     string `json:"since"`
	Reason    string `json:"reason"`
}

// readFrame reads the next frame, failing after 5s.
func readFrame(t *testing.T, conn *websocket.Conn) frame {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, data, err := conn.ReadMessage()
	require.NoError(t, err, "waiting for a frame")
	var f frame
	require.NoError(t, json.Unmarshal(data, &f), "not JSON: %s", data)
	switch {
	case f.Recovery != nil:
	case f.Cursor != "":
		f.Raw = f.Data
		require.NoError(t, json.Unmarshal(f.Data, &f.Event), "data is no event: %s", data)
	default:
		f.Raw = data
		require.NoError(t, json.Unmarshal(data, &f.Event), "not an event: %s", data)
	}
	if stamped[f.Event.Type] {
		at, err := time.Parse(atLayout, f.Event.At)
		require.NoError(t, err, "the server's time: %s", data)
		require.WithinDuration(t, time.Now(), at, time.Minute, "the server's time: %s", data)
		f.At, f.Event.At = at, ""
	} else {
		require.Empty(t, f.Event.At, "only chat events carry a time: %s", data)
	}
	return f
}

// nextFrame reads frames until one carries an event of type typ, skipping
// the others.
func nextFrame(t *testing.T, conn *websocket.Conn, typ string) frame {
	t.Helper()
	for {
		if f := readFrame(t, conn); f.Event.Type == typ {
			return f
		}
	}
}

// next reads events until one of type typ arrives, skipping the others.
func next(t *testing.T, conn *websocket.Conn, typ string) event {
	t.Helper()
	return nextFrame(t, conn, typ).Event
}

func TestChatJoinSayReceive(t *testing.T) {
	hub, srv := startNode(t)
	ann, bob := dialChat(t, srv.URL), dialChat(t, srv.URL)

	sendEvent(t, ann, event{Type: "join", Room: "go", Nick: "ann"})
	assert.Equal(t, event{Type: "joined", Room: "go", Nick: "ann", Node: hub.NodeID()}, next(t, ann, "joined"))
	sendEvent(t, bob, event{Type: "join", Room: "go", Nick: "bob"})
	assert.Equal(t, event{Type: "joined", Room: "go", Nick: "bob", Node: hub.NodeID()}, next(t, ann, "joined"),
		"members see who joins after them")
	assert.Equal(t, "bob", next(t, bob, "joined").Nick)

	sendEvent(t, ann, event{Type: "say", Text: "  hi bob  "})
	want := event{Type: "said", Room: "go", Nick: "ann", Text: "hi bob", Node: hub.NodeID()}
	assert.Equal(t, want, next(t, bob, "said"))
	assert.Equal(t, want, next(t, ann, "said"), "the author sees its own message")

	sendEvent(t, bob, event{Type: "say", Text: "hi ann"})
	assert.Equal(t, "hi ann", next(t, ann, "said").Text)
	assert.Equal(t, "bob", next(t, bob, "said").Nick)
}

func TestChatRoomsAreSeparate(t *testing.T) {
	_, srv := startNode(t)
	ann, bob := dialChat(t, srv.URL), dialChat(t, srv.URL)
	sendEvent(t, ann, event{Type: "join", Room: "a", Nick: "ann"})
	next(t, ann, "joined")
	sendEvent(t, bob, event{Type: "join", Room: "b", Nick: "bob"})
	next(t, bob, "joined")

	sendEvent(t, ann, event{Type: "say", Text: "only room a"})
	sendEvent(t, bob, event{Type: "say", Text: "only room b"})
	assert.Equal(t, "only room a", next(t, ann, "said").Text, "ann must not see room b")
	assert.Equal(t, "only room b", next(t, bob, "said").Text, "bob must not see room a")

	// Bob moves to room a: he leaves b (and is told) and joins a.
	sendEvent(t, bob, event{Type: "join", Room: "a", Nick: "bob"})
	left := next(t, bob, "left")
	assert.Equal(t, "b", left.Room)
	assert.Equal(t, "bob", next(t, ann, "joined").Nick)
	sendEvent(t, bob, event{Type: "say", Text: "moved"})
	got := next(t, ann, "said")
	assert.Equal(t, "moved", got.Text)
	assert.Equal(t, "a", got.Room)
}

func TestChatLeaveAndDisconnectAreAnnounced(t *testing.T) {
	hub, srv := startNode(t)
	ann, bob := dialChat(t, srv.URL), dialChat(t, srv.URL)
	sendEvent(t, ann, event{Type: "join", Nick: "ann"}) // room defaults to lobby
	assert.Equal(t, defaultRoom, next(t, ann, "joined").Room)
	sendEvent(t, bob, event{Type: "join", Nick: "bob"})
	next(t, ann, "joined")

	sendEvent(t, bob, event{Type: "leave"})
	assert.Equal(t, event{Type: "left", Room: defaultRoom, Nick: "bob", Node: hub.NodeID()}, next(t, ann, "left"))
	next(t, bob, "left")
	sendEvent(t, bob, event{Type: "say", Text: "anyone?"})
	assert.Equal(t, "join a room first", next(t, bob, "error").Text)

	sendEvent(t, bob, event{Type: "join", Nick: "bob"})
	next(t, ann, "joined")
	require.NoError(t, bob.Close()) // abrupt: no leave message
	assert.Equal(t, event{Type: "left", Room: defaultRoom, Nick: "bob", Node: hub.NodeID()}, next(t, ann, "left"))
}

// TestChatLeave: a leave takes the leaver out of the room at once: it gets
// its own "left" alone, out of the room's stream, the others get it as a
// room message, the leaver receives nothing more of the room, its user
// leaves the member lists after the linger, and its nick is free.
func TestChatLeave(t *testing.T) {
	hub, srv := startNode(t, core.WithNodeID("solo"))
	_, ann := joinRoom(t, srv.URL, "go", "ann")
	ann.members()
	bobConn, bob := joinRoom(t, srv.URL, "go", "bob")
	bob.members()
	assert.Equal(t, "bob", next(t, ann.conn, "joined").Nick)

	sendEvent(t, bobConn, event{Type: "leave"})
	want := event{Type: "left", Room: "go", Nick: "bob", Node: "solo"}
	own := nextFrame(t, bobConn, "left")
	assert.Equal(t, want, own.Event)
	assert.Empty(t, own.Cursor, "the leaver's own left comes alone, out of the room's stream")
	others := nextFrame(t, ann.conn, "left")
	assert.Equal(t, want, others.Event)
	assert.NotEmpty(t, others.Cursor, "the room's left is a room message")
	assert.Equal(t, own.At, others.At, "one event, one time")
	assert.Equal(t, 1, hub.RoomCount("go"))

	// Nothing of the room reaches him now: ann's message has reached the
	// room when she has it back, and what bob reads next is the answer
	// to his own say.
	sendEvent(t, ann.conn, event{Type: "say", Text: "bob is gone"})
	assert.Equal(t, "bob is gone", next(t, ann.conn, "said").Text)
	sendEvent(t, bobConn, event{Type: "say", Text: "still here?"})
	f := readFrame(t, bobConn)
	assert.Equal(t, event{Type: "error", Re: "say", Text: "join a room first"}, f.Event, "%s", f.Raw)
	sendEvent(t, bobConn, event{Type: "leave"})
	assert.Equal(t, event{Type: "error", Re: "leave", Text: "not in a room"}, next(t, bobConn, "error"))

	// His user leaves ann's list once the linger has passed.
	assert.Equal(t, presenceEvent{Type: "presence", Room: "go", Event: "leave", User: "bob", Name: "bob"}, nextPresence(ann, "leave"))

	// His nick is free: another connection takes it.
	_, robert := joinRoom(t, srv.URL, "go", "bob")
	assert.Equal(t, []member{{"ann", "ann", "solo"}, {"bob", "bob", "solo"}}, robert.members().Members)
}

// nextPresence returns w's next presence event of kind, skipping others.
func nextPresence(w *watcher, kind string) presenceEvent {
	w.t.Helper()
	for {
		if p := w.next(); p.Event == kind {
			return p
		}
	}
}

func TestChatSaysHello(t *testing.T) {
	hub, srv := startNode(t, core.WithNodeID("solo"))
	conn := dialChat(t, srv.URL)
	f := readFrame(t, conn)
	assert.Equal(t, event{Type: "hello", Node: hub.NodeID()}, f.Event, "the first frame: %s", f.Raw)
	assert.Empty(t, f.Cursor)
}

func TestChatStampsEvents(t *testing.T) {
	hub := core.NewHub(core.WithNodeID("solo")) // not run: stamp needs its ID alone
	ch := NewChat()
	ch.Bind(hub)
	ch.now = func() time.Time { return time.Date(2025, 3, 4, 7, 6, 7, 89_500_000, time.FixedZone("CET", 3600)) }
	assert.Equal(t, event{Type: "said", Node: "solo", At: "2025-03-04T06:06:07.089Z"}, ch.stamp(event{Type: "said"}),
		"UTC, milliseconds")
}

func TestChatRejectsBadInput(t *testing.T) {
	_, srv := startNode(t)
	conn := dialChat(t, srv.URL)
	for _, tt := range []struct {
		name   string
		give   string
		want   string
		wantRe string // the type of the frame the error answers
	}{
		{"not JSON", `hello`, `not JSON; send an object such as {"type":"say","text":"hi"}`, ""},
		{"broken JSON", `{"type":"say","text":"hi"`, `not JSON; send an object such as {"type":"say","text":"hi"}`, ""},
		{"empty", ``, `not JSON; send an object such as {"type":"say","text":"hi"}`, ""},
		{"JSON string", `"hello"`, `not a JSON object; send an object such as {"type":"say","text":"hi"}`, ""},
		{"JSON array", ` [{"type":"say"}]`, `not a JSON object; send an object such as {"type":"say","text":"hi"}`, ""},
		{"unknown type", `{"type":"dance"}`, `unknown "type"; use join, say or leave`, ""},
		{"no type", `{"text":"hi"}`, `unknown "type"; use join, say or leave`, ""},
		{"type not a string", `{"type":5}`, `unknown "type"; use join, say or leave`, ""},
		{"empty nick", `{"type":"join","nick":"  "}`, "nick is empty", "join"},
		{"long nick", `{"type":"join","nick":"` + strings.Repeat("n", maxNickLen+1) + `"}`, "nick is longer than 24 characters", "join"},
		{"control char", `{"type":"join","nick":"a\u0007b"}`, "nick contains control characters", "join"},
		{"long room", `{"type":"join","nick":"ann","room":"` + strings.Repeat("r", maxRoomLen+1) + `"}`, "room is longer than 32 characters", "join"},
		{"say before join", `{"type":"say","text":"hi"}`, "join a room first", "say"},
		{"leave before join", `{"type":"leave"}`, "not in a room", "leave"},
		{"long session", `{"type":"join","nick":"ann","session":"` + strings.Repeat("s", maxSessionLen+1) + `"}`, errBadSession.Error(), "join"},
		{"bad session", `{"type":"join","nick":"ann","session":"a b"}`, errBadSession.Error(), "join"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(tt.give)))
			assert.Equal(t, event{Type: "error", Re: tt.wantRe, Text: tt.want}, next(t, conn, "error"))
		})
	}
	sendEvent(t, conn, event{Type: "join", Nick: "ann"})
	next(t, conn, "joined")
	sendEvent(t, conn, event{Type: "say", Text: strings.Repeat("x", maxTextLen+1)})
	assert.Equal(t, event{Type: "error", Re: "say", Text: "text is longer than 500 characters"}, next(t, conn, "error"))
}

func TestPageIsServed(t *testing.T) {
	_, srv := startNode(t)
	for _, tt := range []struct {
		give     string
		want     int
		wantBody string
	}{
		{give: "/", want: http.StatusOK, wantBody: "<title>wshub chat</title>"},
		{give: "/nothing-here", want: http.StatusNotFound},
	} {
		t.Run(tt.give, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + tt.give)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.Contains(t, string(body), tt.wantBody)
		})
	}
}

// A join that succeeded answers its request with success even when what
// follows it fails (here the member list: the room keeps none).
func TestJoinRequestSucceedsDespiteSideErrors(t *testing.T) {
	_, srv := startNode(t, core.WithRoomOptions(func(string) core.RoomOptions { return core.RoomOptions{} }))
	conn := dialChat(t, srv.URL)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"join","room":"plain","nick":"ann","id":1}`)))
	for {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, data, err := conn.ReadMessage()
		require.NoError(t, err)
		var r struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		require.NoError(t, json.Unmarshal(data, &r))
		if r.ID == nil {
			continue // the chat's own frames
		}
		assert.Equal(t, 1, *r.ID)
		assert.Nil(t, r.Error, "the join succeeded: %s", data)
		assert.JSONEq(t, "null", string(r.Result))
		return
	}
}
