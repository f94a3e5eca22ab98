package core

import (
	"context"
	"errors"
	"time"
)

// History turns on history for a room: every message published to the room
// is stored, numbered with a Position, and delivered in that order on every
// node, and a client that reconnects with its last cursor receives what it
// missed (see the package documentation, "Resumable rooms").
//
// The zero value keeps no history.
type History struct {
	// Size is how many of the room's newest messages are kept. Zero or
	// less: no history.
	Size int
	// TTL is how long a message is kept. Zero: until Size pushes it out.
	// Stores apply it per message (memory) or to the whole room's stream
	// after its last message (Redis, JetStream's MaxAge): either way a
	// room with no message for TTL keeps nothing, and its next message
	// starts a new epoch.
	TTL time.Duration
}

// Enabled reports whether h keeps history.
func (h History) Enabled() bool { return h.Size > 0 }

// Position is a message's place in its room's history.
type Position struct {
	// Epoch names one incarnation of the room's stream. It changes when the
	// store lost the stream (a broker restarted empty, the history
	// expired): offsets of one epoch say nothing about another.
	Epoch string `json:"epoch"`
	// Offset is the message's number within the epoch: 1, 2, 3, ... with
	// no holes. Zero means no position.
	Offset uint64 `json:"offset"`
}

// IsZero reports whether p is the zero Position (no position).
func (p Position) IsZero() bool { return p.Offset == 0 && p.Epoch == "" }

// HistoryQuery selects messages of a room's history.
type HistoryQuery struct {
	// After returns only messages with a higher offset. Its Epoch is not
	// compared: the caller compares it with HistoryPage.Epoch.
	After uint64
	// Limit caps how many messages are returned; zero or less means all
	// that the store keeps.
	Limit int
	// Reverse returns the newest first (still only those after After).
	Reverse bool
}

// HistoryPage is the answer to a HistoryQuery: the messages, and the state
// of the room's stream when they were read.
type HistoryPage struct {
	// Messages are the selected messages with their Pos set, oldest first
	// unless the query asked for Reverse.
	Messages []AdapterMessage
	// Epoch is the stream's current epoch, "" when the store keeps nothing
	// for the room.
	Epoch string
	// First is the offset of the oldest message kept, 0 when none is.
	First uint64
	// Top is the offset of the newest message published in Epoch (it may
	// be kept no more), 0 when none was.
	Top uint64
}

// HistoryAppend is one message for HistoryAdapter.AppendHistory: the room
// message and its room's options in, its position or error out.
type HistoryAppend struct {
	// Msg is a message of type AdapterRoom or AdapterRoomExcept. The store
	// sets Msg.Pos.
	Msg AdapterMessage
	// Options are the room's history options (Size and TTL).
	Options History
	// Err is set by the store when the message was not stored; such a
	// message must not have reached any node.
	Err error
}

// HistoryAdapter is an optional Adapter extension: a store for the history
// of rooms, shared by every node of the cluster. The hub uses it for rooms
// whose RoomOptions keep History; a hub without an adapter keeps history in
// its own memory instead.
//
// Contract:
//   - AppendHistory stores each message of batch in its room's history,
//     giving it the next position of the room (offsets contiguous per
//     epoch, in the order they are stored), and publishes it to the other
//     nodes with that position, so that a node receives a room's messages
//     in offset order unless some are lost. A message whose store failed
//     gets Err and reaches no node; one stored but not published is found
//     by the nodes' gap filling. It is called from the hub's publisher
//     goroutine, in order, bounded by ctx.
//   - ReadHistory returns the stored messages of room selected by q, with
//     their positions, and the stream's state. opts are the room's history
//     options (a store may keep rooms with different options apart). An
//     adapter that is a RoomInterestAdapter reads only once the room
//     subscriptions declared before the call are in place, as it publishes
//     (see RoomInterestAdapter): every message stored after the read then
//     reaches this node. A join that starts a history room on a node
//     declares the interest, then reads where the stream stands.
//   - Both are safe for concurrent use with each other and with Publish.
type HistoryAdapter interface {
	AppendHistory(ctx context.Context, batch []HistoryAppend)
	ReadHistory(ctx context.Context, room string, opts History, q HistoryQuery) (HistoryPage, error)
}

// Errors of history rooms.
var (
	// ErrNoHistory: the room keeps no history (its RoomOptions), or the
	// hub's adapter has no history store.
	ErrNoHistory = errors.New("wshub: room keeps no history")
	// ErrBadCursor: a cursor is not of the form "epoch:offset" (see
	// ParseCursor).
	ErrBadCursor = errors.New("wshub: malformed cursor")
)

// History reads the room's history from the store: the messages after
// q.After (all kept, up to q.Limit, newest first with q.Reverse), with the
// stream's epoch and bounds. It works on any node, whether or not the room
// has members here. Errors: ErrEmptyRoomName, ErrNoHistory, ctx's error,
// or the store's.
func (h *Hub) History(ctx context.Context, room string, q HistoryQuery) (HistoryPage, error) {
	if room == "" {
		return HistoryPage{}, ErrEmptyRoomName
	}
	opts := h.roomOptions(room)
	if !opts.History.Enabled() || h.hist == nil {
		return HistoryPage{}, ErrNoHistory
	}
	return h.hist.ReadHistory(ctx, room, opts.History, q)
}
