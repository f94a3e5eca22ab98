package core

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Recovery is the outcome of a client's recovery of one history room.
type Recovery struct {
	// Recovered is true when the client received every message after its
	// cursor: it may keep its state. When false, it missed messages that
	// cannot be given back and should reload the room's state.
	Recovered bool
	// Replayed is how many stored messages the client received before
	// the live ones.
	Replayed int
	// Since is the cursor the client presented.
	Since Position
	// Reason says why recovery failed, "" when it did not: one of the
	// Recovery* constants.
	Reason string
}

// Reasons a recovery failed (Recovery.Reason).
const (
	// RecoveryEpoch: the cursor is of another epoch; the store lost the
	// room's stream since (or the cursor is forged).
	RecoveryEpoch = "epoch"
	// RecoveryExpired: messages after the cursor are no longer kept (Size
	// or TTL pushed them out).
	RecoveryExpired = "expired"
	// RecoveryAhead: the cursor is past the newest message (forged, or of
	// a stream the store lost and restarted).
	RecoveryAhead = "ahead"
	// RecoveryUnavailable: the store could not be read.
	RecoveryUnavailable = "unavailable"
	// RecoveryOverflow: more live messages arrived during the replay than
	// the replay may buffer (the room's Size, at least 256), or the
	// client's queue stayed full for 10 s during the replay.
	RecoveryOverflow = "overflow"
)

// HistoryFramer shapes what a client of a history room receives: each
// message with its position, and the answer to a recovery. The hub frames
// a message once per node and shares the frame among its recipients.
// Implementations must be safe for concurrent use, must not keep data,
// and must not call the hub: the hub frames while it holds the room's
// ordering lock.
type HistoryFramer interface {
	// FrameMessage returns the frame for a message of room at pos.
	FrameMessage(room string, pos Position, typ MessageType, data []byte) (MessageType, []byte)
	// FrameRecovery returns the frame that tells a client how its recovery
	// of room went; ok false sends none.
	FrameRecovery(room string, r Recovery) (typ MessageType, data []byte, ok bool)
}

// WithHistoryFramer sets the framer of history rooms. The default is
// JSONFramer.
func WithHistoryFramer(f HistoryFramer) Option { return func(h *Hub) { h.framer = f } }

func cmpFramer(f HistoryFramer) HistoryFramer {
	if f == nil {
		return JSONFramer{}
	}
	return f
}

// JSONFramer is the default HistoryFramer. A text message is sent as
//
//	{"room":"chat:1","cursor":"3f9a0c1d2e4b5a69:17","data":...}
//
// where data is the payload itself when it is valid JSON, and the payload
// as a JSON string otherwise. A binary message is sent unchanged (no
// position; apps with binary history rooms set their own framer). A
// recovery answer is
//
//	{"room":"chat:1","recovery":{"recovered":true,"replayed":3,"since":"3f9a0c1d2e4b5a69:14"}}
//
// with "reason" added when recovered is false. docs/protocol.md is the
// contract in full.
type JSONFramer struct{}

// FrameMessage implements HistoryFramer.
func (JSONFramer) FrameMessage(room string, pos Position, typ MessageType, data []byte) (MessageType, []byte) {
	if typ != TextMessage {
		return typ, data
	}
	b := make([]byte, 0, len(data)+len(room)+len(pos.Epoch)+48)
	b = append(b, `{"room":`...)
	b = appendJSONString(b, room)
	b = append(b, `,"cursor":"`...)
	b = append(b, pos.Epoch...) // epochs are [0-9A-Za-z_-]
	b = append(b, ':')
	b = strconv.AppendUint(b, pos.Offset, 10)
	b = append(b, `","data":`...)
	if json.Valid(data) {
		b = append(b, data...)
	} else {
		b = appendJSONString(b, string(data))
	}
	return TextMessage, append(b, '}')
}

// FrameRecovery implements HistoryFramer.
func (JSONFramer) FrameRecovery(room string, r Recovery) (MessageType, []byte, bool) {
	b := make([]byte, 0, 128+len(room))
	b = append(b, `{"room":`...)
	b = appendJSONString(b, room)
	b = append(b, `,"recovery":{"recovered":`...)
	b = strconv.AppendBool(b, r.Recovered)
	b = append(b, `,"replayed":`...)
	b = strconv.AppendInt(b, int64(r.Replayed), 10)
	if !r.Since.IsZero() {
		b = append(b, `,"since":`...)
		b = appendJSONString(b, FormatCursor(r.Since))
	}
	if r.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, r.Reason)
	}
	return TextMessage, append(b, "}}"...), true
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	if utf8.ValidString(s) && plainJSON(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, _ := json.Marshal(s) // a string always marshals
	return append(b, enc...)
}

// plainJSON reports whether s needs no escaping in a JSON string.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			return false
		}
	}
	return true
}
