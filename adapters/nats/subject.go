package nats

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wshub/wshub/core"
)

// maxPlainRoom is the longest room name (in bytes) put on the subject as is
// (base64-encoded, at most 128 characters); longer names are hashed so a
// subject never nears the broker's control-line limit.
const maxPlainRoom = 96

// maxPrefixLen bounds the subject prefix, for the same reason.
const maxPrefixLen = 256

// validatePrefix reports whether p is one or more valid NATS subject tokens.
func validatePrefix(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPrefix)
	}
	if len(p) > maxPrefixLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidPrefix, maxPrefixLen)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidPrefix)
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("%w: %q has an empty token", ErrInvalidPrefix, p)
		}
		for _, r := range tok {
			if r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) {
				return fmt.Errorf("%w: %q contains %q", ErrInvalidPrefix, p, r)
			}
		}
	}
	return nil
}

// subjects holds the fixed subjects of one adapter.
type subjects struct {
	all      string
	presence string
	room     string // prefix of room subjects, ending in "."
}

func newSubjects(prefix string) subjects {
	return subjects{
		all:      prefix + ".all",
		presence: prefix + ".presence",
		room:     prefix + ".room.",
	}
}

// isRoomSubjectOf reports whether subject is the room subject msg belongs
// on: a room message published by an adapter with our prefix.
func (a *Adapter) isRoomSubjectOf(subject string, msg *core.AdapterMessage) bool {
	return (msg.Type == core.AdapterRoom || msg.Type == core.AdapterRoomExcept) && subject == a.subj.roomSubject(msg.Room)
}

// roomSubject returns the subject carrying the traffic of room. Distinct
// names map to distinct subjects except for a SHA-256 collision between a
// long name and a 32-byte name, which would only cost extra traffic: the
// receiver delivers by the room name in the payload.
func (s subjects) roomSubject(room string) string {
	var tok []byte
	if len(room) <= maxPlainRoom {
		tok = []byte(room)
	} else {
		sum := sha256.Sum256([]byte(room))
		tok = sum[:]
	}
	enc := base64.RawURLEncoding
	b := make([]byte, len(s.room)+enc.EncodedLen(len(tok)))
	copy(b, s.room)
	enc.Encode(b[len(s.room):], tok)
	return string(b)
}
