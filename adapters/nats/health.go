package nats

import (
	"context"
	"fmt"

	natsgo "github.com/nats-io/nats.go"

	"github.com/wshub/wshub/core"
)

// CheckHealth returns nil while the connection is established, the
// broadcast and presence subscriptions are active and the broker answers a
// round trip (which also confirms it has processed earlier subscriptions)
// within the health timeout and ctx. Otherwise it returns an error wrapping
// ErrNotConnected, ErrNotSubscribed or core.ErrAdapterClosed.
func (a *Adapter) CheckHealth(ctx context.Context) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	if st := a.nc.Status(); st != natsgo.CONNECTED {
		return fmt.Errorf("%w: connection %s", ErrNotConnected, st)
	}
	a.mu.Lock()
	subscribed, all, pres, baseErr := a.subscribed, a.allSub, a.presSub, a.baseErr
	a.mu.Unlock()
	if !subscribed {
		return fmt.Errorf("%w: Subscribe not called", ErrNotSubscribed)
	}
	if !all.IsValid() || !pres.IsValid() {
		if baseErr != nil {
			return fmt.Errorf("%w: %w", ErrNotSubscribed, baseErr)
		}
		return fmt.Errorf("%w: base subscriptions not active", ErrNotSubscribed)
	}
	ctx, cancel := context.WithTimeout(ctx, a.healthTimeout)
	defer cancel()
	if err := a.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("%w: round trip: %w", ErrNotConnected, err)
	}
	return nil
}
