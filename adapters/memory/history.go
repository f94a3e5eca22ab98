package memory

import (
	"context"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

var _ core.HistoryAdapter = (*Adapter)(nil)

// AppendHistory stores each message of batch in the bus's history of its
// room (a core.MemoryHistory shared by every adapter of the bus), which
// sets its Pos, and delivers it to the bus's adapters in the same step, so
// every hub receives a room's history in offset order. After Close or when
// ctx is done, every item gets the error and nothing is stored.
func (a *Adapter) AppendHistory(ctx context.Context, batch []core.HistoryAppend) {
	if err := a.checkOpen(ctx); err != nil {
		for i := range batch {
			batch[i].Err = err
		}
		return
	}
	for i := range batch {
		if !batch[i].Options.Enabled() {
			batch[i].Err = core.ErrNoHistory
			continue
		}
		a.bus.appendHistory(&batch[i].Msg, batch[i].Options)
	}
}

// appendHistory stores m and delivers it in one step.
func (b *Bus) appendHistory(m *core.AdapterMessage, opts core.History) {
	b.histMu.Lock()
	defer b.histMu.Unlock()
	b.hist.Append(m, opts)
	b.deliver(wire.Append(make([]byte, 0, wire.Size(m)), m), m)
}

// ReadHistory returns the bus's history of room selected by q.
func (a *Adapter) ReadHistory(ctx context.Context, room string, _ core.History, q core.HistoryQuery) (core.HistoryPage, error) {
	if err := a.checkOpen(ctx); err != nil {
		return core.HistoryPage{}, err
	}
	return a.bus.hist.Read(room, q), nil
}
