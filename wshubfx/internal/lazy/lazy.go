// Package lazy holds the adapter stand-in of the broker modules (natsfx,
// redisfx), which make their broker client in OnStart rather than when the
// graph is built.
package lazy

import (
	"context"
	"sync"

	"github.com/wshub/wshub/core"
)

// Full is an adapter with every optional extension, as this module's
// broker adapters are.
type Full interface {
	core.Adapter
	core.BatchPublisher
	core.RoomInterestAdapter
	core.HealthCheckAdapter
	core.ErrorReportingAdapter
}

// Adapter stands in for the adapter of a client made in OnStart: the hub is
// built (and holds its adapter) before anything may dial. It forwards every
// call once the real adapter is set; the hub makes none before Run, which
// starts after OnStart. Calls that arrive earlier are refused (Publish,
// Subscribe, CheckHealth) or remembered and replayed (SetErrorReporter,
// SetRoomInterest).
type Adapter struct {
	notConnected error // returned before Set

	mu       sync.RWMutex
	inner    Full
	closed   bool
	report   func(*core.AdapterError)
	interest map[string]bool
}

var _ Full = (*Adapter)(nil)

// New returns an Adapter that refuses calls with notConnected until Set.
func New(notConnected error) *Adapter { return &Adapter{notConnected: notConnected} }

// Set installs the real adapter and replays what was remembered.
func (l *Adapter) Set(a Full) {
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

func (l *Adapter) get() (Full, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.inner == nil {
		if l.closed {
			return nil, core.ErrAdapterClosed
		}
		return nil, l.notConnected
	}
	return l.inner, nil
}

// Publish forwards to the adapter.
func (l *Adapter) Publish(ctx context.Context, msg core.AdapterMessage) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.Publish(ctx, msg)
}

// PublishBatch forwards to the adapter.
func (l *Adapter) PublishBatch(ctx context.Context, msgs []core.AdapterMessage) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.PublishBatch(ctx, msgs)
}

// Subscribe forwards to the adapter.
func (l *Adapter) Subscribe(ctx context.Context, handler func(core.AdapterMessage)) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.Subscribe(ctx, handler)
}

// CheckHealth forwards to the adapter, or reports ErrNotConnected.
func (l *Adapter) CheckHealth(ctx context.Context) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.CheckHealth(ctx)
}

// SetRoomInterest forwards to the adapter, or remembers the interest.
func (l *Adapter) SetRoomInterest(room string, interested bool) {
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
func (l *Adapter) SetErrorReporter(report func(*core.AdapterError)) {
	l.mu.Lock()
	l.report = report
	a := l.inner
	l.mu.Unlock()
	if a != nil {
		a.SetErrorReporter(report)
	}
}

// Close closes the adapter if it was set. The broker client is closed by
// the module's OnStop, after this.
func (l *Adapter) Close() error {
	l.mu.Lock()
	l.closed = true
	a := l.inner
	l.mu.Unlock()
	if a == nil {
		return nil
	}
	return a.Close()
}
