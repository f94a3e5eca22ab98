package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/wshub/wshub/core"
)

// Version is the newest format version Decode reads. Append writes it for
// messages that carry an extension (a numbered message, see
// core.Sequence) and version 1, byte for byte as before, for the others.
const Version = 2

// Extension keys of version 2 (see the package documentation).
const (
	extSequence = 1
	extPosition = 2
	extTrace    = 3
)

// MaxEpochLen bounds a position's epoch on the wire; a longer one is
// malformed.
const MaxEpochLen = 64

// Sentinel errors returned (wrapped) by Decode. Match them with errors.Is.
var (
	// ErrMalformed reports bytes that are not a well-formed message: empty or
	// truncated input, a length beyond the end of the input, an unknown type
	// code or flag, too many except IDs, or bytes after the message.
	ErrMalformed = errors.New("wshub: wire: malformed message")
	// ErrVersion reports a message written in a newer version of the format
	// than this package reads.
	ErrVersion = errors.New("wshub: wire: unsupported version")
)

// ErrorOp returns the core.AdapterError Op under which an adapter reports
// an error of Decode: "version" for ErrVersion (a sender on a newer format),
// "decode" for anything else.
func ErrorOp(err error) string {
	if errors.Is(err, ErrVersion) {
		return "version"
	}
	return "decode"
}

// Type codes (see the table in the package documentation).
const (
	codeOther byte = iota
	codeBroadcast
	codeBroadcastExcept
	codeRoom
	codeRoomExcept
	codeUser
	codeClient
	codePresence
	codeLimit // first unknown code
)

// Flag bits: which optional fields follow.
const (
	flagRoom     byte = 1 << 0
	flagUser     byte = 1 << 1
	flagClient   byte = 1 << 2
	flagExcept   byte = 1 << 3
	flagReserved byte = 0xff &^ (flagRoom | flagUser | flagClient | flagExcept)
)

// typeNames maps a type code to its core constant; index 0 is unused.
var typeNames = [codeLimit]string{
	codeBroadcast:       core.AdapterBroadcast,
	codeBroadcastExcept: core.AdapterBroadcastExcept,
	codeRoom:            core.AdapterRoom,
	codeRoomExcept:      core.AdapterRoomExcept,
	codeUser:            core.AdapterUser,
	codeClient:          core.AdapterClient,
	codePresence:        core.AdapterPresence,
}

func typeCode(t string) byte {
	switch t {
	case core.AdapterBroadcast:
		return codeBroadcast
	case core.AdapterBroadcastExcept:
		return codeBroadcastExcept
	case core.AdapterRoom:
		return codeRoom
	case core.AdapterRoomExcept:
		return codeRoomExcept
	case core.AdapterUser:
		return codeUser
	case core.AdapterClient:
		return codeClient
	case core.AdapterPresence:
		return codePresence
	default:
		return codeOther
	}
}

func flagsOf(m *core.AdapterMessage) byte {
	var f byte
	if m.Room != "" {
		f |= flagRoom
	}
	if m.UserID != "" {
		f |= flagUser
	}
	if m.ClientID != "" {
		f |= flagClient
	}
	if len(m.ExceptClientIDs) > 0 {
		f |= flagExcept
	}
	return f
}

// Append appends the encoding of m to dst and returns the extended slice. It
// allocates only when dst lacks capacity; Size tells how much is needed. m is
// not modified or retained.
func Append(dst []byte, m *core.AdapterMessage) []byte {
	code := typeCode(m.Type)
	flags := flagsOf(m)
	version := byte(1)
	if m.Seq.Number != 0 || m.Pos.Offset != 0 || len(m.Trace) != 0 {
		version = 2
	}
	dst = append(dst, version, code, flags)
	if code == codeOther {
		dst = appendString(dst, m.Type)
	}
	dst = appendString(dst, m.NodeID)
	if flags&flagRoom != 0 {
		dst = appendString(dst, m.Room)
	}
	if flags&flagUser != 0 {
		dst = appendString(dst, m.UserID)
	}
	if flags&flagClient != 0 {
		dst = appendString(dst, m.ClientID)
	}
	if flags&flagExcept != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(m.ExceptClientIDs)))
		for _, id := range m.ExceptClientIDs {
			dst = appendString(dst, id)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(m.MsgType))
	dst = binary.AppendUvarint(dst, uint64(len(m.Data)))
	dst = append(dst, m.Data...)
	if m.Seq.Number != 0 {
		dst = append(dst, extSequence, byte(seqValueSize(&m.Seq)))
		dst = binary.LittleEndian.AppendUint64(dst, m.Seq.Instance)
		dst = binary.AppendUvarint(dst, m.Seq.Epoch)
		dst = binary.AppendUvarint(dst, m.Seq.Number)
	}
	if len(m.Trace) != 0 {
		// Before the position: a store appends that one to an encoded
		// message (see the package documentation).
		dst = append(dst, extTrace)
		dst = binary.AppendUvarint(dst, uint64(len(m.Trace)))
		dst = append(dst, m.Trace...)
	}
	if m.Pos.Offset != 0 {
		dst = append(dst, extPosition)
		dst = binary.AppendUvarint(dst, uint64(posValueSize(&m.Pos)))
		dst = binary.AppendUvarint(dst, m.Pos.Offset)
		dst = append(dst, m.Pos.Epoch...)
	}
	return dst
}

// posValueSize is the length of the position extension's value: the
// offset's varint, then the epoch's bytes. An epoch longer than MaxEpochLen
// or with other characters than [0-9A-Za-z_-] is the store's bug and fails
// to decode.
func posValueSize(p *core.Position) int { return uvarintSize(p.Offset) + len(p.Epoch) }

// seqValueSize is the length of the sequence extension's value: at most
// 8+10+10 bytes, so its length fits in one varint byte.
func seqValueSize(q *core.Sequence) int { return 8 + uvarintSize(q.Epoch) + uvarintSize(q.Number) }

// Size returns the number of bytes Append writes for m.
func Size(m *core.AdapterMessage) int {
	flags := flagsOf(m)
	n := 3
	if typeCode(m.Type) == codeOther {
		n += stringSize(m.Type)
	}
	n += stringSize(m.NodeID)
	if flags&flagRoom != 0 {
		n += stringSize(m.Room)
	}
	if flags&flagUser != 0 {
		n += stringSize(m.UserID)
	}
	if flags&flagClient != 0 {
		n += stringSize(m.ClientID)
	}
	if flags&flagExcept != 0 {
		n += uvarintSize(uint64(len(m.ExceptClientIDs)))
		for _, id := range m.ExceptClientIDs {
			n += stringSize(id)
		}
	}
	n += uvarintSize(uint64(m.MsgType))
	n += uvarintSize(uint64(len(m.Data))) + len(m.Data)
	if m.Seq.Number != 0 {
		n += 2 + seqValueSize(&m.Seq)
	}
	if len(m.Trace) != 0 {
		n += 1 + uvarintSize(uint64(len(m.Trace))) + len(m.Trace)
	}
	if m.Pos.Offset != 0 {
		n += 1 + uvarintSize(uint64(posValueSize(&m.Pos))) + posValueSize(&m.Pos)
	}
	return n
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func stringSize(s string) int { return uvarintSize(uint64(len(s))) + len(s) }

func uvarintSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// span locates a field's bytes in the input.
type span struct{ off, n int }

// reader walks the input; the first failure sticks in err and makes every
// later read return zero values.
type reader struct {
	b   []byte
	off int
	err error
}

// fail records the first failure: what was being read and what is wrong.
func (r *reader) fail(what, problem string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s at offset %d", ErrMalformed, what, problem, r.off)
	}
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b[r.off:])
	if k <= 0 {
		r.fail(what, "bad or truncated varint")
		return 0
	}
	r.off += k
	return v
}

// field reads a uvarint length and skips that many bytes.
func (r *reader) field(what string) span {
	n := r.uvarint(what)
	if r.err != nil {
		return span{}
	}
	if n > uint64(r.remaining()) {
		r.fail(what, "length beyond end of input")
		return span{}
	}
	s := span{off: r.off, n: int(n)}
	r.off += int(n)
	return s
}

// extensions reads the extensions of a version 2 message up to the end of
// the input: the ones it knows, and past the ones it does not.
func (r *reader) extensions() (core.Sequence, core.Position, span) {
	var seq core.Sequence
	var pos core.Position
	var trace span
	seen, seenPos, seenTrace := false, false, false
	for r.err == nil && r.remaining() > 0 {
		key := r.uvarint("extension key")
		v := r.field("extension value")
		if r.err != nil {
			break
		}
		switch key {
		case 0:
			r.fail("extension key", "zero")
		case extSequence:
			if seen {
				r.fail("sequence", "repeated")
				break
			}
			seen = true
			seq = r.sequence(r.b[v.off : v.off+v.n])
		case extPosition:
			if seenPos {
				r.fail("position", "repeated")
				break
			}
			seenPos = true
			pos = r.position(r.b[v.off : v.off+v.n])
		case extTrace:
			switch {
			case seenTrace:
				r.fail("trace context", "repeated")
			case v.n == 0 || v.n > core.MaxTraceContext:
				r.fail("trace context", "empty or longer than core.MaxTraceContext")
			}
			seenTrace, trace = true, v
		default: // a later extension: skipped
		}
	}
	return seq, pos, trace
}

// position decodes the value of the position extension.
func (r *reader) position(b []byte) core.Position {
	off, k := binary.Uvarint(b)
	if k <= 0 || off == 0 {
		r.fail("position", "bad or zero offset")
		return core.Position{}
	}
	epoch := b[k:]
	if len(epoch) == 0 || len(epoch) > MaxEpochLen {
		r.fail("position", "epoch empty or too long")
		return core.Position{}
	}
	for _, c := range epoch {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') { //nolint:staticcheck // the rule as written
			r.fail("position", "epoch has a character other than [0-9A-Za-z_-]")
			return core.Position{}
		}
	}
	return core.Position{Epoch: string(epoch), Offset: off}
}

// sequence decodes the value of the sequence extension. Bytes after the
// fields it knows are left for later versions to define.
func (r *reader) sequence(b []byte) core.Sequence {
	if len(b) < 8 {
		r.fail("sequence", "shorter than its instance")
		return core.Sequence{}
	}
	q := core.Sequence{Instance: binary.LittleEndian.Uint64(b)}
	b = b[8:]
	var k int
	if q.Epoch, k = binary.Uvarint(b); k <= 0 {
		r.fail("sequence", "bad epoch")
		return core.Sequence{}
	}
	if q.Number, k = binary.Uvarint(b[k:]); k <= 0 || q.Number == 0 {
		r.fail("sequence", "bad or zero number")
		return core.Sequence{}
	}
	return q
}

// Decode decodes one message that must fill all of b. On failure it returns
// an error wrapping ErrMalformed or ErrVersion and a zero message; it never
// panics. The result does not alias b: its strings and Data are copies (all
// strings share one allocation, Data has its own). Empty Data and an empty
// except list decode as nil.
func Decode(b []byte) (core.AdapterMessage, error) {
	if len(b) == 0 {
		return core.AdapterMessage{}, fmt.Errorf("%w: empty input", ErrMalformed)
	}
	switch {
	case b[0] == 0:
		return core.AdapterMessage{}, fmt.Errorf("%w: version 0", ErrMalformed)
	case b[0] > Version:
		return core.AdapterMessage{}, fmt.Errorf("%w: version %d, newest known is %d", ErrVersion, b[0], Version)
	}
	version := b[0]
	if len(b) < 3 {
		return core.AdapterMessage{}, fmt.Errorf("%w: truncated header", ErrMalformed)
	}
	code, flags := b[1], b[2]
	if code >= codeLimit {
		return core.AdapterMessage{}, fmt.Errorf("%w: unknown type code %d", ErrMalformed, code)
	}
	if flags&flagReserved != 0 {
		return core.AdapterMessage{}, fmt.Errorf("%w: reserved flags 0x%02x set", ErrMalformed, flags&flagReserved)
	}

	// First pass: validate and locate every field without allocating.
	r := reader{b: b, off: 3}
	var typ, node, room, user, client, data span
	if code == codeOther {
		typ = r.field("type name")
	}
	node = r.field("node ID")
	if flags&flagRoom != 0 {
		room = r.field("room")
	}
	if flags&flagUser != 0 {
		user = r.field("user ID")
	}
	if flags&flagClient != 0 {
		client = r.field("client ID")
	}
	var exceptCount, exceptOff int
	strLen := typ.n + node.n + room.n + user.n + client.n
	if flags&flagExcept != 0 {
		n := r.uvarint("except count")
		if r.err == nil && n > uint64(r.remaining()) {
			r.fail("except count", "more IDs than remaining bytes")
		}
		exceptCount, exceptOff = int(n), r.off
		for i := 0; i < exceptCount && r.err == nil; i++ {
			strLen += r.field("except ID").n
		}
	}
	mt := r.uvarint("msg type")
	msgType := int(int64(mt))
	if r.err == nil && int64(msgType) != int64(mt) {
		r.fail("msg type", "out of range")
	}
	data = r.field("data")
	var seq core.Sequence
	var where core.Position
	var trace span
	if version >= 2 {
		seq, where, trace = r.extensions()
	}
	if r.err == nil && r.remaining() != 0 {
		r.fail("end", "trailing bytes")
	}
	if r.err != nil {
		return core.AdapterMessage{}, r.err
	}

	// Second pass: copy. All strings come from one allocation.
	var sb strings.Builder
	sb.Grow(strLen)
	for _, s := range [...]span{typ, node, room, user, client} {
		sb.Write(b[s.off : s.off+s.n])
	}
	exceptStart := sb.Len()
	off := exceptOff
	for range exceptCount {
		n, k := binary.Uvarint(b[off:]) // validated by the first pass
		off += k
		sb.Write(b[off : off+int(n)])
		off += int(n)
	}
	all := sb.String()

	m := core.AdapterMessage{MsgType: msgType, Seq: seq, Pos: where}
	pos := 0
	next := func(n int) string {
		s := all[pos : pos+n]
		pos += n
		return s
	}
	if code == codeOther {
		m.Type = next(typ.n)
	} else {
		m.Type = typeNames[code]
	}
	m.NodeID = next(node.n)
	m.Room = next(room.n)
	m.UserID = next(user.n)
	m.ClientID = next(client.n)
	if exceptCount > 0 {
		m.ExceptClientIDs = make([]string, exceptCount)
		pos = exceptStart
		off = exceptOff
		for i := range m.ExceptClientIDs {
			n, k := binary.Uvarint(b[off:])
			off += k + int(n)
			m.ExceptClientIDs[i] = next(int(n))
		}
	}
	if data.n > 0 {
		m.Data = make([]byte, data.n)
		copy(m.Data, b[data.off:])
	}
	if trace.n > 0 {
		m.Trace = make([]byte, trace.n)
		copy(m.Trace, b[trace.off:])
	}
	return m, nil
}
