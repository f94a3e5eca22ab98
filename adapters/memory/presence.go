package memory

import (
	"context"

	"github.com/wshub/wshub/core"
)

var _ core.PresenceAdapter = (*Adapter)(nil)

// GetPresence reads a member record from the bus's store (a
// core.MemoryPresence shared by every adapter of the bus).
func (a *Adapter) GetPresence(ctx context.Context, room, key string) (core.PresenceRecord, error) {
	if err := a.checkOpen(ctx); err != nil {
		return core.PresenceRecord{}, err
	}
	return a.bus.pres.GetPresence(ctx, room, key)
}

// SetPresence writes a member record of the bus's store at revision rev.
func (a *Adapter) SetPresence(ctx context.Context, room, key string, data []byte, rev uint64) (uint64, error) {
	if err := a.checkOpen(ctx); err != nil {
		return 0, err
	}
	return a.bus.pres.SetPresence(ctx, room, key, data, rev)
}

// ListPresence lists member records of the bus's store.
func (a *Adapter) ListPresence(ctx context.Context, room string) ([]core.PresenceRecord, error) {
	if err := a.checkOpen(ctx); err != nil {
		return nil, err
	}
	return a.bus.pres.ListPresence(ctx, room)
}
