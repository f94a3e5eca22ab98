package core

import (
	"bytes"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each malformed input closes its connection with the code RFC 6455 (or
// the hub's bounds) calls for, counted under that code and an error kind;
// the hub's other clients keep receiving, and the connection's goroutines
// are gone afterwards.
func TestMalformedInputClosesWithItsCode(t *testing.T) {
	invalid := []byte("ok \xff\xfe")
	tests := []struct {
		name     string
		deflate  bool
		give     func(t *testing.T, rc *rawConn)
		wantCode int
		wantKind string
	}{
		{
			name:     "invalid UTF-8 text",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0x81, invalid) },
			wantCode: websocket.CloseInvalidFramePayloadData, wantKind: "invalid_utf8",
		},
		{
			name: "invalid UTF-8 across fragments",
			give: func(_ *testing.T, rc *rawConn) {
				rc.frame(0x01, []byte("ok \xc3")) // a lead byte ...
				rc.frame(0x80, []byte("\x28"))    // ... and no continuation byte
			},
			wantCode: websocket.CloseInvalidFramePayloadData, wantKind: "invalid_utf8",
		},
		{
			name:     "invalid UTF-8 compressed",
			deflate:  true,
			give:     func(t *testing.T, rc *rawConn) { rc.frame(0xC1, deflate(t, invalid)) },
			wantCode: websocket.CloseInvalidFramePayloadData, wantKind: "invalid_utf8",
		},
		{
			name:    "invalid UTF-8 compressed and fragmented",
			deflate: true,
			give: func(t *testing.T, rc *rawConn) {
				z := deflate(t, bytes.Repeat(invalid, 20))
				rc.frame(0x41, z[:len(z)/2])
				rc.frame(0x80, z[len(z)/2:])
			},
			wantCode: websocket.CloseInvalidFramePayloadData, wantKind: "invalid_utf8",
		},
		{
			name:     "close reason not UTF-8",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0x88, []byte{0x03, 0xe8, 0xff}) },
			wantCode: websocket.CloseInvalidFramePayloadData, wantKind: "invalid_utf8",
		},
		{
			name: "length 2^63",
			give: func(_ *testing.T, rc *rawConn) {
				rc.write(append([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, rawMask[:]...))
			},
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name: "length 2^64-1",
			give: func(_ *testing.T, rc *rawConn) {
				rc.write(append([]byte{0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, rawMask[:]...))
			},
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "close frame with a 1-byte body",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0x88, []byte{0x03}) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "close code 1005 on the wire",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0x88, []byte{0x03, 0xed}) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "reserved bit 2",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0xA1, []byte("x")) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "unknown opcode",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0x83, []byte("x")) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "unmasked frame",
			give:     func(_ *testing.T, rc *rawConn) { rc.write([]byte{0x81, 0x02, 'h', 'i'}) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "ping over 125 bytes",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0x89, make([]byte, 126)) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "fragmented ping",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0x09, []byte("x")) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "continuation outside a message",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0x80, []byte("x")) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name: "new message inside a fragmented one",
			give: func(_ *testing.T, rc *rawConn) {
				rc.frame(0x01, []byte("a"))
				rc.frame(0x81, []byte("b"))
			},
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "compression bit without compression",
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0xC1, []byte("x")) },
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:    "compression bit on a continuation",
			deflate: true,
			give: func(t *testing.T, rc *rawConn) {
				z := deflate(t, []byte("hello hello hello"))
				rc.frame(0x41, z[:2])
				rc.frame(0xC0, z[2:])
			},
			wantCode: websocket.CloseProtocolError, wantKind: "protocol_error",
		},
		{
			name:     "invalid compressed data",
			deflate:  true,
			give:     func(_ *testing.T, rc *rawConn) { rc.frame(0xC1, []byte{0xff, 0xff, 0xff}) },
			wantCode: websocket.CloseInvalidFramePayloadData, wantKind: "protocol_error",
		},
		{
			name: "length over MaxMessageSize, payload never sent",
			give: func(_ *testing.T, rc *rawConn) {
				rc.write(append([]byte{0x82, 0x80 | 126, 0x08, 0x00}, rawMask[:]...)) // 2048 bytes announced
			},
			wantCode: websocket.CloseMessageTooBig, wantKind: "message_too_big",
		},
		{
			name: "fragments adding up over MaxMessageSize",
			give: func(_ *testing.T, rc *rawConn) {
				rc.frame(0x02, make([]byte, 1000))
				rc.frame(0x80, make([]byte, 100))
			},
			wantCode: websocket.CloseMessageTooBig, wantKind: "message_too_big",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newCloseCodes()
			cfg := DefaultConfig().WithMaxMessageSize(1024).WithCompression(tt.deflate)
			h, srv := startHub(t, WithMetrics(m), WithConfig(cfg),
				WithMessageHandler(func(c *Client, msg *Message) error { return c.SendMessage(msg.Type, msg.Data) }))
			other, _ := dialWait(t, h, srv)
			// Registered clients get their read pump right after.
			require.Eventually(t, func() bool { return pumpGoroutines() >= 1 }, 5*time.Second, time.Millisecond)
			before := pumpGoroutines()

			rc := rawDial(t, srv, tt.deflate)
			require.Eventually(t, func() bool { return h.ClientCount() == 2 }, 5*time.Second, time.Millisecond)
			tt.give(t, rc)
			code, _ := rc.readClose()
			assert.Equal(t, tt.wantCode, code)
			_ = rc.nc.Close() // as a client does once it has the close frame

			require.Eventually(t, func() bool { return h.ClientCount() == 1 }, 5*time.Second, time.Millisecond)
			assert.Equal(t, 1, m.count(tt.wantCode), "close codes counted: %v", m.codes)
			assert.Equal(t, int64(1), m.errors(tt.wantKind), "errors counted: %v", m.Stats().Errors)

			h.Broadcast([]byte("alive"))
			_, got := read(t, other)
			assert.Equal(t, "alive", got)
			require.Eventually(t, func() bool { return pumpGoroutines() <= before }, 5*time.Second, time.Millisecond,
				"pump goroutines: %d before", before)
		})
	}
}

// What is valid must still pass: UTF-8 split inside a rune across
// fragments, compressed text in fragments, control frames between
// fragments, an empty close.
func TestValidInputPasses(t *testing.T) {
	text := "héllo wörld ✓"
	a, b := splitUTF8(text)
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "compressed"}[compress], func(t *testing.T) {
			got := make(chan *Message, 4)
			h, srv := startHub(t, WithConfig(DefaultConfig().WithCompression(compress)),
				WithMessageHandler(func(_ *Client, m *Message) error { got <- m; return nil }))
			rc := rawDial(t, srv, compress)
			require.Eventually(t, func() bool { return h.ClientCount() == 1 }, 5*time.Second, time.Millisecond)
			if compress {
				z := deflate(t, []byte(text))
				rc.frame(0x41, z[:3])
				rc.frame(0x89, []byte("between"))
				rc.frame(0x80, z[3:])
			} else {
				rc.frame(0x01, []byte(a))
				rc.frame(0x89, []byte("between"))
				rc.frame(0x80, []byte(b))
			}
			rc.frame(0x82, nil) // an empty binary message
			for _, want := range []*Message{{Type: TextMessage, Data: []byte(text)}, {Type: BinaryMessage, Data: []byte{}}} {
				select {
				case m := <-got:
					assert.Equal(t, want.Type, m.Type)
					assert.Equal(t, want.Data, m.Data)
				case <-time.After(5 * time.Second):
					t.Fatal("message not handled")
				}
			}
			f, err := rc.next(5 * time.Second)
			require.NoError(t, err)
			assert.Equal(t, byte(opPong), f.opcode)
			assert.Equal(t, "between", string(f.payload))

			rc.frame(0x88, nil)
			code, _ := rc.readClose()
			assert.Equal(t, websocket.CloseNoStatusReceived, code, "an empty close is answered with an empty close")
		})
	}
}

// With the checks off, invalid UTF-8 reaches the handler and may be sent.
func TestUTF8ValidationOff(t *testing.T) {
	got := make(chan []byte, 1)
	h, srv := startHub(t, WithConfig(DefaultConfig().WithUTF8Validation(false)),
		WithMessageHandler(func(c *Client, m *Message) error {
			got <- m.Data
			return c.Send(m.Data)
		}))
	rc := rawDial(t, srv, false)
	require.Eventually(t, func() bool { return h.ClientCount() == 1 }, 5*time.Second, time.Millisecond)
	rc.frame(0x81, []byte("\xff"))
	select {
	case d := <-got:
		assert.Equal(t, []byte("\xff"), d)
	case <-time.After(5 * time.Second):
		t.Fatal("message not handled")
	}
	f, err := rc.next(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, []byte("\xff"), f.payload)
}

// After a fault found in a whole message, a peer that answers the hub's
// close frame with its own (as browsers do, then waiting for the server to
// close the connection) is let go at once, not after the close grace.
func TestFaultThenPeerCloseEndsPromptly(t *testing.T) {
	h, srv := startHub(t)
	rc := rawDial(t, srv, false)
	require.Eventually(t, func() bool { return h.ClientCount() == 1 }, 5*time.Second, time.Millisecond)
	rc.frame(0x81, []byte("\xff"))
	code, _ := rc.readClose()
	require.Equal(t, websocket.CloseInvalidFramePayloadData, code)
	start := time.Now()
	rc.frame(0x88, []byte{0x03, 0xef}) // 1007 back
	_, err := rc.next(5 * time.Second)
	require.Error(t, err, "the hub closes the connection")
	assert.Less(t, time.Since(start), closeGrace*8/10, "the hub waited for the close grace although the peer had answered")
}
