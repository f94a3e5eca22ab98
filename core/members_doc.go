package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
)

// A member record (PresenceRecord.Data) holds one user's connections in one
// room, and the linger of a user whose last connection left:
//
//	byte     version (1)
//	string   user ID ("" for a client without one)
//	uvarint  connection count, then per connection:
//	         string node ID, string instance, string client ID,
//	         uvarint join time (Unix ms), string info
//	uvarint  linger deadline (Unix ms; 0 when the user is not lingering)
//	string   node that set the linger
//	string   info of the user's last connection, while lingering
//	then extensions until the end: uvarint key, string value; this
//	version defines none and skips any it finds
//
// A string is a uvarint length and the bytes. Records come from a store
// that anything with access to it can write, so decoding checks every
// length and never panics (FuzzPresenceDoc).
const presenceDocVersion = 1

// maxPresenceConns bounds the connections one record may hold.
const maxPresenceConns = 1 << 16

var (
	errDocMalformed = errors.New("wshub: malformed presence record")
	errDocVersion   = errors.New("wshub: presence record from a newer version")
)

type presenceDoc struct {
	user        string
	conns       []presenceConn
	lingerUntil int64 // Unix ms
	lingerNode  string
	lingerInfo  []byte
}

type presenceConn struct {
	node     string
	instance string
	client   string
	joined   int64 // Unix ms
	info     []byte
}

func (c *presenceConn) equal(o *presenceConn) bool {
	return c.node == o.node && c.instance == o.instance && c.client == o.client &&
		c.joined == o.joined && bytes.Equal(c.info, o.info)
}

func (d *presenceDoc) equal(o *presenceDoc) bool {
	return d.user == o.user && d.lingerUntil == o.lingerUntil && d.lingerNode == o.lingerNode &&
		bytes.Equal(d.lingerInfo, o.lingerInfo) &&
		slices.EqualFunc(d.conns, o.conns, func(a, b presenceConn) bool { return a.equal(&b) })
}

func appendDocString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendPresenceDoc(b []byte, d *presenceDoc) []byte {
	b = append(b, presenceDocVersion)
	b = appendDocString(b, d.user)
	b = binary.AppendUvarint(b, uint64(len(d.conns)))
	for i := range d.conns {
		c := &d.conns[i]
		b = appendDocString(b, c.node)
		b = appendDocString(b, c.instance)
		b = appendDocString(b, c.client)
		b = binary.AppendUvarint(b, uint64(max(c.joined, 0)))
		b = binary.AppendUvarint(b, uint64(len(c.info)))
		b = append(b, c.info...)
	}
	b = binary.AppendUvarint(b, uint64(max(d.lingerUntil, 0)))
	b = appendDocString(b, d.lingerNode)
	b = binary.AppendUvarint(b, uint64(len(d.lingerInfo)))
	return append(b, d.lingerInfo...)
}

func decodePresenceDoc(b []byte) (presenceDoc, error) {
	var d presenceDoc
	if len(b) == 0 {
		return d, errDocMalformed
	}
	if b[0] != presenceDocVersion {
		if b[0] > presenceDocVersion {
			return d, errDocVersion
		}
		return d, errDocMalformed
	}
	r := byteReader{b: b[1:]}
	d.user = r.str()
	n := r.uvarint()
	// A connection takes at least five bytes, which bounds the slice
	// sized below by the input.
	if r.bad || n > maxPresenceConns || n > uint64(len(r.b)/5) {
		return presenceDoc{}, errDocMalformed
	}
	if n > 0 {
		d.conns = make([]presenceConn, n)
	}
	for i := range d.conns {
		c := &d.conns[i]
		c.node = r.str()
		c.instance = r.str()
		c.client = r.str()
		j := r.uvarint()
		if j > 1<<53 {
			r.bad = true
		}
		c.joined = int64(j)
		if info := r.bytes(); len(info) > 0 {
			c.info = bytes.Clone(info)
		}
	}
	lu := r.uvarint()
	if lu > 1<<53 {
		r.bad = true
	}
	d.lingerUntil = int64(lu)
	d.lingerNode = r.str()
	if info := r.bytes(); len(info) > 0 {
		d.lingerInfo = bytes.Clone(info)
	}
	r.skipExtensions()
	if r.bad {
		return presenceDoc{}, errDocMalformed
	}
	return d, nil
}
