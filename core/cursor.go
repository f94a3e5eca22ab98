package core

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// maxCursorEpoch bounds an epoch in a cursor (as the bus does).
const maxCursorEpoch = 64

// RecoverParam is the query parameter of the upgrade request in which a
// reconnecting client presents its cursors, one value per room:
// "<epoch>:<offset>:<room>" (see RecoveryFromQuery). A hub with room
// options (WithRoomOptions) reads it on every upgrade unless WithRecovery
// gives the cursors; a hub without them leaves it to the app.
const RecoverParam = "recover"

// MaxRecoverCursors bounds the cursors one upgrade request may present. A
// request with more is refused with 400.
const MaxRecoverCursors = 256

// FormatCursor returns the text form of p: "<epoch>:<offset>". It is what
// the default framer sends with each message and what ParseCursor reads.
func FormatCursor(p Position) string {
	return p.Epoch + ":" + strconv.FormatUint(p.Offset, 10)
}

// ParseCursor reads a cursor "<epoch>:<offset>": an epoch of 1 to 64
// letters, digits, '-' or '_', and a decimal offset of at least 1. Anything
// else is an error wrapping ErrBadCursor. A well-formed cursor may still be
// one the store cannot honour; recovery says so.
func ParseCursor(s string) (Position, error) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return Position{}, fmt.Errorf("%w: no ':' in %.80q", ErrBadCursor, s)
	}
	return parseCursorParts(s[:i], s[i+1:])
}

func parseCursorParts(epoch, offset string) (Position, error) {
	if len(epoch) == 0 || len(epoch) > maxCursorEpoch {
		return Position{}, fmt.Errorf("%w: epoch must have 1 to %d characters", ErrBadCursor, maxCursorEpoch)
	}
	for i := 0; i < len(epoch); i++ {
		c := epoch[i]
		if !cursorEpochByte(c) {
			return Position{}, fmt.Errorf("%w: character %q in epoch", ErrBadCursor, c)
		}
	}
	if len(offset) == 0 || len(offset) > 20 || offset[0] == '+' || offset[0] == '-' {
		return Position{}, fmt.Errorf("%w: offset %.24q", ErrBadCursor, offset)
	}
	off, err := strconv.ParseUint(offset, 10, 64)
	if err != nil || off == 0 {
		return Position{}, fmt.Errorf("%w: offset %.24q", ErrBadCursor, offset)
	}
	return Position{Epoch: epoch, Offset: off}, nil
}

// RecoveryFromQuery reads the cursors of a reconnecting client from the
// RecoverParam values of q: each "<epoch>:<offset>:<room>", the room being
// everything after the second ':'. It returns nil when there are none, and
// an error wrapping ErrBadCursor for a malformed value, an empty room, a
// room given twice, or more than MaxRecoverCursors values.
func RecoveryFromQuery(q url.Values) (map[string]Position, error) {
	vals := q[RecoverParam]
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > MaxRecoverCursors {
		return nil, fmt.Errorf("%w: %d cursors, at most %d", ErrBadCursor, len(vals), MaxRecoverCursors)
	}
	out := make(map[string]Position, len(vals))
	for _, v := range vals {
		i := strings.IndexByte(v, ':')
		if i < 0 {
			return nil, fmt.Errorf("%w: %.80q is not epoch:offset:room", ErrBadCursor, v)
		}
		j := strings.IndexByte(v[i+1:], ':')
		if j < 0 {
			return nil, fmt.Errorf("%w: %.80q is not epoch:offset:room", ErrBadCursor, v)
		}
		j += i + 1
		p, err := parseCursorParts(v[:i], v[i+1:j])
		if err != nil {
			return nil, err
		}
		room := v[j+1:]
		if room == "" {
			return nil, fmt.Errorf("%w: empty room in %.80q", ErrBadCursor, v)
		}
		if _, dup := out[room]; dup {
			return nil, fmt.Errorf("%w: room %.80q given twice", ErrBadCursor, room)
		}
		out[room] = p
	}
	return out, nil
}

// WithRecovery gives the client's cursors per room, instead of the
// RecoverParam query parameters: when the client joins one of those rooms
// and the room keeps history, it first receives what it missed since its
// cursor (see Hub.JoinRoom). A cursor is used once.
func WithRecovery(cursors map[string]Position) UpgradeOption {
	return func(c *Client) {
		c.cursors = make(map[string]Position, len(cursors))
		for room, p := range cursors {
			c.cursors[room] = p
		}
	}
}

func cursorEpochByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_'
}
