package core

import "strings"

// RoomOptions is how a room behaves. Its zero value is a plain room: no
// history, as before RoomOptions existed. Later per-room settings become
// fields of it.
type RoomOptions struct {
	// History keeps the room's messages so that clients can recover what
	// they missed; see History.
	History History
	// Presence keeps the room's member list across the cluster and tells
	// the app when users arrive and leave; see MemberPresence.
	Presence MemberPresence
}

// RoomOptionsFunc returns the options of the room named room. The hub calls
// it once when a room comes into existence on this node (and for sends to a
// room that has no members here), so it must be fast and safe for
// concurrent use.
//
// Every node of a cluster must return the same options for a room: the
// options decide how a message is published and delivered, and nodes that
// disagree deliver differently (a node that thinks a room keeps no history
// delivers its messages without positions). Derive them from the room's
// name only, as RoomOptionsByPrefix does.
type RoomOptionsFunc func(room string) RoomOptions

// WithRoomOptions sets how the hub resolves each room's options. Without
// it every room has the zero RoomOptions.
func WithRoomOptions(fn RoomOptionsFunc) Option { return func(h *Hub) { h.roomOpts = fn } }

// RoomOptionsByPrefix returns a RoomOptionsFunc that gives a room the
// options of the longest key of byPrefix that starts its name, and the zero
// RoomOptions when none does. An empty key matches every room. byPrefix is
// copied.
func RoomOptionsByPrefix(byPrefix map[string]RoomOptions) RoomOptionsFunc {
	type entry struct {
		prefix string
		opts   RoomOptions
	}
	entries := make([]entry, 0, len(byPrefix))
	for p, o := range byPrefix {
		entries = append(entries, entry{p, o})
	}
	return func(room string) RoomOptions {
		best := -1
		for i, e := range entries {
			if strings.HasPrefix(room, e.prefix) && (best < 0 || len(e.prefix) > len(entries[best].prefix)) {
				best = i
			}
		}
		if best < 0 {
			return RoomOptions{}
		}
		return entries[best].opts
	}
}

// roomOptions returns the options of room: those of the live room when it
// exists here, else what the resolver says.
func (h *Hub) roomOptions(room string) RoomOptions {
	if r := h.room(room); r != nil {
		return r.opts
	}
	return h.resolveRoomOptions(room)
}

// resolveRoomOptions calls the resolver, recovering its panic (counted, and
// the zero options used).
func (h *Hub) resolveRoomOptions(room string) (o RoomOptions) {
	if h.roomOpts == nil {
		return RoomOptions{}
	}
	defer func() {
		if p := recover(); p != nil {
			h.panicked("RoomOptions", p)
			o = RoomOptions{}
		}
	}()
	return h.roomOpts(room)
}
