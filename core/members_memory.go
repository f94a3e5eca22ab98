package core

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryPresence is a PresenceAdapter in process memory: the member store
// of a hub without an adapter, and of several hubs in one process (package
// adapters/memory shares one per bus). The zero value is not usable; call
// NewMemoryPresence. It is safe for concurrent use.
type MemoryPresence struct {
	mu    sync.Mutex
	rev   uint64
	rooms map[string]map[string]PresenceRecord
}

// NewMemoryPresence returns an empty store.
func NewMemoryPresence() *MemoryPresence {
	return &MemoryPresence{rooms: make(map[string]map[string]PresenceRecord)}
}

// GetPresence implements PresenceAdapter.
func (m *MemoryPresence) GetPresence(_ context.Context, room, key string) (PresenceRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[room][key]
	if !ok {
		return PresenceRecord{Room: room, Key: key}, nil
	}
	r.Data = slices.Clone(r.Data)
	return r, nil
}

// SetPresence implements PresenceAdapter.
func (m *MemoryPresence) SetPresence(_ context.Context, room, key string, data []byte, rev uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs := m.rooms[room]
	if cur := recs[key].Rev; cur != rev {
		return 0, fmt.Errorf("%w: %q in %q is at revision %d, not %d", ErrPresenceConflict, key, room, cur, rev)
	}
	if data == nil {
		delete(recs, key)
		if len(recs) == 0 {
			delete(m.rooms, room)
		}
		return 0, nil
	}
	if recs == nil {
		recs = make(map[string]PresenceRecord)
		m.rooms[room] = recs
	}
	m.rev++
	recs[key] = PresenceRecord{Room: room, Key: key, Data: slices.Clone(data), Rev: m.rev}
	return m.rev, nil
}

// ListPresence implements PresenceAdapter.
func (m *MemoryPresence) ListPresence(_ context.Context, room string) ([]PresenceRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PresenceRecord
	add := func(recs map[string]PresenceRecord) {
		for _, r := range recs {
			r.Data = slices.Clone(r.Data)
			out = append(out, r)
		}
	}
	if room != "" {
		add(m.rooms[room])
		return out, nil
	}
	for _, recs := range m.rooms {
		add(recs)
	}
	return out, nil
}

// Len returns how many records the store holds (for tests and debugging:
// a store whose members all left holds none).
func (m *MemoryPresence) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, recs := range m.rooms {
		n += len(recs)
	}
	return n
}
