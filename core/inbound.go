package core

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// inboundFreeBytes is the size up to which a message being received is not
// counted against the hub's inbound bound: small messages never touch the
// shared counter.
const inboundFreeBytes = 4 << 10

// inboundChunk is the most a message's buffer grows by before the bytes to
// fill it have arrived, beyond what it holds already: what a frame header
// announces is not allocated, nor reserved, on the header's word.
const inboundChunk = 16 << 10

// inboundBudget bounds the bytes that all of a hub's connections hold in
// messages they are still receiving.
type inboundBudget struct {
	max  int64
	used atomic.Int64
}

// take reserves n bytes; it reports false, reserving nothing, when that
// would pass the bound.
func (b *inboundBudget) take(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

func (b *inboundBudget) give(n int64) { b.used.Add(-n) }

// inbound turns one connection's frames into messages: it reassembles
// fragments, inflates compressed messages, and enforces MaxMessageSize,
// MessageReadTimeout, the hub's inbound bound and UTF-8 in text. Only the
// read pump uses it.
type inbound struct {
	fr        frameReader
	compress  bool  // permessage-deflate was negotiated
	limit     int64 // MaxMessageSize, on the inflated size
	wireLimit int64 // bound on the compressed bytes of one message
	checkUTF8 bool
	timeout   time.Duration  // MessageReadTimeout; zero: none
	budget    *inboundBudget // nil: unbounded
	// bound caps the socket's read deadline at t while a message is being
	// received; a zero t lifts the cap. Nil in tests without a socket.
	bound func(t time.Time)
	// waitFn is beforeBlock, made once; it is the frame reader's wait
	// while a message is in progress and nil between messages.
	waitFn func()

	// The message being received.
	op         byte // opText or opBinary; 0 between messages
	compressed bool
	msg        []byte
	reserved   int64     // bytes of budget held for msg
	deadline   time.Time // when msg must be complete; zero until it waited on the network

}

// The faults found in whole messages leave the stream at a frame boundary
// (aligned), so that what the peer sends next can still be read as frames.
var (
	errMessageTooBig  = &protocolError{code: websocket.CloseMessageTooBig, kind: "message_too_big", reason: "message too big"}
	errInflatedTooBig = &protocolError{code: websocket.CloseMessageTooBig, kind: "message_too_big", reason: "message too big", aligned: true}
	errInvalidUTF8    = &protocolError{code: websocket.CloseInvalidFramePayloadData, kind: "invalid_utf8", reason: "text is not valid UTF-8", aligned: true}
	errInflate        = &protocolError{code: websocket.CloseInvalidFramePayloadData, kind: "protocol_error", reason: "invalid compressed data", aligned: true}
	errInboundFull    = &protocolError{code: websocket.CloseTryAgainLater, kind: "inbound_memory", reason: "server busy, try again later"}
	errMessageSlow    = &protocolError{code: websocket.ClosePolicyViolation, kind: "message_timeout", reason: "message not completed in time"}
)

// next returns the next data message (opText or opBinary, with a payload
// the caller owns) or control frame (opPing, opPong or opClose, with a
// payload valid until the next call; a close payload is already checked).
// Faults of the peer come back as *protocolError, socket errors as they are.
func (in *inbound) next() (byte, []byte, error) {
	for {
		h, err := in.fr.header()
		if err != nil {
			return 0, nil, in.fail(err)
		}
		if h.control() {
			p, err := in.fr.control(int(h.length), h.key)
			if err != nil {
				return 0, nil, in.fail(err)
			}
			if h.opcode == opClose {
				if err := checkClosePayload(p); err != nil {
					return 0, nil, in.fail(err)
				}
			}
			return h.opcode, p, nil
		}
		switch {
		case h.opcode == opContinuation && in.op == 0:
			return 0, nil, in.fail(protocolErr("continuation frame outside a message"))
		case h.opcode != opContinuation && in.op != 0:
			return 0, nil, in.fail(protocolErr("new message inside a fragmented one"))
		case h.rsv1 && (!in.compress || h.opcode == opContinuation):
			return 0, nil, in.fail(protocolErr("unexpected compression bit"))
		}
		if h.opcode != opContinuation {
			in.op, in.compressed = h.opcode, h.rsv1
			in.fr.wait = in.waitFn
		}
		have := int64(len(in.msg))
		limit := in.limit
		if in.compressed {
			limit = in.wireLimit
		}
		if h.length > limit-have {
			return 0, nil, in.fail(errMessageTooBig)
		}
		// Read the payload as it arrives, the buffer at most doubling (by
		// inboundChunk at least) ahead of the bytes in it.
		for pos := int64(0); pos < h.length; {
			n := int64(len(in.msg))
			step := min(h.length-pos, max(inboundChunk, n))
			if err := in.grow(n+step, limit); err != nil {
				return 0, nil, in.fail(err)
			}
			in.msg = in.msg[:n+step]
			if err := in.fr.payload(in.msg[n:], h.key, int(pos&3)); err != nil {
				return 0, nil, in.fail(err)
			}
			pos += step
		}
		if h.fin {
			return in.finish()
		}
	}
}

// grow makes room for total bytes in msg, reserving its capacity from the
// budget once it passes inboundFreeBytes.
func (in *inbound) grow(total, limit int64) error {
	if int64(cap(in.msg)) >= total {
		return nil
	}
	size := total
	if in.msg != nil {
		// A fragmented message: double, to keep appends amortised.
		size = max(total, min(2*int64(cap(in.msg)), limit))
	}
	if in.budget != nil && size > inboundFreeBytes {
		if !in.budget.take(size - in.reserved) {
			return errInboundFull
		}
		in.reserved = size
	}
	grown := make([]byte, len(in.msg), size)
	copy(grown, in.msg)
	in.msg = grown
	return nil
}

// finish completes the message received so far.
func (in *inbound) finish() (byte, []byte, error) {
	op, data, compressed := in.op, in.msg, in.compressed
	in.reset()
	if compressed {
		var err error
		if data, err = inflate(data, in.limit); err != nil {
			return 0, nil, err
		}
	}
	if op == opText && in.checkUTF8 && !utf8.Valid(data) {
		return 0, nil, errInvalidUTF8
	}
	if data == nil {
		data = []byte{}
	}
	return op, data, nil
}

// fail ends the message in progress; a read that timed out at the
// message's own deadline becomes errMessageSlow.
func (in *inbound) fail(err error) error {
	if !in.deadline.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(in.deadline) {
		err = errMessageSlow
	}
	in.reset()
	return err
}

// reset forgets the message in progress and gives back what it held.
func (in *inbound) reset() {
	in.op, in.msg, in.compressed = 0, nil, false
	in.fr.wait = nil
	if in.reserved > 0 {
		in.budget.give(in.reserved)
		in.reserved = 0
	}
	if !in.deadline.IsZero() {
		in.deadline = time.Time{}
		if in.bound != nil {
			in.bound(time.Time{})
		}
	}
}

// beforeBlock runs before every read that may block while a message is in
// progress (it is the frame reader's wait only then): the first time the
// message waits on the network, its deadline starts.
func (in *inbound) beforeBlock() {
	if !in.deadline.IsZero() || in.timeout <= 0 {
		return
	}
	in.deadline = time.Now().Add(in.timeout)
	if in.bound != nil {
		in.bound(in.deadline)
	}
}

// checkClosePayload checks a peer's close frame body (RFC 6455 section
// 5.5.1): empty, or a code that may be sent followed by UTF-8 text.
func checkClosePayload(p []byte) error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return protocolErr("close frame with a 1-byte body")
	}
	if !sendableCloseCode(int(binary.BigEndian.Uint16(p))) {
		return protocolErr("invalid close code")
	}
	if !utf8.Valid(p[2:]) {
		return errInvalidUTF8
	}
	return nil
}

// closeCodeOf returns the code of a checked close payload (1005 if none).
func closeCodeOf(p []byte) int {
	if len(p) < 2 {
		return websocket.CloseNoStatusReceived
	}
	return int(binary.BigEndian.Uint16(p))
}

// deflateTail completes a permessage-deflate message for a flate reader:
// the empty stored block the sender removed (RFC 7692 section 7.2.1), then
// a final empty block so that the reader reaches EOF.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// flateReaders recycles decompressors, which are large.
var flateReaders sync.Pool

// inflate decompresses one message, failing with errInflatedTooBig once the
// output passes limit, without producing more than limit+1 bytes.
func inflate(compressed []byte, limit int64) ([]byte, error) {
	src := bytes.NewReader(append(compressed, deflateTail...))
	zr, ok := flateReaders.Get().(io.ReadCloser)
	if !ok {
		zr = flate.NewReader(src)
	} else if rs, ok := zr.(flate.Resetter); !ok || rs.Reset(src, nil) != nil {
		return nil, errInflate
	}
	defer flateReaders.Put(zr)
	out := make([]byte, 0, min(limit+1, max(512, 4*int64(len(compressed)))))
	for {
		if len(out) == cap(out) {
			grown := make([]byte, len(out), min(limit+1, 2*int64(cap(out))))
			copy(grown, out)
			out = grown
		}
		n, err := zr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if int64(len(out)) > limit {
			return nil, errInflatedTooBig
		}
		switch {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, errInflate
		}
	}
}
