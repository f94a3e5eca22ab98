package core

import (
	"encoding/json"
	"errors"
)

// Presence event frames (MemberPresence.Events): the frame the hub
// broadcasts to a room when a user arrives in it or leaves it, so that
// clients can keep a member list without asking for one. docs/protocol.md
// gives the format; the client package reads it.

// presenceFrame is the JSON of a presence event frame.
type presenceFrame struct {
	Presence presenceFrameBody `json:"presence"`
}

type presenceFrameBody struct {
	Room   string          `json:"room"`
	Event  string          `json:"event"` // "join" or "leave"
	User   string          `json:"user,omitempty"`
	Client string          `json:"client,omitempty"`
	Node   string          `json:"node,omitempty"`
	Info   json.RawMessage `json:"info,omitempty"`
	At     int64           `json:"at"` // Unix milliseconds
}

// PresenceEventFrame returns the presence frame of ev, a join when join is
// true and a leave otherwise:
//
//	{"presence":{"room":"lobby","event":"join","user":"ann","client":"…","node":"a","info":{…},"at":1764750000000}}
//
// info is ev.Info as it is when it is JSON, and as a JSON string otherwise;
// at is in Unix milliseconds. With MemberPresence.Events the hub
// broadcasts these frames itself; an application that sends them another
// way (to some clients only, say) builds them with this function.
func PresenceEventFrame(join bool, ev PresenceEvent) []byte {
	body := presenceFrameBody{
		Room: ev.Room, Event: "leave", User: ev.UserID, Client: ev.ClientID,
		Node: ev.NodeID, At: ev.At.UnixMilli(),
	}
	if join {
		body.Event = "join"
	}
	switch {
	case len(ev.Info) == 0:
	case json.Valid(ev.Info):
		body.Info = ev.Info
	default:
		body.Info, _ = json.Marshal(string(ev.Info)) // a string: cannot fail
	}
	b, _ := json.Marshal(presenceFrame{Presence: body}) // strings and valid JSON: cannot fail
	return b
}

// broadcastPresence sends ev's frame to its room on every node.
func (h *Hub) broadcastPresence(join bool, ev PresenceEvent) {
	err := h.BroadcastToRoom(ev.Room, PresenceEventFrame(join, ev))
	if err != nil && !errors.Is(err, ErrRoomNotFound) && !errors.Is(err, ErrHubDraining) && !errors.Is(err, ErrHubStopped) {
		h.adapterError(&AdapterError{Op: "presence_event", Err: err})
	}
}
