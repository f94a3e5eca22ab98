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

// TextHeaderSize is the length of the header of a history-room message
// (RunSpec.History): the HeaderSize bytes written as 32 lowercase hex
// digits, so that the message is text the hub's framer embeds as a JSON
// string without escaping.
const TextHeaderSize = 2 * HeaderSize

const hexDigits = "0123456789abcdef"

// PutTextHeader writes seq and sentUnixNano at the start of b as
// TextHeaderSize hex digits; b must hold at least TextHeaderSize bytes.
func PutTextHeader(b []byte, seq uint64, sentUnixNano int64) {
	var raw [HeaderSize]byte
	PutHeader(raw[:], seq, sentUnixNano)
	for i, c := range raw {
		b[2*i] = hexDigits[c>>4]
		b[2*i+1] = hexDigits[c&0xf]
	}
}

// ParseTextHeader reads the header written by PutTextHeader. ok is false
// when b is shorter than TextHeaderSize or its first TextHeaderSize bytes
// are not lowercase hex digits.
func ParseTextHeader(b []byte) (seq uint64, sentUnixNano int64, ok bool) {
	if len(b) < TextHeaderSize {
		return 0, 0, false
	}
	var raw [HeaderSize]byte
	for i := range raw {
		hi, ok1 := unhex(b[2*i])
		lo, ok2 := unhex(b[2*i+1])
		if !ok1 || !ok2 {
			return 0, 0, false
		}
		raw[i] = hi<<4 | lo
	}
	return ParseHeader(raw[:])
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
