package main

import (
	"time"

	"github.com/wshub/wshub/core"
)

// History of the chat's rooms: each keeps its last historySize messages
// for historyTTL, so a page that reconnects (or is reloaded) within that
// gets what it missed. historySize matches the lines the page keeps.
const (
	historySize = 200
	historyTTL  = time.Hour
)

// chatRooms are the options of the chat's rooms, by name prefix: every
// room keeps history and tracks its members, who stay listed for linger
// after their last connection left (the app uses presenceLinger; see
// members.go). Every node must resolve the same options for a room, so
// they derive from the name alone.
//
// Messages of a history room reach the pages framed by core.JSONFramer:
//
//	{"room":"lobby","cursor":"<epoch>:<offset>","data":{"type":"said",...}}
//
// A page keeps the last cursor per room and presents it when it
// reconnects, as ?recover=<epoch>:<offset>:<room> in the WebSocket URL;
// its next join of that room (Hub.JoinRoom in the join handler) then
// replays what it missed, followed by a recovery answer
//
//	{"room":"lobby","recovery":{"recovered":true,"replayed":3,"since":"<cursor>"}}
//
// (docs/protocol.md has the whole contract). Without an adapter the hub
// keeps the history in its memory; with NATS (JetStream) or Redis the
// broker keeps it for every node.
func chatRooms(linger time.Duration) map[string]core.RoomOptions {
	return map[string]core.RoomOptions{
		"": {
			History:  core.History{Size: historySize, TTL: historyTTL},
			Presence: core.MemberPresence{Enabled: true, Linger: linger},
		},
	}
}

// recoveryLogger returns an OnRecovery hook that logs how each page's
// recovery went: Info when it got everything it missed, Warn when it did
// not (the page then tells its user that messages are missing).
func recoveryLogger(l core.Logger) func(*core.Client, string, core.Recovery) {
	return func(c *core.Client, room string, r core.Recovery) {
		args := []any{"client", c.ID, "room", room, "replayed", r.Replayed, "since", core.FormatCursor(r.Since)}
		if r.Recovered {
			l.Info("chat: recovered", args...)
			return
		}
		l.Warn("chat: recovery failed", append(args, "reason", r.Reason)...)
	}
}
