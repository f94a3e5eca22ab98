package core

import (
	"encoding/binary"
	"sync"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// frame is one outbound data message. A broadcast allocates one frame and
// queues the same pointer for every recipient.
type frame struct {
	typ  MessageType
	data []byte

	// pm frames the message for compressed connections, built once on first
	// use and shared by every writer.
	pmOnce sync.Once
	pm     *websocket.PreparedMessage
	pmErr  error
}

func newFrame(typ MessageType, data []byte) *frame { return &frame{typ: typ, data: data} }

// checkText returns ErrInvalidUTF8 for text that is not valid UTF-8, unless
// the checks are off.
func (h *Hub) checkText(typ MessageType, data []byte) error {
	if typ == TextMessage && !h.cfg.DisableUTF8Validation && !utf8.Valid(data) {
		h.metrics.IncrementErrors("invalid_utf8_send")
		return ErrInvalidUTF8
	}
	return nil
}

// frameFor returns the frame of a send after checkText.
func (h *Hub) frameFor(typ MessageType, data []byte) (*frame, error) {
	if err := h.checkText(typ, data); err != nil {
		return nil, err
	}
	return newFrame(typ, data), nil
}

// refusedText logs, at a bounded rate, a text send refused by a method that
// returns no error (checkText counted it).
func (h *Hub) refusedText(op string) {
	if h.utf8Log.allow() {
		h.logger.Warn("refused to send text that is not valid UTF-8", "op", op)
	}
}

func (f *frame) prepared() (*websocket.PreparedMessage, error) {
	f.pmOnce.Do(func() { f.pm, f.pmErr = websocket.NewPreparedMessage(int(f.typ), f.data) })
	return f.pm, f.pmErr
}

// appendHeader appends an unmasked server frame header (FIN set).
func appendHeader(b []byte, opcode byte, n int) []byte {
	b = append(b, 0x80|opcode)
	switch {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return b
}

// appendControl appends a control frame; payload is cut to 125 bytes.
func appendControl(b []byte, opcode byte, payload []byte) []byte {
	if len(payload) > 125 {
		payload = payload[:125]
	}
	b = appendHeader(b, opcode, len(payload))
	return append(b, payload...)
}

// sendableCloseCode reports whether code may appear in a close frame
// (RFC 6455 section 7.4).
func sendableCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// appendClose appends a close frame with code and reason (reason cut to fit,
// on a UTF-8 boundary).
func appendClose(b []byte, code int, reason string) []byte {
	if code == websocket.CloseNoStatusReceived {
		return appendHeader(b, websocket.CloseMessage, 0)
	}
	if len(reason) > 123 {
		reason = reason[:123]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	payload := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(payload, uint16(code))
	payload = append(payload, reason...)
	return appendControl(b, websocket.CloseMessage, payload)
}
