package core

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// loopReader replays the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// BenchmarkInboundMessage measures the read path of one client message:
// frame parsing, unmasking, the copy the handler owns and, for text, the
// UTF-8 check (on and off, to show its cost).
func BenchmarkInboundMessage(b *testing.B) {
	for _, size := range []int{128, 4096} {
		payload := textOf(size)
		for _, tc := range []struct {
			name string
			b0   byte
			utf8 bool
		}{
			{"binary", 0x82, false},
			{"text/utf8=off", 0x81, false},
			{"text/utf8=on", 0x81, true},
		} {
			b.Run(fmt.Sprintf("size=%d/%s", size, tc.name), func(b *testing.B) {
				// 64 frames per buffer, so reads fill the read buffer as on a busy socket.
				stream := bytes.Repeat(frameBytes(tc.b0, payload), 64)
				in := &inbound{
					fr:        newFrameReader(&loopReader{data: stream}, 512),
					limit:     1 << 20,
					checkUTF8: tc.utf8,
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := in.next(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCheckText is the UTF-8 check of a text send.
func BenchmarkCheckText(b *testing.B) {
	h := NewHub()
	for _, size := range []int{128, 4096} {
		for _, kind := range []string{"ascii", "mixed"} {
			data := textOf(size)
			if kind == "ascii" {
				data = bytes.Repeat([]byte(`{"k":1}`), size/7+1)[:size]
			}
			b.Run(fmt.Sprintf("size=%d/%s", size, kind), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					if err := h.checkText(TextMessage, data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// textOf returns size bytes of UTF-8 text with some two-byte runes.
func textOf(size int) []byte {
	s := strings.Repeat("héllo wörld ", size/12+1)[:size]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return []byte(s + strings.Repeat(" ", size-len(s)))
}
