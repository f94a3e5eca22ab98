package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// NewEpoch returns a fresh random epoch (16 hex digits), for history stores
// that start a room's stream.
func NewEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// MemoryHistory keeps room histories in this process: a ring of at most
// History.Size messages per room, each kept at most History.TTL. A hub
// without an adapter uses one; the memory adapter shares one between the
// hubs of a bus. It starts no goroutine: expired rooms are removed by the
// calls themselves (a full sweep at most once a second), so a room whose
// messages all expired costs nothing. A room's ring grows as it fills, up
// to Size; with TTL 0 a room's messages stay until Size pushes them out,
// so the rooms with history then bound the memory. Safe for concurrent
// use.
type MemoryHistory struct {
	mu        sync.Mutex
	rooms     map[string]*memoryRoom
	lastSweep time.Time
	now       func() time.Time // tests replace it
}

type memoryRoom struct {
	epoch string
	top   uint64
	size  int           // History.Size: the most entries kept
	ring  []memoryEntry // grows up to size; entries [head, head+n) modulo len
	head  int
	n     int
	ttl   time.Duration
	last  time.Time // when the newest message was stored
}

type memoryEntry struct {
	m  AdapterMessage
	at time.Time
}

// NewMemoryHistory returns an empty store.
func NewMemoryHistory() *MemoryHistory {
	return &MemoryHistory{rooms: make(map[string]*memoryRoom), now: time.Now}
}

// Append stores m in its room's history with the room's options and sets
// m.Pos to the position it got. m.Data is retained, not copied. Options
// that keep no history (Size 0 or less) store nothing and return the zero
// Position.
func (s *MemoryHistory) Append(m *AdapterMessage, opts History) Position {
	if !opts.Enabled() {
		return Position{}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	r := s.rooms[m.Room]
	if r != nil {
		r.expire(now)
		if r.n == 0 && r.ttl > 0 && now.Sub(r.last) >= r.ttl {
			r = nil // the whole stream expired: a new epoch
		}
	}
	if r == nil || r.size != opts.Size {
		r = s.start(m.Room, r, opts)
	}
	r.ttl = opts.TTL
	r.top++
	m.Pos = Position{Epoch: r.epoch, Offset: r.top}
	switch {
	case r.n < len(r.ring):
	case len(r.ring) < r.size:
		r.grow() // the ring is allocated as the room fills, not at once
	default:
		r.ring[r.head] = memoryEntry{}
		r.head = (r.head + 1) % len(r.ring)
		r.n--
	}
	r.ring[(r.head+r.n)%len(r.ring)] = memoryEntry{m: *m, at: now}
	r.n++
	r.last = now
	return m.Pos
}

// start gives room a new stream, or resizes old's ring keeping its epoch
// and newest messages when only Size changed.
func (s *MemoryHistory) start(room string, old *memoryRoom, opts History) *memoryRoom {
	r := &memoryRoom{epoch: NewEpoch(), size: opts.Size}
	if old != nil {
		r.epoch, r.top = old.epoch, old.top
		skip := max(0, old.n-opts.Size)
		r.ring = make([]memoryEntry, old.n-skip, max(old.n-skip, 1))
		for i := skip; i < old.n; i++ {
			r.ring[r.n] = old.ring[(old.head+i)%len(old.ring)]
			r.n++
		}
	}
	if len(r.ring) == 0 {
		r.ring = make([]memoryEntry, min(r.size, 8))
	}
	s.rooms[room] = r
	return r
}

// grow doubles the ring (up to size), which is full.
func (r *memoryRoom) grow() {
	ring := make([]memoryEntry, min(r.size, 2*len(r.ring)))
	for i := range r.n {
		ring[i] = r.ring[(r.head+i)%len(r.ring)]
	}
	r.ring, r.head = ring, 0
}

// expire drops the messages older than the TTL.
func (r *memoryRoom) expire(now time.Time) {
	if r.ttl <= 0 {
		return
	}
	for r.n > 0 && now.Sub(r.ring[r.head].at) >= r.ttl {
		r.ring[r.head] = memoryEntry{}
		r.head = (r.head + 1) % len(r.ring)
		r.n--
	}
}

// sweep removes the rooms whose stream expired, at most once a second.
func (s *MemoryHistory) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < time.Second {
		return
	}
	s.lastSweep = now
	for name, r := range s.rooms {
		if r.ttl > 0 && now.Sub(r.last) >= r.ttl {
			delete(s.rooms, name)
		}
	}
}

// Read returns the messages of room selected by q and the stream's state.
func (s *MemoryHistory) Read(room string, q HistoryQuery) HistoryPage {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil {
		return HistoryPage{}
	}
	r.expire(now)
	if r.n == 0 && r.ttl > 0 && now.Sub(r.last) >= r.ttl {
		delete(s.rooms, room)
		return HistoryPage{}
	}
	page := HistoryPage{Epoch: r.epoch, Top: r.top}
	if r.n == 0 {
		return page
	}
	page.First = r.top - uint64(r.n) + 1
	if q.After >= r.top {
		return page
	}
	from := max(q.After+1, page.First) // offsets from..top are selected
	if from > r.top {
		return page
	}
	count := int(r.top - from + 1)
	if q.Limit > 0 && count > q.Limit {
		count = q.Limit
	}
	page.Messages = make([]AdapterMessage, 0, count)
	at := func(off uint64) AdapterMessage {
		return r.ring[(r.head+int(off-page.First))%len(r.ring)].m
	}
	if q.Reverse {
		for off := r.top; len(page.Messages) < count; off-- {
			page.Messages = append(page.Messages, at(off))
		}
	} else {
		for off := from; len(page.Messages) < count; off++ {
			page.Messages = append(page.Messages, at(off))
		}
	}
	return page
}

var _ HistoryAdapter = (*MemoryHistory)(nil)

// AppendHistory implements HistoryAdapter: Append for each item; it
// publishes nothing (a hub without an adapter delivers itself).
func (s *MemoryHistory) AppendHistory(_ context.Context, batch []HistoryAppend) {
	for i := range batch {
		if !batch[i].Options.Enabled() {
			batch[i].Err = ErrNoHistory
			continue
		}
		s.Append(&batch[i].Msg, batch[i].Options)
	}
}

// ReadHistory implements HistoryAdapter with Read.
func (s *MemoryHistory) ReadHistory(_ context.Context, room string, _ History, q HistoryQuery) (HistoryPage, error) {
	return s.Read(room, q), nil
}
