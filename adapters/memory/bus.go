package memory

import (
	"sync"

	"github.com/wshub/wshub/core"
)

// Bus connects the adapters made from it. The zero value is not usable; call
// NewBus. A Bus holds no goroutines and needs no closing.
type Bus struct {
	mu       sync.RWMutex
	adapters map[*Adapter]struct{}
	// histMu makes storing a history message and delivering it one step,
	// so the bus delivers a room's history messages in offset order.
	histMu sync.Mutex
	hist   *core.MemoryHistory
	// pres holds the member records of every hub on the bus.
	pres *core.MemoryPresence
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{adapters: make(map[*Adapter]struct{}), hist: core.NewMemoryHistory(), pres: core.NewMemoryPresence()}
}

// NewAdapter returns a new adapter attached to the bus, for one hub. It
// receives nothing until Subscribe is called and leaves the bus on Close.
func (b *Bus) NewAdapter(opts ...Option) *Adapter {
	o := options{inboxSize: DefaultInboxSize}
	for _, opt := range opts {
		opt(&o)
	}
	a := &Adapter{
		bus: b,
		// Sized by WithInboxSize (see DefaultInboxSize); when full, offer
		// drops the message and reports ErrInboxFull instead of blocking the
		// publisher.
		inbox:    make(chan []byte, o.inboxSize),
		done:     make(chan struct{}),
		interest: make(map[string]struct{}),
	}
	b.mu.Lock()
	b.adapters[a] = struct{}{}
	b.mu.Unlock()
	return a
}

func (b *Bus) remove(a *Adapter) {
	b.mu.Lock()
	delete(b.adapters, a)
	b.mu.Unlock()
}

// deliver offers one encoded message to every adapter on the bus. enc is
// shared by all receivers and must not be modified afterwards; each receiver
// decodes its own copy.
func (b *Bus) deliver(enc []byte, m *core.AdapterMessage) {
	roomScoped := m.Type == core.AdapterRoom || m.Type == core.AdapterRoomExcept
	b.mu.RLock()
	defer b.mu.RUnlock()
	for a := range b.adapters {
		a.offer(enc, roomScoped, m.Room)
	}
}
