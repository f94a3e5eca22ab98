package core

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"time"
)

// MemberPresence turns on member lists for a room: the hub records who is in
// it, on every node, in a store the nodes share (the adapter's
// PresenceAdapter, or the hub's own memory without an adapter), and tells
// the app when a user arrives and leaves (Hooks.OnPresenceJoin and
// OnPresenceLeave).
//
// The zero value tracks nothing.
type MemberPresence struct {
	// Enabled turns tracking on.
	Enabled bool
	// Linger is how long a user whose last connection left the room stays
	// a member in the events' eyes: a connection of theirs that joins
	// again within it (a page reload, a reconnect to another node) fires
	// neither a leave nor a join. Zero means DefaultPresenceLinger;
	// negative means none (the leave fires at once). A client without a
	// user ID cannot come back as itself, so it leaves at once. A
	// lingering user stays in Hub.Presence's list (Lingering set), so
	// that a list read meanwhile agrees with the events.
	Linger time.Duration
	// Events makes the hub tell the room's clients who arrives and who
	// leaves: with each OnPresenceJoin and OnPresenceLeave (once in the
	// cluster) it broadcasts a presence frame to the room
	// (PresenceEventFrame; docs/protocol.md). In a history room the frame
	// is kept and replayed like any message of the room.
	Events bool
}

// DefaultPresenceLinger is MemberPresence.Linger when it is zero.
const DefaultPresenceLinger = 5 * time.Second

func (p MemberPresence) linger() time.Duration {
	switch {
	case p.Linger == 0:
		return DefaultPresenceLinger
	case p.Linger < 0:
		return 0
	}
	return p.Linger
}

// PresenceMember is one connection in a room's member list, or a user
// whose last connection left within the linger (Lingering).
type PresenceMember struct {
	// ClientID is the connection, "" for a lingering user.
	ClientID string `json:"client_id,omitempty"`
	// UserID is the client's user ID, "" for a client without one (each
	// such client counts as a user of its own).
	UserID string `json:"user_id,omitempty"`
	// NodeID is the node the connection is on.
	NodeID string `json:"node_id"`
	// JoinedAt is when the connection joined the room.
	JoinedAt time.Time `json:"joined_at"`
	// Info is what the app set for the connection (Client.SetPresenceInfo)
	// or for this membership (Client.SetRoomPresenceInfo), opaque to the
	// hub; nil when it set nothing. A lingering user's is their last
	// connection's.
	Info []byte `json:"info,omitempty"`
	// Lingering is set for a user with no connection left in the room
	// whose linger has not ended: no leave fired, and a connection of
	// theirs that joins now fires no join. NodeID is the node that will
	// end the linger; JoinedAt is zero.
	Lingering bool `json:"lingering,omitempty"`
}

// PresenceStats counts a room's members across the cluster.
type PresenceStats struct {
	// Clients is the number of connections in the room.
	Clients int `json:"clients"`
	// Users is the number of distinct users among them (a client without
	// a user ID counts as one user), and of lingering users.
	Users int `json:"users"`
}

// PresenceEvent tells that a user arrived in a room (their first
// connection joined) or left it (their last connection left, and the
// linger passed). Each fires once in the cluster, on the node whose store
// update made the change.
type PresenceEvent struct {
	Room   string `json:"room"`
	UserID string `json:"user_id,omitempty"`
	// ClientID is the connection that joined first, or "" for a leave.
	// For a user without a user ID it is that client's ID in both.
	ClientID string `json:"client_id,omitempty"`
	// NodeID is the node the joining connection is on (a join), or the
	// node that recorded the leave.
	NodeID string `json:"node_id"`
	// Info is the joining connection's presence info, or for a leave the
	// info of the user's last connection.
	Info []byte `json:"info,omitempty"`
	// At is when the node recorded the event.
	At time.Time `json:"at"`
}

// PresenceRecord is one record of a PresenceAdapter: the state of one user
// in one room, in bytes the hub writes and reads (a store keeps them
// opaque), with the store's revision of it.
type PresenceRecord struct {
	Room string
	Key  string
	Data []byte
	// Rev is the store's revision of the record, never 0 for a record
	// that exists.
	Rev uint64
}

// PresenceAdapter is an optional Adapter extension: a store of member
// records that the nodes share. The hub keeps one record per user and room
// and changes it only with compare-and-set, so that concurrent nodes never
// lose each other's updates and each join or leave is decided once.
//
// Room names and keys are arbitrary strings (a store encodes them as it
// needs); records are at most a few KB.
type PresenceAdapter interface {
	// GetPresence returns the record of key in room, or a record with Rev
	// 0 and nil Data when there is none.
	GetPresence(ctx context.Context, room, key string) (PresenceRecord, error)
	// SetPresence writes data as the record of key in room if the
	// record's revision is still rev (0: if there is none), or deletes
	// the record when data is nil. It returns the new revision (0 after a
	// delete), or an error wrapping ErrPresenceConflict when the revision
	// differs.
	SetPresence(ctx context.Context, room, key string, data []byte, rev uint64) (uint64, error)
	// ListPresence returns the records of room, or of every room when
	// room is "" (for the sweeps that remove the members of a dead node).
	ListPresence(ctx context.Context, room string) ([]PresenceRecord, error)
}

// PresenceTTLAdapter is an optional PresenceAdapter extension for stores
// that expire records (JetStream key-value buckets on NATS 2.9 have only a
// bucket-wide age): the hub rewrites the records of its members every
// PresenceTTL()/3 so that they never expire while the members are there.
type PresenceTTLAdapter interface {
	PresenceTTL() time.Duration
}

var (
	// ErrPresenceConflict is returned (wrapped) by PresenceAdapter.SetPresence
	// when the record changed since it was read.
	ErrPresenceConflict = errors.New("wshub: presence record changed")
	// ErrNoPresence is returned by Hub.Presence and PresenceStats for a
	// room that does not track members (see MemberPresence).
	ErrNoPresence = errors.New("wshub: room does not track presence")
)

// Presence returns the connections in room on every node, ordered by join
// time, then the lingering users (see MemberPresence.Linger) by user ID. It reads the shared store, so it reflects joins and leaves once
// the node that made them has recorded them (usually within a
// millisecond). A node that died without a goodbye keeps its members in the
// list until it is evicted (three missed heartbeats, see WithPresence); one
// that died before any node heard it, until about three heartbeat intervals
// after its latest join, counted once a list or a sweep has seen them.
func (h *Hub) Presence(ctx context.Context, room string) ([]PresenceMember, error) {
	docs, err := h.presenceDocs(ctx, room)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, d := range docs {
		n += len(d.conns)
	}
	out := make([]PresenceMember, 0, n)
	for _, d := range docs {
		for _, c := range d.conns {
			out = append(out, PresenceMember{ClientID: c.client, UserID: d.user, NodeID: c.node,
				JoinedAt: time.UnixMilli(c.joined), Info: c.info})
		}
		if len(d.conns) == 0 && d.lingerUntil != 0 {
			out = append(out, PresenceMember{UserID: d.user, NodeID: d.lingerNode, Info: d.lingerInfo, Lingering: true})
		}
	}
	slices.SortFunc(out, func(a, b PresenceMember) int {
		switch {
		case a.Lingering != b.Lingering: // connections first
			if a.Lingering {
				return 1
			}
			return -1
		case a.Lingering:
			return strings.Compare(a.UserID, b.UserID)
		}
		if c := a.JoinedAt.Compare(b.JoinedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	return out, nil
}

// PresenceStats returns how many connections and distinct users room has on
// every node, read as Presence reads them.
func (h *Hub) PresenceStats(ctx context.Context, room string) (PresenceStats, error) {
	docs, err := h.presenceDocs(ctx, room)
	if err != nil {
		return PresenceStats{}, err
	}
	var s PresenceStats
	for _, d := range docs {
		if len(d.conns) > 0 || d.lingerUntil != 0 {
			s.Users++
			s.Clients += len(d.conns)
		}
	}
	return s, nil
}

func (h *Hub) presenceDocs(ctx context.Context, room string) ([]presenceDoc, error) {
	if room == "" {
		return nil, ErrEmptyRoomName
	}
	if h.members == nil || !h.roomOptions(room).Presence.Enabled {
		return nil, ErrNoPresence
	}
	recs, err := h.members.store.ListPresence(ctx, room)
	if err != nil {
		return nil, err
	}
	docs := make([]presenceDoc, 0, len(recs))
	for _, r := range recs {
		d, err := decodePresenceDoc(r.Data)
		if err != nil {
			h.members.malformed(err)
			continue
		}
		docs = append(docs, d)
	}
	h.members.watchUnheard(docs)
	return docs, nil
}

// SetPresenceInfo sets what the member lists show for this connection in
// every room it is in or joins later (see PresenceMember.Info), unless a
// membership has its own (SetRoomPresenceInfo). info is copied; keep it
// small (a few hundred bytes of JSON, say), since every change of the
// connection's rooms rewrites it. Info over 4 KiB is refused with
// ErrPresenceInfoTooLarge.
func (c *Client) SetPresenceInfo(info []byte) error {
	if len(info) > maxPresenceInfo {
		return ErrPresenceInfoTooLarge
	}
	if c.hub.members != nil {
		c.hub.members.setInfo(c, "", info)
	}
	return nil
}

// SetRoomPresenceInfo sets what room's member list shows for this
// connection, over SetPresenceInfo's. It returns ErrNotInRoom unless the
// client is in room (the info ends with the membership), and
// ErrPresenceInfoTooLarge for info over 4 KiB.
func (c *Client) SetRoomPresenceInfo(room string, info []byte) error {
	if len(info) > maxPresenceInfo {
		return ErrPresenceInfoTooLarge
	}
	for {
		r := c.hub.room(room)
		if r == nil {
			return ErrNotInRoom
		}
		// A join records the membership in the client and in the tracker
		// under the room's lock; holding it here means a membership the
		// client shows is the tracker's too, so the info cannot land
		// before the record it belongs to and be lost.
		r.mu.RLock()
		if r.deleted {
			r.mu.RUnlock()
			runtime.Gosched() // the room is being replaced
			continue
		}
		if !c.InRoom(room) {
			r.mu.RUnlock()
			return ErrNotInRoom
		}
		if c.hub.members != nil {
			c.hub.members.setInfo(c, room, info)
		}
		r.mu.RUnlock()
		return nil
	}
}
