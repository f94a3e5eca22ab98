package core

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// Room is a named set of clients on one hub. Rooms are created by the first
// JoinRoom and deleted when their last member leaves.
type Room struct {
	name    string
	mu      sync.RWMutex
	members []*Client
	pos     map[*Client]int
	deleted bool         // removed from the hub: joins must retry with a new room
	seqs    roomStreams  // other nodes' streams of this room, while it exists here
	opts    RoomOptions  // resolved when the room came into existence here
	hist    *roomHistory // ordered delivery of a history room; nil otherwise
}

// getOrCreateRoom returns the live room named name, creating it if needed;
// a history room it creates starts from start (see roomStart).
func (h *Hub) getOrCreateRoom(name string, start *HistoryPage) *Room {
	h.roomsMu.RLock()
	r := h.rooms[name]
	h.roomsMu.RUnlock()
	if r != nil {
		return r
	}
	h.roomsMu.Lock()
	defer h.roomsMu.Unlock()
	if r = h.rooms[name]; r != nil {
		return r
	}
	r = &Room{name: name, pos: make(map[*Client]int), opts: h.resolveRoomOptions(name)}
	if r.opts.History.Enabled() && h.hist != nil {
		r.hist = newRoomHistory(h, r, start)
	}
	h.rooms[name] = r
	h.metrics.IncrementRooms()
	if ri, ok := h.adapter.(RoomInterestAdapter); ok {
		ri.SetRoomInterest(name, true)
	}
	return r
}

// deleteRoom removes r from the hub; r.deleted is already set.
func (h *Hub) deleteRoom(r *Room) {
	h.roomsMu.Lock()
	defer h.roomsMu.Unlock()
	if h.rooms[r.name] != r {
		return
	}
	delete(h.rooms, r.name)
	h.metrics.DecrementRooms()
	if ri, ok := h.adapter.(RoomInterestAdapter); ok {
		ri.SetRoomInterest(r.name, false)
	}
}

func (h *Hub) room(name string) *Room {
	h.roomsMu.RLock()
	defer h.roomsMu.RUnlock()
	return h.rooms[name]
}

// JoinRoom adds client to the room named name, creating the room if needed.
// Errors: ErrEmptyRoomName, ErrAlreadyInRoom, ErrMaxRoomsReached,
// ErrRoomFull (both possibly wrapped), ErrConnectionClosed, or
// BeforeRoomJoin's error. A refused join leaves no empty room behind.
//
// When the room keeps history and the client presented a cursor for it at
// the upgrade (WithRecovery, RecoverParam), the join recovers from that
// cursor as JoinRoomFrom does; the cursor is used by the first join that
// succeeds.
//
// A join that brings a history room into existence on this node reads the
// room's position from the store first (at most 2 s; a store that does not
// answer makes the room start at the first message it receives), so such
// a join waits for the store.
func (h *Hub) JoinRoom(client *Client, name string) error {
	return h.join(client, name, Position{}, false)
}

// join is JoinRoom, recovering from since when hasSince (or from the
// client's cursor) if the room keeps history.
func (h *Hub) join(client *Client, name string, since Position, hasSince bool) error {
	if name == "" {
		return ErrEmptyRoomName
	}
	if client == nil {
		return ErrClientNotFound
	}
	if client.InRoom(name) {
		return ErrAlreadyInRoom
	}
	if h.hooks.BeforeRoomJoin != nil {
		if err := h.beforeRoomJoin(client, name); err != nil {
			return err
		}
	}
	fromUpgrade := false
	if hasSince {
		client.takeCursor(name) // an explicit cursor replaces the upgrade's
	} else {
		since, hasSince = client.takeCursor(name)
		fromUpgrade = hasSince
	}
	start := h.roomStart(name)
	for {
		r := h.getOrCreateRoom(name, start)
		var cu *catchup
		var retry bool
		var err error
		if r.hist != nil && hasSince {
			cu, retry, err = h.joinRecovering(r, client)
		} else {
			retry, err = h.joinRoom(r, client)
		}
		if retry {
			runtime.Gosched() // the leaver is removing the old room
			continue
		}
		if err != nil {
			if fromUpgrade {
				client.putCursor(name, since) // a later join may still use it
			}
			return err
		}
		h.metrics.IncrementRoomJoins()
		if cu != nil {
			h.startRecovery(r, client, since, cu)
		}
		if h.hooks.AfterRoomJoin != nil {
			h.goHook("AfterRoomJoin", func() { h.hooks.AfterRoomJoin(client, name) })
		}
		return nil
	}
}

func (h *Hub) beforeRoomJoin(c *Client, name string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			h.panicked("BeforeRoomJoin", p)
			err = fmt.Errorf("wshub: BeforeRoomJoin panicked: %v", p)
		}
	}()
	return h.hooks.BeforeRoomJoin(c, name)
}

// joinRoom adds c to r; retry is true when r was deleted meanwhile.
func (h *Hub) joinRoom(r *Room, c *Client) (retry bool, err error) {
	r.mu.Lock()
	if r.deleted {
		r.mu.Unlock()
		return true, nil
	}
	c.state.Lock()
	switch {
	case c.gone:
		err = ErrConnectionClosed
	case c.rooms != nil && hasKey(c.rooms, r.name):
		err = ErrAlreadyInRoom
	case h.limits.MaxRoomsPerClient > 0 && len(c.rooms) >= h.limits.MaxRoomsPerClient:
		err = fmt.Errorf("join %q: %w", r.name, ErrMaxRoomsReached)
	case h.limits.MaxClientsPerRoom > 0 && len(r.members) >= h.limits.MaxClientsPerRoom:
		err = fmt.Errorf("join %q: %w", r.name, ErrRoomFull)
	}
	if err == nil {
		if c.rooms == nil {
			c.rooms = make(map[string]struct{})
		}
		c.rooms[r.name] = struct{}{}
		r.pos[c] = len(r.members)
		r.members = append(r.members, c)
	}
	c.state.Unlock()
	if err == nil && r.opts.Presence.Enabled && h.members != nil {
		h.members.add(r.name, c)
	}
	empty := len(r.members) == 0
	if empty {
		r.deleted = true
	}
	r.mu.Unlock()
	if empty {
		h.deleteRoom(r)
	}
	return false, err
}

func hasKey(m map[string]struct{}, k string) bool { _, ok := m[k]; return ok }

// LeaveRoom removes client from the room named name. Errors:
// ErrEmptyRoomName, ErrRoomNotFound (no such room on this node),
// ErrNotInRoom.
func (h *Hub) LeaveRoom(client *Client, name string) error {
	if name == "" {
		return ErrEmptyRoomName
	}
	r := h.room(name)
	if r == nil {
		return ErrRoomNotFound
	}
	if client == nil || !client.InRoom(name) {
		return ErrNotInRoom
	}
	return h.leave(r, client)
}

func (h *Hub) leave(r *Room, c *Client) error {
	if h.hooks.BeforeRoomLeave != nil {
		h.safeCall("BeforeRoomLeave", func() { h.hooks.BeforeRoomLeave(c, r.name) })
	}
	// In a history room the leave also stops the client's recovery, in
	// the same step, so that no recovery outlives the membership.
	rh := r.hist
	if rh != nil {
		rh.mu.Lock()
		rh.cancelLocked(c)
	}
	r.mu.Lock()
	i, ok := r.pos[c]
	if !ok {
		r.mu.Unlock()
		if rh != nil {
			rh.mu.Unlock()
		}
		return ErrNotInRoom
	}
	last := len(r.members) - 1
	moved := r.members[last]
	r.members[i] = moved
	r.pos[moved] = i
	r.members[last] = nil
	r.members = r.members[:last]
	delete(r.pos, c)
	c.state.Lock()
	delete(c.rooms, r.name)
	c.state.Unlock()
	if r.opts.Presence.Enabled && h.members != nil {
		h.members.remove(r.name, c)
	}
	empty := len(r.members) == 0
	if empty {
		r.deleted = true
	}
	r.mu.Unlock()
	if rh != nil {
		rh.mu.Unlock()
	}
	if empty {
		h.deleteRoom(r)
	}
	h.metrics.IncrementRoomLeaves()
	if h.hooks.AfterRoomLeave != nil {
		name := r.name
		h.goHook("AfterRoomLeave", func() { h.hooks.AfterRoomLeave(c, name) })
	}
	return nil
}

// LeaveAllRooms removes client from every room it is in, running the leave
// hooks for each.
func (h *Hub) LeaveAllRooms(client *Client) {
	if client == nil {
		return
	}
	for _, name := range client.Rooms() {
		if r := h.room(name); r != nil {
			_ = h.leave(r, client)
		}
	}
}

// RoomClients returns a snapshot of the members of the room named name.
func (h *Hub) RoomClients(name string) []*Client {
	r := h.room(name)
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Client(nil), r.members...)
}

// RoomCount returns the number of local members of the room named name.
func (h *Hub) RoomCount(name string) int {
	r := h.room(name)
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members)
}

// RoomExists reports whether the room named name has local members.
func (h *Hub) RoomExists(name string) bool { return h.room(name) != nil }

// RoomNames returns the names of the local rooms, sorted.
func (h *Hub) RoomNames() []string {
	h.roomsMu.RLock()
	names := make([]string, 0, len(h.rooms))
	for n := range h.rooms {
		names = append(names, n)
	}
	h.roomsMu.RUnlock()
	sort.Strings(names)
	return names
}

// roomCounts returns member counts of all local rooms.
func (h *Hub) roomCounts() map[string]int {
	h.roomsMu.RLock()
	rooms := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.roomsMu.RUnlock()
	out := make(map[string]int, len(rooms))
	for _, r := range rooms {
		r.mu.RLock()
		if n := len(r.members); n > 0 {
			out[r.name] = n
		}
		r.mu.RUnlock()
	}
	return out
}
