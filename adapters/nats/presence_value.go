package nats

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The keys and values of the presence bucket (see the package
// documentation, "Presence").

const (
	// presenceValueV1 starts every value the adapter writes (see
	// appendPresenceValue).
	presenceValueV1 = 1
	// kvOperationHeader marks a key-value delete (DEL) or purge (PURGE);
	// jetstream does not export its name.
	kvOperationHeader = "KV-Operation"
)

// presenceKey returns the bucket key of key in room: "<room token>.<key token>"
// (see appendPresenceToken).
func presenceKey(room, key string) string { return string(appendPresenceKey(nil, room, key)) }

// appendPresenceKey appends presenceKey(room, key) to dst.
func appendPresenceKey(dst []byte, room, key string) []byte {
	dst = appendPresenceToken(dst, room)
	dst = append(dst, '.')
	return appendPresenceToken(dst, key)
}

// appendPresenceToken appends s encoded as one token of a key-value key:
// the base64url (unpadded) encoding of s, or, for s longer than
// maxPlainRoom bytes, "=" and the base64url encoding of its SHA-256, so
// that keys stay short (the value holds the names themselves); "=" alone
// for "". Base64url never writes '=', so a hashed token cannot equal a
// plain one: two names share a token only by a SHA-256 collision.
func appendPresenceToken(dst []byte, s string) []byte {
	enc := base64.RawURLEncoding
	switch {
	case s == "":
		return append(dst, '=')
	case len(s) <= maxPlainRoom:
		return enc.AppendEncode(dst, []byte(s))
	}
	sum := sha256.Sum256([]byte(s))
	return enc.AppendEncode(append(dst, '='), sum[:])
}

// appendPresenceValue appends the value stored for data as the record of
// key in room: a version byte (presenceValueV1), the room and the key, each
// as a uvarint length and its bytes, then data. The names are in the value
// because a key's tokens may be hashes.
func appendPresenceValue(dst []byte, room, key string, data []byte) []byte {
	dst = append(dst, presenceValueV1)
	dst = binary.AppendUvarint(dst, uint64(len(room)))
	dst = append(dst, room...)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	return append(dst, data...)
}

var errBadPresenceValue = errors.New("not a presence value")

// decodePresenceValue splits a value made by appendPresenceValue. data is
// a subslice of v, empty but not nil when the record's data is empty.
func decodePresenceValue(v []byte) (room, key string, data []byte, err error) {
	if len(v) == 0 || v[0] != presenceValueV1 {
		return "", "", nil, errBadPresenceValue
	}
	rest := v[1:]
	name := func() (string, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return "", false
		}
		s := string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
		return s, true
	}
	room, ok := name()
	if !ok {
		return "", "", nil, errBadPresenceValue
	}
	if key, ok = name(); !ok {
		return "", "", nil, errBadPresenceValue
	}
	return room, key, rest, nil
}

// isKVMarker reports whether a stored message with headers hdr marks a
// deleted key rather than holding a value.
func isKVMarker(hdr natsgo.Header) bool {
	if len(hdr) == 0 {
		return false
	}
	return hdr.Get(kvOperationHeader) != "" || hdr.Get(jetstream.MarkerReasonHeader) != ""
}
