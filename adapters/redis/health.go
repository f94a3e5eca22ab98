package redis

import (
	"context"
	"errors"
	"fmt"

	"github.com/wshub/wshub/core"
)

// CheckHealth reports the state of the link to Redis. It returns nil only
// while the subscription is live (it has answered since it last failed) and
// a PING through the client succeeds within the health timeout (see
// WithHealthTimeout; the client must have ContextTimeoutEnabled for the
// timeout to cut a stuck socket short). Otherwise it returns an error
// wrapping ErrNotConnected that says why: not subscribed yet, the last
// subscription failure, the failed PING, or core.ErrAdapterClosed after
// Close.
func (a *Adapter) CheckHealth(ctx context.Context) error {
	if a.closed.Load() {
		return fmt.Errorf("%w: %w", ErrNotConnected, core.ErrAdapterClosed)
	}
	a.mu.Lock()
	live, linkErr := a.live.Load(), a.linkErr
	a.mu.Unlock()
	if !live {
		if linkErr == nil {
			linkErr = errors.New("subscription not live")
		}
		if errors.Is(linkErr, ErrNotConnected) {
			return linkErr
		}
		return fmt.Errorf("%w: %w", ErrNotConnected, linkErr)
	}
	pctx, cancel := context.WithTimeout(ctx, a.healthTimeout)
	defer cancel()
	if err := a.client.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("%w: ping: %w", ErrNotConnected, err)
	}
	return nil
}
