package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wshub/wshub/core"
)

// Member lists. Every chat room tracks its members (core.MemberPresence in
// chatRooms): the hub records each connection in a store the nodes share
// (the broker with -nats or -redis, the hub's memory alone) and fires
// Hooks.OnPresenceJoin when a user's first connection enters a room and
// OnPresenceLeave when their last one left and the linger passed. Each
// fires once in the whole cluster, on the node that recorded the change,
// so the chat broadcasts it to the room from there (Chat.Hooks), which
// reaches the room's pages on every node.
//
// A user is a nickname: the join handler binds each connection to its
// nickname as its user ID (Client.SetUserID). A nick is unique in a room
// (nicks.go), but one page may have two connections in it for a moment,
// on one node or two (it reconnected before its node noticed the old
// connection was gone): they are one member, arriving with the first and
// leaving with the last. The display name travels as the connection's
// presence info, {"name":"ann","session":"<digest>"}
// (Client.SetPresenceInfo), with the digest of the page's session that
// the nick check compares; with real accounts the user ID would be the
// account and the name what the list shows.
//
// The frames, beside the chat's events:
//
//	{"type":"members","room":"lobby","members":[{"user":"ann","name":"ann","node":"a"}, ...]}
//
// to a page alone, after each of its joins: the room's members, one entry
// per user, on every node, the page's own user included; and, to the room,
//
//	{"type":"presence","room":"lobby","event":"join","user":"bob","name":"bob","node":"b"}
//	{"type":"presence","room":"lobby","event":"leave","user":"bob","name":"bob"}
//
// which, like every message of a chat room (a history room), arrive as the
// "data" of the {"room","cursor","data"} envelope, are kept in the room's
// history and replayed to a page that recovers. A page replaces its list
// with each "members" frame and applies the "presence" events of its room
// after it; replayed events come in order, so it ends with each user's
// latest state whichever of the two arrives first.

// presenceLinger is how long a user whose last connection left stays in
// the room's list. A reload reconnects within a second, and a page whose
// connection dropped retries after 0.25, 0.5, 1 and 2 s (jittered, so
// within 3.75 s in all): the default 5 s covers both, so neither flashes
// the user out of the others' lists, while a closed tab still leaves them
// within seconds. A node that stops gracefully takes its members out at
// once, linger or not; one that dies, within three heartbeats
// (Config.Presence).
const presenceLinger = core.DefaultPresenceLinger

// membersTimeout bounds the store read behind a "members" frame. It runs
// in the joining client's read goroutine, which waits for it.
const membersTimeout = 2 * time.Second

// member is one user in a room's member list.
type member struct {
	User string `json:"user"`
	Name string `json:"name"`
	// Node is the node of the user's earliest connection in the room.
	Node string `json:"node"`
}

// membersEvent is the "members" frame: the room's members when the page
// joined it.
type membersEvent struct {
	Type    string   `json:"type"` // "members"
	Room    string   `json:"room"`
	Members []member `json:"members"` // never null: [] for none
}

// presenceEvent is the "presence" frame: a user arrived in the room or
// left it.
type presenceEvent struct {
	Type  string `json:"type"`  // "presence"
	Room  string `json:"room"`  // the room the event is about
	Event string `json:"event"` // "join" or "leave"
	User  string `json:"user"`
	Name  string `json:"name"`
	// Node is the node of the connection that arrived; a leave has none.
	Node string `json:"node,omitempty"`
}

// presenceInfo is a connection's presence info: what the member lists
// show for it, and the digest of its page's session (nicks.go), which
// they do not show.
type presenceInfo struct {
	Name    string `json:"name"`
	Session string `json:"session,omitempty"`
}

// Hooks returns the hooks that tell the rooms who arrives and leaves, and
// each new client which node it is on. Its callbacks send through the hub
// that Bind gives, so the hub must be bound before it runs (the hooks fire
// only while it runs).
func (ch *Chat) Hooks() core.Hooks {
	return core.Hooks{
		AfterConnect:    ch.hello,
		OnPresenceJoin:  func(ev core.PresenceEvent) { ch.presence("join", ev) },
		OnPresenceLeave: func(ev core.PresenceEvent) { ch.presence("leave", ev) },
	}
}

// presence broadcasts ev to its room. An error is dropped as closed drops
// its own: a node that stops can no longer broadcast (the pages of the
// others get a fresh list when they join again), and the hooks have no one
// to return it to.
func (ch *Chat) presence(kind string, ev core.PresenceEvent) {
	user := memberID(ev.UserID, ev.ClientID)
	e := presenceEvent{Type: "presence", Room: ev.Room, Event: kind, User: user, Name: displayName(ev.Info, user)}
	if kind == "join" {
		e.Node = ev.NodeID
	}
	_ = ch.broadcast(ev.Room, e)
}

// setMember makes c the member nick: its user ID and its presence info
// (with session, its page's session digest), set before it joins a room
// so that the join's record and event carry them. c is in no room then.
func setMember(c *core.Client, nick, session string) error {
	if err := c.SetUserID(nick); err != nil {
		return err
	}
	info, err := json.Marshal(presenceInfo{Name: nick, Session: session})
	if err != nil {
		return err
	}
	return c.SetPresenceInfo(info)
}

// members returns room's member list for c, which just joined it: one
// entry per user, earliest first, c's own user included even before the
// hub has recorded c's connection (it writes the store in the background).
// A user whose last connection left within the linger is listed (no leave
// was announced yet), and so is c's previous nick after a rename.
func (ch *Chat) members(ctx context.Context, c *core.Client, room string) (membersEvent, error) {
	list, err := ch.hub.Presence(ctx, room)
	if err != nil {
		return membersEvent{}, fmt.Errorf("chat: members of %q: %w", room, err)
	}
	out := membersEvent{Type: "members", Room: room, Members: []member{}}
	seen := make(map[string]bool, len(list)+1)
	add := func(user, node string, info []byte) {
		if seen[user] {
			return
		}
		seen[user] = true
		out.Members = append(out.Members, member{User: user, Name: displayName(info, user), Node: node})
	}
	self := c.GetUserID()
	for _, m := range list {
		add(memberID(m.UserID, m.ClientID), m.NodeID, m.Info)
	}
	add(memberID(self, c.ID), ch.hub.NodeID(), nil)
	return out, nil
}

// sendMembers sends c the "members" frame of room.
func (ch *Chat) sendMembers(c *core.Client, room string) error {
	ctx, cancel := context.WithTimeout(context.Background(), membersTimeout)
	defer cancel()
	m, err := ch.members(ctx, c, room)
	if err != nil {
		return err
	}
	return c.SendJSON(m)
}

// memberID is how the lists name a member: the user ID, which every chat
// member has (the join handler sets it), or the client ID of one without.
func memberID(user, client string) string {
	if user != "" {
		return user
	}
	return "client:" + client
}

// sessionOf returns the session digest in a connection's presence info, or
// "" when it has none. Like displayName it decodes untrusted input.
func sessionOf(info []byte) string {
	var p presenceInfo
	if len(info) == 0 || json.Unmarshal(info, &p) != nil {
		return ""
	}
	return p.Session
}

// displayName returns the name in a connection's presence info, or user
// when it has none. The info comes from a store the nodes share, so it is
// decoded as untrusted input.
func displayName(info []byte, user string) string {
	var p presenceInfo
	if len(info) == 0 || json.Unmarshal(info, &p) != nil || p.Name == "" {
		return user
	}
	return p.Name
}
