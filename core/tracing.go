package core

import (
	"context"
	"net/http"
)

// Tracer receives the hub's trace points, so that a tracing system can
// follow a message from the client that sent it, through its handler and
// the bus, to its delivery on other nodes. The tracing package implements
// it with OpenTelemetry; core itself depends on no tracing library.
//
// Without a Tracer (the default) the hub calls nothing and keeps no trace
// state. A Tracer's methods are called from many goroutines at once and must
// be safe for concurrent use; they run on the hub's hot paths, so they must
// not block. None of them may return a nil context or a nil function.
type Tracer interface {
	// StartUpgrade is called when UpgradeConnection begins. The context it
	// returns (derived from ctx, the request's) is the base of the
	// client's Context; end is called once with the upgrade's outcome (nil
	// when the client was registered).
	StartUpgrade(ctx context.Context, r *http.Request) (context.Context, func(err error))
	// StartMessage is called before a client's message is dispatched
	// (hooks, middleware, handler); ctx is the client's Context. The
	// context it returns is the message's (Message.Context); end is called
	// once with the handler's error when the dispatch is done, or with
	// ErrHandlerPanicked when it panicked.
	StartMessage(ctx context.Context, c *Client, msg *Message) (context.Context, func(err error))
	// Publish is called when a send whose context is ctx hands m to the
	// publisher for the other nodes. It may set m.Trace (at most
	// MaxTraceContext bytes) to carry ctx's trace to them.
	Publish(ctx context.Context, m *AdapterMessage)
	// Deliver is called when a message of another node that carries a
	// trace context (m.Trace not empty) is delivered on this node; end is
	// called once when the local delivery is done.
	Deliver(m *AdapterMessage) (end func())
}

// WithTracer sets the hub's Tracer (default none: no trace points, no
// cost). A nil tracer is ignored. See the tracing package for
// OpenTelemetry.
func WithTracer(t Tracer) Option {
	return func(h *Hub) {
		if t != nil {
			h.tracer = t
		}
	}
}

// tracePublish lets the tracer stamp m with ctx's trace before m is
// published; a send without a context, or a hub without a tracer, costs a
// nil check.
func (h *Hub) tracePublish(ctx context.Context, m *AdapterMessage) {
	if h.tracer != nil && h.adapter != nil && ctx != nil {
		h.tracer.Publish(ctx, m)
		if len(m.Trace) > MaxTraceContext {
			m.Trace = nil // the envelope would refuse it
		}
	}
}
