package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The ring keeps the newest Size messages, whatever Size and count, as it
// grows; Read selects from it like the other stores.
func TestMemoryHistoryRing(t *testing.T) {
	for _, size := range []int{1, 3, 8, 9, 20, 100} {
		for _, n := range []int{1, size, size + 1, 3*size + 2} {
			s := NewMemoryHistory()
			for range n {
				s.Append(&AdapterMessage{Room: "r"}, History{Size: size})
			}
			page := s.Read("r", HistoryQuery{})
			kept := min(n, size)
			require.Len(t, page.Messages, kept, "size %d, %d appended", size, n)
			assert.Equal(t, uint64(n-kept+1), page.First)
			assert.Equal(t, uint64(n), page.Top)
			for i, m := range page.Messages {
				assert.Equal(t, uint64(n-kept+1+i), m.Pos.Offset)
			}
			assert.Empty(t, s.Read("r", HistoryQuery{After: ^uint64(0)}).Messages)
		}
	}
	s := NewMemoryHistory()
	assert.Zero(t, s.Append(&AdapterMessage{Room: "r"}, History{}), "Size 0 keeps nothing")
	assert.Empty(t, s.rooms)
}

// A room whose messages all expired is forgotten: its next message starts
// a new epoch at 1, and a room that keeps nothing costs nothing.
func TestMemoryHistoryTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewMemoryHistory()
	s.now = func() time.Time { return now }
	opts := History{Size: 10, TTL: time.Minute}
	first := s.Append(&AdapterMessage{Room: "r"}, opts)
	now = now.Add(30 * time.Second)
	s.Append(&AdapterMessage{Room: "r"}, opts)
	now = now.Add(40 * time.Second) // the first expired, the second not
	page := s.Read("r", HistoryQuery{})
	assert.Equal(t, []uint64{2}, offsetsOfMessages(page.Messages))
	now = now.Add(time.Minute)
	assert.Equal(t, HistoryPage{}, s.Read("r", HistoryQuery{}))
	assert.Empty(t, s.rooms)
	next := s.Append(&AdapterMessage{Room: "r"}, opts)
	assert.Equal(t, uint64(1), next.Offset)
	assert.NotEqual(t, first.Epoch, next.Epoch)
}

func offsetsOfMessages(ms []AdapterMessage) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.Pos.Offset)
	}
	return out
}
