package loadserver

import "encoding/binary"

// HeaderSize is the length of the header at the start of every paced
// broadcast and echo payload: seq (8 bytes) then send time (8 bytes), both
// big-endian.
const HeaderSize = 16

// PutHeader writes seq and sentUnixNano at the start of b, which must hold at
// least HeaderSize bytes.
func PutHeader(b []byte, seq uint64, sentUnixNano int64) {
	binary.BigEndian.PutUint64(b[0:8], seq)
	binary.BigEndian.PutUint64(b[8:16], uint64(sentUnixNano))
}

// ParseHeader reads the header written by PutHeader. ok is false when b is
// shorter than HeaderSize.
func ParseHeader(b []byte) (seq uint64, sentUnixNano int64, ok bool) {
	if len(b) < HeaderSize {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b[0:8]), int64(binary.BigEndian.Uint64(b[8:16])), true
}
