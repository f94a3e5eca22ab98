package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
// fields matter depends on Type.
//
// Client to server: {"type":"join","room":"lobby","nick":"ann"},
// {"type":"say","text":"hi"}, {"type":"leave"}.
//
// Server to clients: {"type":"joined"|"left","room","nick","node"},
// {"type":"said","room","nick","text","node"} and {"type":"error","text"}
// to the sender alone. Node is the ID of the hub the author is connected to.
// The room events are broadcast to history rooms (chatRooms), so they
// arrive as the "data" of an envelope with the room and a cursor; the
// error replies arrive as they are. The member lists add a "members" frame
// to the joiner alone and "presence" events to the room (members.go).
type event struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	Nick string `json:"nick,omitempty"`
	Text string `json:"text,omitempty"`
	Node string `json:"node,omitempty"`
}

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
}

// NewChat returns a Chat; Bind it to its hub before the hub runs.
func NewChat() *Chat { return &Chat{} }

// Bind sets the hub the handlers broadcast through. Call it once, before
// the hub runs: the hub is built with the Chat's router, so the two cannot
// be created in one step.
func (ch *Chat) Bind(hub *core.Hub) { ch.hub = hub }

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

// unknownEvent answers messages whose "type" has no handler.
func unknownEvent(c *core.Client, _ *core.Message) error {
	return reply(c, `unknown "type"; use join, say or leave`)
}

// Handlers returns the chat's handlers by event name.
func (ch *Chat) Handlers() map[string]core.HandlerFunc {
	return map[string]core.HandlerFunc{
		"join":  ch.join,
		"say":   ch.say,
		"leave": ch.leave,
	}
}

func (ch *Chat) join(c *core.Client, m *core.Message) error {
	var in event
	if err := m.JSON(&in); err != nil {
		return reply(c, "bad JSON")
	}
	nick, err := clean(in.Nick, "nick", maxNickLen)
	if err != nil {
		return reply(c, err.Error())
	}
	if strings.TrimSpace(in.Room) == "" {
		in.Room = defaultRoom
	}
	room, err := clean(in.Room, "room", maxRoomLen)
	if err != nil {
		return reply(c, err.Error())
	}
	if cur := stringMeta(c, metaRoom); cur != "" {
		if cur == room && stringMeta(c, metaNick) == nick {
			return nil // already there under that name
		}
		ch.leaveRoom(c, cur)
	}
	// The nick is the member: set while c is in no room, so that the
	// join's member record carries it.
	if err := setMember(c, nick); err != nil {
		return reply(c, "cannot use that nick: "+err.Error())
	}
	// A page that reconnects presents its last cursor for the room in the
	// upgrade URL (core.RecoverParam): this join then sends it what it
	// missed, then a recovery answer, before the live messages.
	if err := ch.hub.JoinRoom(c, room); err != nil {
		return reply(c, "cannot join: "+err.Error())
	}
	c.SetMetadata(metaNick, nick)
	c.SetMetadata(metaRoom, room)
	if _, ok := c.GetMetadata(metaHook); !ok {
		c.SetMetadata(metaHook, true)
		c.OnClose(ch.closed)
	}
	joinedErr := ch.toRoom(event{Type: "joined", Room: room, Nick: nick})
	// The member list is read once c is a member, so the presence events
	// recorded after the read reach c too.
	return errors.Join(joinedErr, ch.sendMembers(c, room))
}

func (ch *Chat) say(c *core.Client, m *core.Message) error {
	var in event
	if err := m.JSON(&in); err != nil {
		return reply(c, "bad JSON")
	}
	room := stringMeta(c, metaRoom)
	if room == "" {
		return reply(c, "join a room first")
	}
	text, err := clean(in.Text, "text", maxTextLen)
	if err != nil {
		return reply(c, err.Error())
	}
	return ch.toRoom(event{Type: "said", Room: room, Nick: stringMeta(c, metaNick), Text: text})
}

func (ch *Chat) leave(c *core.Client, _ *core.Message) error {
	room := stringMeta(c, metaRoom)
	if room == "" {
		return reply(c, "not in a room")
	}
	ch.leaveRoom(c, room)
	return nil
}

// leaveRoom announces the departure to the room (the leaver included) and
// takes c out of it.
func (ch *Chat) leaveRoom(c *core.Client, room string) {
	_ = ch.toRoom(event{Type: "left", Room: room, Nick: stringMeta(c, metaNick)})
	_ = ch.hub.LeaveRoom(c, room) // ErrNotInRoom: it is out either way
	c.DeleteMetadata(metaRoom)
}

// closed tells the room a member disconnected. The hub has already taken
// the client out of its rooms, so only the others get it. It stays quiet
// while the hub drains or stops: every client is leaving then.
func (ch *Chat) closed(c *core.Client) {
	room := stringMeta(c, metaRoom)
	if room == "" || !ch.hub.IsRunning() {
		return
	}
	_ = ch.toRoom(event{Type: "left", Room: room, Nick: stringMeta(c, metaNick)})
}

// toRoom stamps e with this node's ID and broadcasts it to the room on
// every node.
func (ch *Chat) toRoom(e event) error {
	e.Node = ch.hub.NodeID()
	return ch.broadcast(e.Room, e)
}

// broadcast encodes v as JSON and broadcasts it to room on every node.
// Without an adapter a room that just emptied returns ErrRoomNotFound,
// which is no failure here.
func (ch *Chat) broadcast(room string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("chat: encode %T: %w", v, err)
	}
	if err := ch.hub.BroadcastToRoom(room, b); err != nil && !errors.Is(err, core.ErrRoomNotFound) {
		return fmt.Errorf("chat: broadcast to %q: %w", room, err)
	}
	return nil
}

// reply sends an error event to c alone. It returns nil: a bad request is
// the client's mistake, not a handler failure worth logging.
func reply(c *core.Client, text string) error {
	_ = c.SendJSON(event{Type: "error", Text: text})
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
