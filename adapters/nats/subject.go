package nats

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	prefix   string
	all      string
	presence string
	room     string // prefix of room subjects, ending in "."
	history  string // prefix of history subjects, ending in "."
}

func newSubjects(prefix string) subjects {
	return subjects{
		prefix:   prefix,
		all:      prefix + ".all",
		presence: prefix + ".presence",
		room:     prefix + ".room.",
		history:  prefix + ".history.",
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
func (s subjects) roomSubject(room string) string { return tokenSubject(s.room, room) }

// tokenSubject returns base followed by the subject token of room (see
// roomSubject): the room's own subject under base.
func tokenSubject(base, room string) string {
	var tok []byte
	if len(room) <= maxPlainRoom {
		tok = []byte(room)
	} else {
		sum := sha256.Sum256([]byte(room))
		tok = sum[:]
	}
	enc := base64.RawURLEncoding
	b := make([]byte, len(base)+enc.EncodedLen(len(tok)))
	copy(b, base)
	enc.Encode(b[len(base):], tok)
	return string(b)
}

// historyBase returns the subject prefix, ending in ".", of the rooms kept
// with options k: "<prefix>.history.<size>_<ttl-ms>.".
func (s subjects) historyBase(k historyKey) string {
	return fmt.Sprintf("%s%d_%d.", s.history, k.size, k.ttlMS)
}

// maxStreamPrefix bounds the part of a stream name taken from the subject
// prefix; a longer prefix is cut and told apart by a hash.
const maxStreamPrefix = 48

// historyStream returns the name of the JetStream stream that keeps the
// rooms with options k: "<PREFIX>_HISTORY_<size>_<ttl-ms>", with the
// prefix's name token (see nameToken).
func (s subjects) historyStream(k historyKey) string {
	return fmt.Sprintf("%s_HISTORY_%d_%d", s.nameToken(), k.size, k.ttlMS)
}

// presenceBucket returns the name of the JetStream key-value bucket that
// keeps the member records: "<PREFIX>_PRESENCE", with the prefix's name
// token (see nameToken); its stream is "KV_<PREFIX>_PRESENCE".
func (s subjects) presenceBucket() string { return s.nameToken() + "_PRESENCE" }

// nameToken returns the prefix as it starts the names of streams and
// buckets: upper-cased with its dots turned into underscores. A prefix with
// characters that mapping could confuse (upper case, '_', anything but
// a-z, 0-9, '-' and '.') or longer than maxStreamPrefix is cut and
// followed by a hash of it, so distinct prefixes never share a name.
func (s subjects) nameToken() string {
	var b strings.Builder
	exact := len(s.prefix) <= maxStreamPrefix
	for _, r := range s.prefix {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == '.':
			b.WriteByte('_')
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
			exact = false
		default:
			b.WriteByte('_')
			exact = false
		}
	}
	name := b.String()
	if !exact {
		sum := sha256.Sum256([]byte(s.prefix))
		name = name[:min(len(name), maxStreamPrefix)] + "_" + strings.ToUpper(hex.EncodeToString(sum[:5]))
	}
	return name
}
