package core

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// FuzzPresenceDoc: any bytes a store holds decode to a member record that
// encodes back to a record decoding the same, or fail with the record
// errors; never a panic.
func FuzzPresenceDoc(f *testing.F) {
	good := appendPresenceDoc(nil, &presenceDoc{user: "ann", conns: []presenceConn{
		{node: "n1", instance: "i", client: "c1", joined: 1700000000000, info: []byte(`{"a":1}`)},
		{node: "n2", instance: "j", client: "c2", joined: 1700000000001},
	}})
	f.Add(good)
	f.Add(appendPresenceDoc(nil, &presenceDoc{user: "bob", lingerUntil: 1700000000000, lingerNode: "n1"}))
	f.Add(append(bytes.Clone(good), 9, 2, 'x', 'y')) // an extension this version skips
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2, 0})
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodePresenceDoc(b)
		if err != nil {
			if !errors.Is(err, errDocMalformed) && !errors.Is(err, errDocVersion) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := decodePresenceDoc(appendPresenceDoc(nil, &d))
		if err != nil || !again.equal(&d) {
			t.Fatalf("round trip of %+v: %+v, %v", d, again, err)
		}
	})
}

// FuzzClusterRecord: any bus bytes of the cluster format decode to fields
// that encode to a record decoding to the same fields, or fail; a node
// handling them never panics, whatever their kind (replies are decoded
// against a call waiting for them; requests are carried out on a hub
// without clients).
func FuzzClusterRecord(f *testing.F) {
	f.Add(newClusterRecord(kindHello).str(fInstance, "i").str(fFeature, opClients).b)
	f.Add(newClusterRecord(kindRequest).str(fInstance, "id").str(fOp, opDisconnectUser).str(fUser, "u").uint(fCode, 4001).b)
	entry := newClusterRecord(0).str(cfID, "c").str(cfUser, "u").uint(cfConnected, 5).str(cfRoom, "r").b[2:]
	f.Add(newClusterRecord(kindReply).str(fInstance, "id").str(fTo, "n").uint(fCount, 1).bytes(fClient, entry).b)
	f.Add([]byte{2, 99, 1, 1, 'x'})
	f.Add([]byte{2, 5, 5, 3, 1, 0xff})
	f.Add([]byte{2})
	f.Add([]byte{2, 4, 0x80})
	h := NewHub(WithNodeID("n"), WithPresence(0))
	h.pres = newPresence(h)
	h.calls = map[string]*controlCall{"id": {done: make(chan struct{})}}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeCluster(b)
		if err == nil {
			w := newClusterRecord(r.kind)
			for _, fl := range r.fields {
				w.bytes(fl.key, fl.val)
			}
			again, err := decodeCluster(w.b)
			if err != nil || again.kind != r.kind || !slices.EqualFunc(again.fields, r.fields, func(a, b clusterField) bool {
				return a.key == b.key && bytes.Equal(a.val, b.val)
			}) {
				t.Fatalf("re-encoding %x gave %x (%v)", b, w.b, err)
			}
		}
		if len(b) > 0 && b[0] == clusterVersion && len(b) > 1 && b[1] == kindRequest {
			if r, err := decodeCluster(b); err == nil {
				h.carryOut(&r) // what a request asks of a hub without clients
			}
			return
		}
		h.receiveCluster("other", b)
	})
}
