package loadserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHeaderRoundTrip(t *testing.T) {
	b := make([]byte, 20)
	PutHeader(b, 1<<40+3, -7)
	seq, ts, ok := ParseHeader(b)
	assert.True(t, ok)
	assert.Equal(t, uint64(1<<40+3), seq)
	assert.Equal(t, int64(-7), ts)
	_, _, ok = ParseHeader(b[:HeaderSize-1])
	assert.False(t, ok)
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, ts, ok := ParseHeader(b)
		if ok != (len(b) >= HeaderSize) {
			t.Fatalf("ok=%v for %d bytes", ok, len(b))
		}
		if !ok {
			return
		}
		out := make([]byte, HeaderSize)
		PutHeader(out, seq, ts)
		if string(out) != string(b[:HeaderSize]) {
			t.Fatalf("round trip changed the header: %x -> %x", b[:HeaderSize], out)
		}
	})
}

func TestTextHeaderRoundTrip(t *testing.T) {
	b := make([]byte, TextHeaderSize+3)
	PutTextHeader(b, 1<<40+3, -7)
	assert.Equal(t, "0000010000000003fffffffffffffff9", string(b[:TextHeaderSize]))
	seq, ts, ok := ParseTextHeader(b)
	assert.True(t, ok)
	assert.Equal(t, uint64(1<<40+3), seq)
	assert.Equal(t, int64(-7), ts)
	_, _, ok = ParseTextHeader(b[:TextHeaderSize-1])
	assert.False(t, ok)
	b[5] = 'A'
	_, _, ok = ParseTextHeader(b)
	assert.False(t, ok, "upper-case hex is not what PutTextHeader writes")
}

func FuzzParseTextHeader(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("0000010000000003fffffffffffffff9"))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, ts, ok := ParseTextHeader(b)
		if !ok {
			return
		}
		out := make([]byte, TextHeaderSize)
		PutTextHeader(out, seq, ts)
		if string(out) != string(b[:TextHeaderSize]) {
			t.Fatalf("round trip changed the header: %q -> %q", b[:TextHeaderSize], out)
		}
	})
}
