package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gorilla/websocket"
)

// Frame bits and opcodes of RFC 6455 section 5.2.
const (
	finBit  = 0x80
	rsv1Bit = 0x40
	rsv2Bit = 0x20
	rsv3Bit = 0x10
	maskBit = 0x80

	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	// maxControlPayload is the largest payload of a control frame.
	maxControlPayload = 125
	// minReadBuffer is the smallest read buffer the reader works with; it
	// holds any header (at most 14 bytes: two, an 8-byte length and a
	// 4-byte masking key) and any control frame's payload, which is
	// unmasked where it lies.
	minReadBuffer = 128
)

// protocolError is a fault in what the peer sent that the hub answers with
// a close frame carrying code; kind names it in the errors metric.
type protocolError struct {
	code    int
	kind    string
	reason  string // sent in the close frame; at most 123 bytes
	aligned bool   // the stream is at a frame boundary after the fault
}

func (e *protocolError) Error() string {
	return fmt.Sprintf("wshub: %s (close %d)", e.reason, e.code)
}

func protocolErr(reason string) *protocolError {
	return &protocolError{code: websocket.CloseProtocolError, kind: "protocol_error", reason: reason}
}

// frameHeader is one parsed client frame header.
type frameHeader struct {
	fin    bool
	rsv1   bool
	opcode byte
	length int64
	key    [4]byte
}

func (h *frameHeader) control() bool { return h.opcode&0x8 != 0 }

// frameReader cuts the bytes of one connection into frames. It reads from
// src through buf; payloads larger than buf are read straight into their
// destination. wait, when set, runs before every read that may block.
// Only the read pump uses a frameReader. traffic, when set, counts every
// byte read from src (once per read).
//
// With an idle pool (see useIdlePool) the reader holds no buffer while it
// waits for a peer that sends nothing: buf is nil whenever nothing is
// buffered and the reader waits on the socket, and comes from the pool
// only once bytes arrive.
type frameReader struct {
	src     io.Reader
	buf     []byte
	size    int // len(buf) when there is one
	r, w    int // unread bytes are buf[r:w]
	wait    func()
	traffic TrafficMetricsCollector
	idle    *idleReads // nil: buf is kept for the reader's life
}

func newFrameReader(src io.Reader, size int) frameReader {
	if size < minReadBuffer {
		size = minReadBuffer
	}
	return frameReader{src: src, buf: make([]byte, size), size: size}
}

// ensureBuf gives the reader a buffer if it has none.
func (fr *frameReader) ensureBuf() {
	if fr.buf == nil {
		fr.buf = fr.idle.get()
	}
}

// fill makes at least n (≤ len(buf)) bytes available in buf[r:w].
func (fr *frameReader) fill(n int) error {
	if fr.w-fr.r >= n {
		return nil
	}
	if fr.r == fr.w && fr.idle != nil {
		// Nothing buffered: wait for the peer without a buffer.
		fr.r, fr.w = 0, 0
		if fr.buf != nil {
			fr.idle.put(fr.buf)
			fr.buf = nil
		}
	}
	// Move what is left to the front, so that the read can take as many
	// frames as the buffer holds.
	if fr.r > 0 {
		fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r = 0
	}
	for fr.w-fr.r < n {
		if fr.wait != nil {
			fr.wait()
		}
		var m int
		var err error
		if fr.buf == nil {
			fr.buf, m, err = fr.idle.read()
		} else {
			m, err = fr.src.Read(fr.buf[fr.w:])
		}
		fr.w += m
		fr.count(m)
		if err != nil {
			if fr.w-fr.r >= n {
				return nil // the error comes back on the next read
			}
			if errors.Is(err, io.EOF) && fr.w > fr.r {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// header reads and checks the next frame header. Faults that do not depend
// on the message being received (reserved bits, unknown opcodes, unmasked
// frames, malformed control frames and lengths) are protocol errors.
func (fr *frameReader) header() (frameHeader, error) {
	var h frameHeader
	if err := fr.fill(2); err != nil {
		return h, err
	}
	b0, b1 := fr.buf[fr.r], fr.buf[fr.r+1]
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&maskBit != 0 {
		n += 4
	}
	if err := fr.fill(n); err != nil {
		return h, err
	}
	p := fr.buf[fr.r : fr.r+n]
	fr.r += n

	h.fin = b0&finBit != 0
	h.rsv1 = b0&rsv1Bit != 0
	h.opcode = b0 & 0x0f
	switch l := b1 & 0x7f; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(p[2:]))
		p = p[4:]
	case 127:
		v := binary.BigEndian.Uint64(p[2:])
		if v>>63 != 0 {
			return h, protocolErr("invalid frame length")
		}
		h.length = int64(v)
		p = p[10:]
	default:
		h.length = int64(l)
		p = p[2:]
	}
	if b0&(rsv2Bit|rsv3Bit) != 0 {
		return h, protocolErr("reserved bits set")
	}
	switch h.opcode {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return h, protocolErr("unknown opcode")
	}
	if b1&maskBit == 0 {
		return h, protocolErr("client frame not masked")
	}
	copy(h.key[:], p)
	if h.control() {
		switch {
		case !h.fin:
			return h, protocolErr("fragmented control frame")
		case h.length > maxControlPayload:
			return h, protocolErr("control frame too long")
		case h.rsv1:
			return h, protocolErr("compressed control frame")
		}
	}
	return h, nil
}

// payload reads len(dst) payload bytes into dst and unmasks them; pos is
// the offset of dst within the frame's payload, for the masking key.
func (fr *frameReader) payload(dst []byte, key [4]byte, pos int) error {
	n := copy(dst, fr.buf[fr.r:fr.w])
	fr.r += n
	rest := dst[n:]
	for len(rest) > 0 {
		if len(rest) < fr.size {
			// Refill the buffer: the frames after this one come with it.
			if err := fr.fill(len(rest)); err != nil {
				return err
			}
			m := copy(rest, fr.buf[fr.r:fr.w])
			fr.r += m
			rest = rest[m:]
			continue
		}
		if fr.wait != nil {
			fr.wait()
		}
		m, err := fr.src.Read(rest)
		rest = rest[m:]
		fr.count(m)
		if err != nil && len(rest) > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	maskBytes(key, pos, dst)
	return nil
}

// count reports m bytes read from src to the traffic collector, if any.
func (fr *frameReader) count(m int) {
	if fr.traffic != nil && m > 0 {
		fr.traffic.AddBytesReceived(m)
	}
}

// control reads the n-byte payload (n ≤ maxControlPayload) of a control
// frame and unmasks it in the read buffer: it is valid until the next call
// on fr.
func (fr *frameReader) control(n int, key [4]byte) ([]byte, error) {
	if err := fr.fill(n); err != nil {
		return nil, err
	}
	p := fr.buf[fr.r : fr.r+n : fr.r+n]
	fr.r += n
	maskBytes(key, 0, p)
	return p, nil
}

// skip reads and drops the next n bytes.
func (fr *frameReader) skip(n int64) error {
	for n > 0 {
		if fr.r == fr.w {
			if err := fr.fill(1); err != nil {
				return err
			}
		}
		m := min(n, int64(fr.w-fr.r))
		fr.r += int(m)
		n -= m
	}
	return nil
}

// maskBytes XORs b with the masking key, starting at key offset pos&3.
func maskBytes(key [4]byte, pos int, b []byte) {
	i := 0
	// Byte by byte up to the key's start, then eight bytes at a time.
	for ; i < len(b) && (pos+i)&3 != 0; i++ {
		b[i] ^= key[(pos+i)&3]
	}
	if len(b)-i >= 8 {
		k := uint64(binary.LittleEndian.Uint32(key[:]))
		k |= k << 32
		for ; len(b)-i >= 8; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[(pos+i)&3]
	}
}
