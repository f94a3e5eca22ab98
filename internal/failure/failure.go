// Package failure hands an adapter's failures to whoever listens: the error
// handler given when the adapter was built and the reporter the hub installs
// later (core.ErrorReportingAdapter). The NATS and Redis adapters share it.
package failure

import (
	"sync"

	"github.com/wshub/wshub/core"
)

// Reporter delivers failures. Its zero value reports to nobody; OnError is
// set once, before use, and the reporter at any time with Set.
type Reporter struct {
	// OnError, if set, gets every failure as a *core.AdapterError.
	OnError func(error)

	mu     sync.Mutex
	report func(*core.AdapterError)
}

// Set installs report, replacing a previous one; nil removes it.
func (r *Reporter) Set(report func(*core.AdapterError)) {
	r.mu.Lock()
	r.report = report
	r.mu.Unlock()
}

// Fail reports err as a failure of operation op.
func (r *Reporter) Fail(op string, err error) {
	ae := &core.AdapterError{Op: op, Err: err}
	r.mu.Lock()
	report := r.report
	r.mu.Unlock()
	if report != nil {
		report(ae)
	}
	if r.OnError != nil {
		r.OnError(ae)
	}
}
