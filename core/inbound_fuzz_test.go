package core

import (
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// chunkReader returns its bytes a few at a time, so that frames straddle
// every possible read boundary.
type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzInboundFrames feeds arbitrary client bytes through the hub's own frame
// reader and message assembly: it must never panic, every message it
// returns must respect the size limit, text must be UTF-8, control payloads
// at most 125 bytes, close payloads valid, every fault a close code that
// may be sent, and the inbound budget must be given back in full.
func FuzzInboundFrames(f *testing.F) {
	add := func(compress bool, frames ...[]byte) {
		var b []byte
		for _, fr := range frames {
			b = append(b, fr...)
		}
		f.Add(b, compress, uint8(7))
	}
	add(false, frameBytes(0x81, []byte("hello")))
	add(false, frameBytes(0x01, []byte("h\xc3")), frameBytes(0x89, []byte("p")), frameBytes(0x80, []byte("\xa9llo")))
	add(false, frameBytes(0x81, []byte("\xff")))
	add(false, frameBytes(0x88, []byte{0x03, 0xe8, 'o', 'k'}))
	add(false, frameBytes(0x88, []byte{0x03}))
	add(false, []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	add(false, frameBytes(0x82, make([]byte, 2000)))
	add(false, frameBytes(0x02, make([]byte, 600)), frameBytes(0x80, make([]byte, 600)))
	add(true, frameBytes(0xC1, []byte{0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})) // "hello"
	add(true, frameBytes(0xC1, []byte{0xff, 0xff}))
	add(true, frameBytes(0x41, []byte{0xca, 0x48}), frameBytes(0x80, []byte{0xcd, 0xc9, 0xc9, 0x07, 0x00}))

	f.Fuzz(func(t *testing.T, data []byte, compress bool, chunk uint8) {
		const limit = 1024
		budget := &inboundBudget{max: 4096}
		in := &inbound{
			fr:        newFrameReader(&chunkReader{data: data, chunk: int(chunk%32) + 1}, minReadBuffer),
			compress:  compress,
			limit:     limit,
			wireLimit: limit + limit/64 + 64,
			checkUTF8: true,
			timeout:   0,
			budget:    budget,
		}
		in.waitFn = in.beforeBlock
		for {
			op, p, err := in.next()
			if err != nil {
				var pe *protocolError
				switch {
				case errors.As(err, &pe):
					if !sendableCloseCode(pe.code) || len(pe.reason) > 123 || pe.kind == "" {
						t.Fatalf("fault %+v cannot be sent as a close frame", pe)
					}
				case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				default:
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			switch op {
			case opText:
				if !utf8.Valid(p) {
					t.Fatalf("text message %q is not UTF-8", p)
				}
				fallthrough
			case opBinary:
				if len(p) > limit {
					t.Fatalf("message of %d bytes passed the %d limit", len(p), limit)
				}
			case opPing, opPong:
				if len(p) > maxControlPayload {
					t.Fatalf("control payload of %d bytes", len(p))
				}
			case opClose:
				if err := checkClosePayload(p); err != nil {
					t.Fatalf("close payload %x returned although %v", p, err)
				}
			default:
				t.Fatalf("opcode %d returned", op)
			}
		}
		if used := budget.used.Load(); used != 0 {
			t.Fatalf("%d bytes of the inbound budget not given back", used)
		}
	})
}
