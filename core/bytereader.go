package core

import "encoding/binary"

// byteReader reads the fields of the hub's small binary records.
type byteReader struct {
	b   []byte
	bad bool
}

func (r *byteReader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *byteReader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *byteReader) str() string { return string(r.bytes()) }

// skipExtensions skips key-value extensions to the end of the input.
func (r *byteReader) skipExtensions() {
	for !r.bad && len(r.b) > 0 {
		r.uvarint()
		r.bytes()
	}
}
