package core

import (
	"encoding/binary"
	"errors"
)

// Cluster records travel, like heartbeats, in AdapterMessage.Data of
// AdapterPresence messages, in version 2 of the presence format:
//
//	byte     version (2)
//	byte     kind: 3 hello, 4 request, 5 reply
//	then fields until the end: uvarint key, uvarint length, the bytes
//
// A field may repeat (a list). A receiver skips fields it does not know and
// ignores (counting it) a kind it does not know, so a newer node can add
// both without breaking an older one. Nodes of the version before this one
// read only version 1; they count these records as "version" errors and
// drop them. Heartbeats stay in version 1 for them.
const clusterVersion = 2

// Record kinds of version 2.
const (
	kindHello   = 3 // a node's instance and features, sent with each heartbeat
	kindRequest = 4 // a control request to every node
	kindReply   = 5 // one node's answer to a request
	kindResync  = 6 // to a node evicted by mistake: write your members again
)

// Fields. The keys of each kind are their own; shared meanings share keys
// for readability.
const (
	fInstance = 1 // hello: the sender's instance; request/reply: the request ID
	fFeature  = 2 // hello: one feature (repeated)
	fOp       = 2 // request: the operation
	fUser     = 3 // request: the user ID
	fRoom     = 4 // request: the room
	fCode     = 5 // request: the close code (uvarint)
	fReason   = 6 // request: the close reason
	fLimit    = 7 // request: the most clients a reply may list (uvarint)
	fExpires  = 8 // request: when it stops being worth doing (Unix ms, uvarint)
	fTo       = 2 // reply: the requesting node
	fError    = 3 // reply: the error, when the operation failed there
	fCount    = 4 // reply: connections acted on (uvarint)
	fClient   = 5 // reply: one client (repeated), itself fields (see below)
	fTrunc    = 6 // reply: the list was cut at the limit (one byte, 1)
)

// Fields of a client entry in a reply.
const (
	cfID        = 1
	cfUser      = 2
	cfConnected = 3 // Unix ms, uvarint
	cfRoom      = 4 // repeated
)

// maxClusterFields bounds the fields one record may carry.
const maxClusterFields = 1 << 20

var (
	errClusterMalformed = errors.New("wshub: malformed cluster record")
	errClusterKind      = errors.New("wshub: cluster record of an unknown kind")
)

// clusterField is one decoded field; val aliases the input.
type clusterField struct {
	key uint64
	val []byte
}

type clusterRecord struct {
	kind   byte
	fields []clusterField
}

func (r *clusterRecord) str(key uint64) string {
	for _, f := range r.fields {
		if f.key == key {
			return string(f.val)
		}
	}
	return ""
}

func (r *clusterRecord) all(key uint64) [][]byte {
	var out [][]byte
	for _, f := range r.fields {
		if f.key == key {
			out = append(out, f.val)
		}
	}
	return out
}

func (r *clusterRecord) uint(key uint64) uint64 {
	for _, f := range r.fields {
		if f.key == key {
			v, n := binary.Uvarint(f.val)
			if n == len(f.val) {
				return v
			}
			return 0
		}
	}
	return 0
}

// decodeCluster decodes a version 2 record. Unknown kinds decode (their
// fields are checked) and the caller counts and drops them.
func decodeCluster(b []byte) (clusterRecord, error) {
	var r clusterRecord
	if len(b) < 2 || b[0] != clusterVersion {
		return r, errClusterMalformed
	}
	r.kind = b[1]
	rd := byteReader{b: b[2:]}
	for len(rd.b) > 0 {
		k := rd.uvarint()
		v := rd.bytes()
		if rd.bad || len(r.fields) >= maxClusterFields {
			return clusterRecord{}, errClusterMalformed
		}
		r.fields = append(r.fields, clusterField{k, v})
	}
	return r, nil
}

// clusterWriter builds a version 2 record.
type clusterWriter struct{ b []byte }

func newClusterRecord(kind byte) *clusterWriter {
	return &clusterWriter{b: []byte{clusterVersion, kind}}
}

func (w *clusterWriter) bytes(key uint64, v []byte) *clusterWriter {
	w.b = binary.AppendUvarint(w.b, key)
	w.b = binary.AppendUvarint(w.b, uint64(len(v)))
	w.b = append(w.b, v...)
	return w
}

func (w *clusterWriter) str(key uint64, v string) *clusterWriter {
	if v == "" {
		return w
	}
	w.b = binary.AppendUvarint(w.b, key)
	w.b = binary.AppendUvarint(w.b, uint64(len(v)))
	w.b = append(w.b, v...)
	return w
}

func (w *clusterWriter) uint(key, v uint64) *clusterWriter {
	return w.bytes(key, binary.AppendUvarint(nil, v))
}
