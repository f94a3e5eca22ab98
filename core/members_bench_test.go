package core

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkPresenceList10k: Hub.Presence of a room of 10,000 members in
// the hub's memory store, so the figure is the hub's own cost (reading
// and decoding the records, ordering the list) without a broker.
//
//	go test -run '^$' -bench BenchmarkPresenceList10k -benchmem ./core/
func BenchmarkPresenceList10k(b *testing.B) {
	h := NewHub(WithRoomOptions(memberTestRooms))
	store, ok := h.members.store.(*MemoryPresence)
	if !ok {
		b.Fatal("the hub's store is not its own MemoryPresence")
	}
	ctx := context.Background()
	for i := range 10_000 {
		d := presenceDoc{user: fmt.Sprint("user-", i), conns: []presenceConn{{node: "node-1", instance: "0123456789abcdef",
			client: fmt.Sprintf("%032x", i), joined: 1_700_000_000_000 + int64(i), info: []byte(`{"name":"someone"}`)}}}
		_, err := store.SetPresence(ctx, "p-bench", "u:"+d.user, appendPresenceDoc(nil, &d), 0)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ms, err := h.Presence(ctx, "p-bench")
		if err != nil || len(ms) != 10_000 {
			b.Fatal(len(ms), err)
		}
	}
}
