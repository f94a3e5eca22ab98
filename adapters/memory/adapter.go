package memory

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

// Adapter is one hub's connection to a Bus. Create it with Bus.NewAdapter.
type Adapter struct {
	bus *Bus
	// inbox holds encoded messages waiting for the delivery goroutine; its
	// size is set in NewAdapter. It is never closed: senders may still hold
	// it after Close, and done stops the reader.
	inbox chan []byte
	done  chan struct{} // closed by Close

	mu         sync.RWMutex
	closed     bool
	subscribed bool
	receiving  bool // the delivery goroutine is running
	byInterest bool // the Subscribe ctx declared room interest: filter rooms by it
	interest   map[string]struct{}
	report     func(*core.AdapterError)

	closeOnce sync.Once
	wg        sync.WaitGroup // the delivery goroutine
	dropped   atomic.Uint64
}

var (
	_ core.Adapter               = (*Adapter)(nil)
	_ core.BatchPublisher        = (*Adapter)(nil)
	_ core.RoomInterestAdapter   = (*Adapter)(nil)
	_ core.HealthCheckAdapter    = (*Adapter)(nil)
	_ core.ErrorReportingAdapter = (*Adapter)(nil)
)

// Publish hands msg to every subscribed adapter on the bus, this one
// included, subject to room interest. It never blocks: a receiver whose
// inbox is full drops the message. It returns core.ErrAdapterClosed after
// Close and ctx's error if ctx is already done. msg.Data is encoded before
// Publish returns and not retained.
func (a *Adapter) Publish(ctx context.Context, msg core.AdapterMessage) error {
	if err := a.checkOpen(ctx); err != nil {
		return err
	}
	a.bus.deliver(wire.Append(make([]byte, 0, wire.Size(&msg)), &msg), &msg)
	return nil
}

// PublishBatch publishes msgs in order, as Publish does for each, encoding
// them all into one buffer.
func (a *Adapter) PublishBatch(ctx context.Context, msgs []core.AdapterMessage) error {
	if err := a.checkOpen(ctx); err != nil {
		return err
	}
	size := 0
	for i := range msgs {
		size += wire.Size(&msgs[i])
	}
	buf := make([]byte, 0, size)
	for i := range msgs {
		start := len(buf)
		buf = wire.Append(buf, &msgs[i])
		a.bus.deliver(buf[start:len(buf):len(buf)], &msgs[i])
	}
	return nil
}

func (a *Adapter) checkOpen(ctx context.Context) error {
	a.mu.RLock()
	closed := a.closed
	a.mu.RUnlock()
	if closed {
		return core.ErrAdapterClosed
	}
	return ctx.Err()
}

// Subscribe starts the delivery goroutine, which passes each message that
// reaches this adapter to handler, one at a time, until ctx is cancelled or
// Close is called. It does not block. Messages published before Subscribe
// are not delivered. It returns ErrNilHandler for a nil handler,
// ErrAlreadySubscribed when called a second time (even after ctx ended),
// and core.ErrAdapterClosed after Close.
func (a *Adapter) Subscribe(ctx context.Context, handler func(core.AdapterMessage)) error {
	if handler == nil {
		return ErrNilHandler
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.closed:
		return core.ErrAdapterClosed
	case a.subscribed:
		return ErrAlreadySubscribed
	}
	a.subscribed, a.receiving = true, true
	a.byInterest = core.DeclaresRoomInterest(ctx)
	// Added under mu while not closed, so Close's Wait always covers it.
	a.wg.Add(1)
	go a.run(ctx, handler)
	return nil
}

// run is the delivery goroutine. Its owner is the adapter: Close stops it
// through done and waits for it; cancelling the Subscribe ctx stops it too.
func (a *Adapter) run(ctx context.Context, handler func(core.AdapterMessage)) {
	defer a.wg.Done()
	defer func() {
		a.mu.Lock()
		a.receiving = false
		a.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.done:
			return
		case enc := <-a.inbox:
			m, err := wire.Decode(enc)
			if err != nil {
				a.reportError(&core.AdapterError{Op: wire.ErrorOp(err), Err: err})
				continue
			}
			handler(m)
		}
	}
}

// offer queues enc for this adapter if it is receiving and, for a room
// message, interested in room. It never blocks.
func (a *Adapter) offer(enc []byte, roomScoped bool, room string) {
	a.mu.RLock()
	want := a.receiving
	if want && roomScoped && a.byInterest {
		_, want = a.interest[room]
	}
	a.mu.RUnlock()
	if !want {
		return
	}
	select {
	case a.inbox <- enc:
	default:
		a.dropped.Add(1)
		a.reportError(&core.AdapterError{Op: "subscribe", Err: ErrInboxFull})
	}
}

func (a *Adapter) reportError(e *core.AdapterError) {
	a.mu.RLock()
	report := a.report
	a.mu.RUnlock()
	if report != nil {
		report(e)
	}
}

// SetRoomInterest records whether this adapter wants messages of type
// core.AdapterRoom and core.AdapterRoomExcept for room. It takes effect at
// once: publishes that start after it returns see it. Initially an adapter
// is interested in no room. Interest filters room messages only when the
// Subscribe context came from core.WithRoomInterest (as a hub's does);
// otherwise the adapter receives every room.
func (a *Adapter) SetRoomInterest(room string, interested bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if interested {
		a.interest[room] = struct{}{}
	} else {
		delete(a.interest, room)
	}
}

// SetErrorReporter installs report, which is called for each message this
// adapter drops (inbox full) or cannot decode. It is called from publishing
// goroutines and from the delivery goroutine, so it must be safe for
// concurrent use and must not block. A nil report disables reporting.
func (a *Adapter) SetErrorReporter(report func(*core.AdapterError)) {
	a.mu.Lock()
	a.report = report
	a.mu.Unlock()
}

// CheckHealth returns core.ErrAdapterClosed after Close and
// ErrNotReceiving once the delivery goroutine stopped because the Subscribe
// ctx ended; otherwise nil (the bus itself cannot fail).
func (a *Adapter) CheckHealth(context.Context) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	switch {
	case a.closed:
		return core.ErrAdapterClosed
	case a.subscribed && !a.receiving:
		return ErrNotReceiving
	}
	return nil
}

// Dropped returns how many messages for this adapter were dropped because
// its inbox was full.
func (a *Adapter) Dropped() uint64 { return a.dropped.Load() }

// Close detaches the adapter from the bus, stops the delivery goroutine and
// waits for it (so for a handler call in progress). Messages still in the
// inbox are discarded. Close is idempotent and always returns nil; it must
// not be called from the handler.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		a.bus.remove(a)
		close(a.done)
	})
	a.wg.Wait()
	return nil
}
