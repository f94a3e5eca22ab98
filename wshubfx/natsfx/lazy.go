package natsfx

import (
	"context"
	"sync"

	natsadapter "github.com/wshub/wshub/adapters/nats"
	"github.com/wshub/wshub/core"
)

// lazyAdapter stands in for the adapter of a connection made in OnStart:
// the hub is built (and holds its adapter) before anything may dial. It
// forwards every call once the real adapter is set; the hub makes none
// before Run, which starts after OnStart. Calls that arrive earlier are
// refused (Publish, Subscribe, CheckHealth) or remembered and replayed
// (SetErrorReporter, SetRoomInterest).
type lazyAdapter struct {
	mu       sync.RWMutex
	inner    *natsadapter.Adapter
	closed   bool
	report   func(*core.AdapterError)
	interest map[string]bool
}

var (
	_ core.Adapter               = (*lazyAdapter)(nil)
	_ core.BatchPublisher        = (*lazyAdapter)(nil)
	_ core.RoomInterestAdapter   = (*lazyAdapter)(nil)
	_ core.HealthCheckAdapter    = (*lazyAdapter)(nil)
	_ core.ErrorReportingAdapter = (*lazyAdapter)(nil)
)

func (l *lazyAdapter) set(a *natsadapter.Adapter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inner = a
	if l.report != nil {
		a.SetErrorReporter(l.report)
	}
	for room, on := range l.interest {
		a.SetRoomInterest(room, on)
	}
	l.interest = nil
}

func (l *lazyAdapter) get() (*natsadapter.Adapter, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.inner == nil {
		if l.closed {
			return nil, core.ErrAdapterClosed
		}
		return nil, ErrNotConnected
	}
	return l.inner, nil
}

// Publish forwards to the adapter.
func (l *lazyAdapter) Publish(ctx context.Context, msg core.AdapterMessage) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.Publish(ctx, msg)
}

// PublishBatch forwards to the adapter.
func (l *lazyAdapter) PublishBatch(ctx context.Context, msgs []core.AdapterMessage) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.PublishBatch(ctx, msgs)
}

// Subscribe forwards to the adapter.
func (l *lazyAdapter) Subscribe(ctx context.Context, handler func(core.AdapterMessage)) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.Subscribe(ctx, handler)
}

// CheckHealth forwards to the adapter, or reports ErrNotConnected.
func (l *lazyAdapter) CheckHealth(ctx context.Context) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.CheckHealth(ctx)
}

// SetRoomInterest forwards to the adapter, or remembers the interest.
func (l *lazyAdapter) SetRoomInterest(room string, interested bool) {
	l.mu.Lock()
	a := l.inner
	if a == nil {
		if l.interest == nil {
			l.interest = make(map[string]bool)
		}
		l.interest[room] = interested
	}
	l.mu.Unlock()
	if a != nil {
		a.SetRoomInterest(room, interested)
	}
}

// SetErrorReporter forwards to the adapter and keeps report for one set
// later.
func (l *lazyAdapter) SetErrorReporter(report func(*core.AdapterError)) {
	l.mu.Lock()
	l.report = report
	a := l.inner
	l.mu.Unlock()
	if a != nil {
		a.SetErrorReporter(report)
	}
}

// Close closes the adapter if it was set. The connection is closed by the
// module's OnStop, after this.
func (l *lazyAdapter) Close() error {
	l.mu.Lock()
	l.closed = true
	a := l.inner
	l.mu.Unlock()
	if a == nil {
		return nil
	}
	return a.Close()
}
