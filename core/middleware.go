package core

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Middleware wraps a HandlerFunc.
type Middleware func(HandlerFunc) HandlerFunc

// MiddlewareChain composes middlewares around a final handler. The first
// middleware added with Use is the outermost. Add middlewares before the
// first Execute; Execute is then safe for concurrent use.
type MiddlewareChain struct {
	handler     HandlerFunc
	middlewares []Middleware

	mu    sync.Mutex
	built HandlerFunc
}

// NewMiddlewareChain returns a chain ending in handler.
func NewMiddlewareChain(handler HandlerFunc) *MiddlewareChain {
	return &MiddlewareChain{handler: handler}
}

// Use appends mw (outermost first) and returns m. It discards any built
// chain. Do not call it concurrently with Execute.
func (m *MiddlewareChain) Use(mw Middleware) *MiddlewareChain {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mw != nil {
		m.middlewares = append(m.middlewares, mw)
	}
	m.built = nil
	return m
}

// Build composes the chain once so Execute does no work per call, and
// returns m.
func (m *MiddlewareChain) Build() *MiddlewareChain {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buildLocked()
	return m
}

func (m *MiddlewareChain) buildLocked() HandlerFunc {
	h := m.handler
	if h == nil {
		h = func(*Client, *Message) error { return nil }
	}
	for i := len(m.middlewares) - 1; i >= 0; i-- {
		h = m.middlewares[i](h)
	}
	m.built = h
	return h
}

// Execute runs msg through the chain, building it on first use.
func (m *MiddlewareChain) Execute(client *Client, msg *Message) error {
	m.mu.Lock()
	h := m.built
	if h == nil {
		h = m.buildLocked()
	}
	m.mu.Unlock()
	return h(client, msg)
}

// Handler returns the built chain as a HandlerFunc, for WithMessageHandler
// without the per-call lock of Execute.
func (m *MiddlewareChain) Handler() HandlerFunc {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.built == nil {
		return m.buildLocked()
	}
	return m.built
}

// LoggingMiddleware logs each message (client, type, size) at debug level,
// and failures at warn level with the handler's duration. A NamedLogger is
// named "wshub".
func LoggingMiddleware(logger Logger) Middleware {
	if logger == nil {
		logger = &NoOpLogger{}
	}
	logger = Named(logger, "wshub")
	return func(next HandlerFunc) HandlerFunc {
		return func(c *Client, msg *Message) error {
			start := time.Now()
			err := next(c, msg)
			if err != nil {
				logger.Warn("message handler failed", "client_id", clientID(c),
					"type", int(msg.Type), "size", len(msg.Data), "duration", time.Since(start), "error", err)
				return err
			}
			logger.Debug("message handled", "client_id", clientID(c),
				"type", int(msg.Type), "size", len(msg.Data), "duration", time.Since(start))
			return nil
		}
	}
}

func clientID(c *Client) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// RecoveryMiddleware turns a panic in the handlers it wraps into an error
// wrapping ErrInvalidMessage, and logs it; the connection stays open.
// (Without it the hub still recovers, but closes the connection.) The log
// line carries the panic's stack under "stack". A NamedLogger is named
// "wshub".
func RecoveryMiddleware(logger Logger) Middleware {
	if logger == nil {
		logger = &NoOpLogger{}
	}
	logger = Named(logger, "wshub")
	return func(next HandlerFunc) HandlerFunc {
		return func(c *Client, msg *Message) (err error) {
			defer func() {
				if p := recover(); p != nil {
					logger.Error("recovered panic in message handler", "client_id", clientID(c), "panic", fmt.Sprint(p),
						"stack", string(debug.Stack()))
					err = fmt.Errorf("%w: handler panicked: %v", ErrInvalidMessage, p)
				}
			}()
			return next(c, msg)
		}
	}
}

// MetricsMiddleware records handler latency and counts handler errors as
// IncrementErrors("handler"). The read pump already counts messages and
// sizes; use WithoutHandlerLatency on the hub so latency is not recorded
// twice.
func MetricsMiddleware(metrics MetricsCollector) Middleware {
	if metrics == nil {
		metrics = &NoOpMetrics{}
	}
	return func(next HandlerFunc) HandlerFunc {
		return func(c *Client, msg *Message) error {
			start := time.Now()
			err := next(c, msg)
			metrics.RecordLatency(time.Since(start))
			if err != nil {
				metrics.IncrementErrors("handler")
			}
			return err
		}
	}
}
