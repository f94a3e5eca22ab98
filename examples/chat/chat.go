package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
)

// Limits of the chat protocol, checked on every inbound message.
const (
	maxNickLen  = 24  // runes
	maxRoomLen  = 32  // runes
	maxTextLen  = 500 // runes
	defaultRoom = "lobby"
)

// Metadata keys the chat stores on each client.
const (
	metaNick = "chat.nick"
	metaRoom = "chat.room"
	metaHook = "chat.onclose" // set once the OnClose announcement is registered
)

// event is every message of the chat protocol, in both directions; which
// fields matter depends on Type. README.md describes each frame.
//
// Client to server: {"type":"join","room":"lobby","nick":"ann","session":"…"}
// (room defaults to lobby, session is optional: see nicks.go),
// {"type":"say","text":"hi"}, {"type":"leave"}.
//
// Server to clients: {"type":"joined"|"left","room","nick","node","at"},
// {"type":"said","room","nick","text","node","at"}, and to one client
// alone {"type":"hello","node"} when it connects and
// {"type":"error","re","text"} when a frame of its was refused. Node is the
// ID of the hub the author (or the client) is connected to, at when the
// server sent the event. The room events are broadcast to history rooms
// (chatRooms), so they arrive as the "data" of an envelope with the room
// and a cursor; the frames to one client arrive as they are, the leaver's
// own "left" among them (see leaveRoom). The member lists add a "members"
// frame to the joiner alone and "presence" events to the room
// (members.go).
type event struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	Nick string `json:"nick,omitempty"`
	Text string `json:"text,omitempty"`
	Node string `json:"node,omitempty"`
	// At is when the server sent a room event, in UTC, RFC 3339 with
	// milliseconds (atLayout): the pages show it in their local time.
	At string `json:"at,omitempty"`
	// Re is, in an error, the type of the frame it answers ("" when the
	// frame had none the chat knows).
	Re string `json:"re,omitempty"`
	// Session is, in a join, the page's session token (nicks.go).
	Session string `json:"session,omitempty"`
}

// atLayout is the layout of event.At: RFC 3339 in UTC with milliseconds,
// which JavaScript's Date parses as it is.
const atLayout = "2006-01-02T15:04:05.000Z07:00"

// Chat implements rooms with nicknames on top of a hub. Messages go out
// with hub.BroadcastToRoom, so with an adapter they reach the room's members
// on every node. Its Hooks announce who arrives in a room and who leaves
// it; the hub must be built with them for the pages' member lists to
// follow (members.go).
//
// Its handlers run in each client's read goroutine, so one client's
// messages are handled in order and its chat state (nick and room, kept in
// the client's metadata) needs no lock of its own.
type Chat struct {
	hub *core.Hub
	// nicks are the nicks this node's connections use, by room (nicks.go).
	nicks nickTable
	// now stamps the room events (event.At).
	now func() time.Time
	// log hears what a request cannot return (see join); nil: nothing.
	log core.Logger
}

// NewChat returns a Chat; Bind it to its hub before the hub runs.
func NewChat() *Chat { return &Chat{now: time.Now} }

// Bind sets the hub the handlers broadcast through. Call it once, before
// the hub runs: the hub is built with the Chat's router, so the two cannot
// be created in one step.
func (ch *Chat) Bind(hub *core.Hub) { ch.hub = hub }

// SetLogger sets the logger of the errors a join hits after it succeeded,
// when the join was a request (its reply says it succeeded). Call it
// before the hub runs.
func (ch *Chat) SetLogger(l core.Logger) { ch.log = l }

// Router returns a Router that dispatches the protocol's "type" field to
// the chat handlers, the same way as the fx Module's router (which the app
// uses). Unknown types get an error reply.
func (ch *Chat) Router() *core.Router {
	r := wshubfx.NewJSONRouter()
	for name, h := range ch.Handlers() {
		r.On(name, h)
	}
	return r.OnNotFound(unknownEvent)
}

// unknownEvent answers messages that no handler takes: those that are not
// JSON, or not a JSON object, and those whose "type" the chat does not
// know.
func unknownEvent(c *core.Client, m *core.Message) error {
	switch data := bytes.TrimSpace(m.Data); {
	case !json.Valid(data):
		return reply(c, m, "", `not JSON; send an object such as {"type":"say","text":"hi"}`)
	case data[0] != '{':
		return reply(c, m, "", `not a JSON object; send an object such as {"type":"say","text":"hi"}`)
	}
	return reply(c, m, "", `unknown "type"; use join, say or leave`)
}

// Handlers returns the chat's handlers by event name.
func (ch *Chat) Handlers() map[string]core.HandlerFunc {
	return map[string]core.HandlerFunc{
		"join":  ch.join,
		"say":   ch.say,
		"leave": ch.leave,
	}
}

// join puts c in a room under a nick, leaving the room it was in. A join
// refused for a bad field or a nick taken in that room leaves c where it
// was; one that fails after c left its room (the hub refuses the join)
// leaves c in no room.
func (ch *Chat) join(c *core.Client, m *core.Message) error {
	var in event
	if err := m.JSON(&in); err != nil {
		return reply(c, m, "join", "bad JSON")
	}
	nick, err := clean(in.Nick, "nick", maxNickLen)
	if err != nil {
		return reply(c, m, "join", err.Error())
	}
	if strings.TrimSpace(in.Room) == "" {
		in.Room = defaultRoom
	}
	room, err := clean(in.Room, "room", maxRoomLen)
	if err != nil {
		return reply(c, m, "join", err.Error())
	}
	session, err := sessionDigest(in.Session)
	if err != nil {
		return reply(c, m, "join", err.Error())
	}
	cur := stringMeta(c, metaRoom)
	if cur == room && stringMeta(c, metaNick) == nick {
		return nil // already there under that name
	}
	// Registered before the nick is claimed, so that a close releases it.
	if _, ok := c.GetMetadata(metaHook); !ok {
		c.SetMetadata(metaHook, true)
		c.OnClose(ch.closed)
	}
	// The nick is checked before c leaves its room, so that a refusal
	// leaves c where it was (nicks.go).
	if !ch.nicks.claim(room, nick, c, session) {
		return reply(c, m, "join", nickTaken(nick, room))
	}
	taken, checkErr := ch.takenElsewhere(c, room, nick, session)
	if taken {
		ch.nicks.release(room, nick, c)
		return reply(c, m, "join", nickTaken(nick, room))
	}
	if cur != "" {
		ch.leaveRoom(c, cur)
	}
	// The nick is the member: set while c is in no room, so that the
	// join's member record carries it.
	if err := setMember(c, nick, session); err != nil {
		ch.nicks.release(room, nick, c)
		return reply(c, m, "join", "cannot use that nick: "+err.Error())
	}
	// A page that reconnects presents its last cursor for the room in the
	// upgrade URL (core.RecoverParam): this join then sends it what it
	// missed, then a recovery answer, before the live messages.
	if err := ch.hub.JoinRoom(c, room); err != nil {
		ch.nicks.release(room, nick, c)
		return reply(c, m, "join", "cannot join: "+err.Error())
	}
	c.SetMetadata(metaNick, nick)
	c.SetMetadata(metaRoom, room)
	joinedErr := ch.toRoom(event{Type: "joined", Room: room, Nick: nick})
	// The member list is read once c is a member, so the presence events
	// recorded after the read reach c too.
	err = errors.Join(checkErr, joinedErr, ch.sendMembers(c, room))
	if _, ok := m.RequestID(); ok && err != nil {
		// c is in the room: its reply must say so. What went wrong besides
		// (the nick check's read, the announcement, the member list) is
		// the server's to hear.
		if ch.log != nil {
			ch.log.Warn("chat: joined, with errors", "client", c.ID, "room", room, "error", err)
		}
		return nil
	}
	return err
}

// nickTaken is the answer to a join whose nick is in use.
func nickTaken(nick, room string) string {
	return fmt.Sprintf("nick %q is taken in #%s; choose another", nick, room)
}

// takenElsewhere reports whether a connection on another node uses nick in
// room and is not the same page as c (session is c's digest), by the
// room's member list (nicks.go). It returns false, with the error, when
// the list cannot be read: the join goes ahead.
func (ch *Chat) takenElsewhere(c *core.Client, room, nick, session string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), membersTimeout)
	defer cancel()
	list, err := ch.hub.Presence(ctx, room)
	switch {
	case errors.Is(err, core.ErrNoPresence):
		return false, nil // a room without member lists: this node's check alone
	case err != nil:
		return false, fmt.Errorf("chat: check nick %q in %q: %w", nick, room, err)
	}
	for _, m := range list {
		// This node's connections are in ch.nicks, which is up to date
		// (the store is written in the background), and lingering users
		// have none.
		if m.Lingering || m.NodeID == ch.hub.NodeID() || m.ClientID == c.ID || m.UserID != nick {
			continue
		}
		if !samePage(session, sessionOf(m.Info)) {
			return true, nil
		}
	}
	return false, nil
}

func (ch *Chat) say(c *core.Client, m *core.Message) error {
	var in event
	if err := m.JSON(&in); err != nil {
		return reply(c, m, "say", "bad JSON")
	}
	room := stringMeta(c, metaRoom)
	if room == "" {
		return reply(c, m, "say", "join a room first")
	}
	text, err := clean(in.Text, "text", maxTextLen)
	if err != nil {
		return reply(c, m, "say", err.Error())
	}
	return ch.toRoom(event{Type: "said", Room: room, Nick: stringMeta(c, metaNick), Text: text})
}

func (ch *Chat) leave(c *core.Client, m *core.Message) error {
	room := stringMeta(c, metaRoom)
	if room == "" {
		return reply(c, m, "leave", "not in a room")
	}
	ch.leaveRoom(c, room)
	return nil
}

// leaveRoom takes c out of room and announces it: to the others in the
// room, and to c alone, out of the room's stream (no envelope), once it is
// out. The leaver's copy is sent apart because a room message reaches the
// members of the room when it is delivered, which with an adapter is
// after the broker stored it: by then c is no longer one. Its nick in the
// room is free again.
func (ch *Chat) leaveRoom(c *core.Client, room string) {
	nick := stringMeta(c, metaNick)
	left := ch.stamp(event{Type: "left", Room: room, Nick: nick})
	_ = ch.broadcast(room, left, c)
	_ = ch.hub.LeaveRoom(c, room) // ErrNotInRoom: it is out either way
	ch.nicks.release(room, nick, c)
	c.DeleteMetadata(metaRoom)
	_ = c.SendJSON(left)
}

// closed releases a client's nick and tells the room the client
// disconnected. The hub has already taken the client out of its rooms, so
// only the others get it. It stays quiet while the hub drains or stops:
// every client is leaving then.
func (ch *Chat) closed(c *core.Client) {
	room, nick := stringMeta(c, metaRoom), stringMeta(c, metaNick)
	if room == "" {
		return
	}
	ch.nicks.release(room, nick, c)
	if !ch.hub.IsRunning() {
		return
	}
	_ = ch.toRoom(event{Type: "left", Room: room, Nick: nick})
}

// hello tells a client that just connected which node it is on; the page
// says so when it reconnects. It runs as Hooks.AfterConnect.
func (ch *Chat) hello(c *core.Client) {
	_ = c.SendJSON(event{Type: "hello", Node: ch.hub.NodeID()})
}

// stamp returns e with this node's ID and the time.
func (ch *Chat) stamp(e event) event {
	e.Node = ch.hub.NodeID()
	e.At = ch.now().UTC().Format(atLayout)
	return e
}

// toRoom stamps e and broadcasts it to the room on every node.
func (ch *Chat) toRoom(e event) error {
	e = ch.stamp(e)
	return ch.broadcast(e.Room, e)
}

// broadcast encodes v as JSON and broadcasts it to room on every node,
// skipping except. Without an adapter a room that just emptied returns
// ErrRoomNotFound, which is no failure here.
func (ch *Chat) broadcast(room string, v any, except ...*core.Client) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("chat: encode %T: %w", v, err)
	}
	if err := ch.hub.BroadcastToRoomExcept(room, b, except...); err != nil && !errors.Is(err, core.ErrRoomNotFound) {
		return fmt.Errorf("chat: broadcast to %q: %w", room, err)
	}
	return nil
}

// reply refuses a frame of type re ("" for one without a type the chat
// knows): a request (a frame with an "id", as the client package sends)
// gets an error reply with the text, code "refused"; any other frame gets
// an "error" event. It returns nil for a plain frame: a bad frame is the
// client's mistake, not a handler failure worth logging.
func reply(c *core.Client, m *core.Message, re, text string) error {
	if _, ok := m.RequestID(); ok {
		return &core.ReplyError{Code: "refused", Message: text}
	}
	_ = c.SendJSON(event{Type: "error", Re: re, Text: text})
	return nil
}

// clean trims s and checks it is non-empty, at most limit runes and free of
// control characters.
func clean(s, what string, limit int) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("%s is empty", what)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%s is not UTF-8", what)
	case utf8.RuneCountInString(s) > limit:
		return "", fmt.Errorf("%s is longer than %d characters", what, limit)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%s contains control characters", what)
	}
	return s, nil
}

func stringMeta(c *core.Client, key string) string {
	v, _ := c.GetMetadata(key)
	s, _ := v.(string)
	return s
}
