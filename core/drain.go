package core

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Drain stops accepting connections (upgrades get 503, Ready turns false)
// and waits until every client has left or ctx ends. Meanwhile an idle
// reaper closes, with 1001, clients whose send queue stayed empty for the
// drain timeout (WithDrainTimeout); it checks when the drain starts, then
// every max(timeout/4, 100ms).
// Drain returns nil once no client is left, ctx's error if it ends first,
// and nil at once after Shutdown. Concurrent calls wait for the same thing.
func (h *Hub) Drain(ctx context.Context) error {
	h.life.Lock()
	switch h.State() {
	case StateStopped:
		h.life.Unlock()
		return nil
	case StateRunning, StateCreated:
		h.state.Store(int32(StateDraining))
		h.logger.Info("draining", "clients", h.ClientCount())
	}
	h.life.Unlock()
	if h.drainTimeout > 0 {
		h.drainOnce.Do(func() {
			h.wg.Add(1)
			go h.reap()
		})
	}
	return h.waitGone(ctx, h.stopCh)
}

// reap closes idle clients while the hub drains: once at the start, so
// clients idle for the drain timeout already go at once, then on every tick.
func (h *Hub) reap() {
	defer h.wg.Done()
	every := h.drainTimeout / 4
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	if !h.reapIdle(time.Now()) {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stopCh:
			return
		case now := <-t.C:
			if !h.reapIdle(now) {
				return
			}
		}
	}
}

// reapIdle closes, with 1001, the clients whose queue has been empty since
// before now minus the drain timeout. It reports whether reaping goes on:
// false once the hub stopped draining or no client is left.
func (h *Hub) reapIdle(now time.Time) bool {
	if h.State() != StateDraining {
		return false
	}
	idleBefore := now.Add(-h.drainTimeout).UnixNano()
	for _, c := range h.clients.all() {
		c.mu.Lock()
		idle := c.sq.idle(idleBefore)
		c.mu.Unlock()
		if idle {
			c.CloseWithCode(websocket.CloseGoingAway, "server draining") //nolint:errcheck // always nil
		}
	}
	return h.ClientCount() > 0
}

// Shutdown stops the hub: it refuses new connections, closes every client
// with 1001 after writing what was queued for it, runs the full disconnect
// path for each (hooks, OnClose, room cleanup, metrics), flushes the publish
// queue, sends the presence goodbye, closes the adapter and waits for the
// hub's goroutines. ctx bounds the graceful part: when it ends, remaining
// connections are cut and ctx's error is returned after the goroutines
// exit. Shutdown before Run returns at once. A second call waits until the
// first has closed every client and the adapter (or its own ctx ends), but
// not for hook goroutines, so a hook or OnClose callback may call it.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.life.Lock()
	neverRan := h.startedAt.Load() == 0
	h.state.Store(int32(StateStopped))
	h.life.Unlock()
	first := false
	h.stopOnce.Do(func() {
		first = true
		close(h.stopCh)
	})
	if !first {
		select {
		case <-h.shutDone:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	// Later calls wait for shutDone, closed once every client is gone and
	// the adapter is closed, not after the wait for hook goroutines below: a
	// hook or OnClose callback that calls Shutdown must not wait for itself.
	releaseLater := sync.OnceFunc(func() { close(h.shutDone) })
	defer releaseLater()
	if neverRan {
		close(h.runDone) // Run can no longer start; it returns at once
	}
	h.logger.Info("shutting down", "clients", h.ClientCount())

	for _, c := range h.clients.all() {
		c.CloseWithCode(websocket.CloseGoingAway, "server shutdown") //nolint:errcheck // always nil
	}
	err := h.waitGone(ctx, nil)
	if err != nil {
		for _, c := range h.clients.all() {
			_ = c.conn.Close()
		}
	}
	if h.members != nil && !neverRan {
		h.members.stop(ctx)
	}
	h.stopBackground(ctx)
	releaseLater()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
		h.logger.Warn("shutdown timed out waiting for hooks", "error", err)
	}
	<-h.runDone
	return err
}

// waitGone waits until every client has been torn down (nil), stop is
// closed (nil) or ctx ends (its error). A nil stop never closes.
func (h *Hub) waitGone(ctx context.Context, stop <-chan struct{}) error {
	// The signal only wakes us; the count decides. The ticker covers the
	// case where another waiter consumed the signal.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for h.ClientCount() > 0 {
		select {
		case <-h.emptySig:
		case <-t.C:
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
