package core

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// panicLogEvery is how often the panics of one place (a hook, the message
// handler) are logged with their stack; the others in between are counted
// and reported with the next line logged.
const panicLogEvery = 10 * time.Second

// panicLog rate-limits the logs of recovered panics per place, so that a
// hook that panics on every dropped message, or a client that makes the
// handler panic on every connection, cannot flood the log.
type panicLog struct {
	mu     sync.Mutex
	places map[string]*panicPlace // keyed by the fixed names the hub uses
}

type panicPlace struct {
	last       time.Time
	suppressed int
}

// allow reports whether a panic in where is logged now, and how many were
// not logged since the last one that was.
func (l *panicLog) allow(where string, now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.places == nil {
		l.places = make(map[string]*panicPlace)
	}
	p := l.places[where]
	if p == nil {
		p = &panicPlace{}
		l.places[where] = p
	}
	if !p.last.IsZero() && now.Sub(p.last) < panicLogEvery {
		p.suppressed++
		return 0, false
	}
	p.last = now
	suppressed, p.suppressed = p.suppressed, 0
	return suppressed, true
}

// safeCall runs fn, recovering and reporting a panic.
func (h *Hub) safeCall(name string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			h.panicked(name, p)
		}
	}()
	fn()
}

// panicked counts a recovered panic and logs it with its stack, at most
// once per panicLogEvery for each place; fields are extra key-value pairs.
func (h *Hub) panicked(where string, p any, fields ...any) {
	h.logPanic("recovered panic", where, p, fields...)
}

// logPanic is panicked with the log message given.
func (h *Hub) logPanic(msg, where string, p any, fields ...any) {
	h.metrics.IncrementErrors("panic")
	suppressed, ok := h.panics.allow(where, time.Now())
	if !ok {
		return
	}
	kv := make([]any, 0, 8+len(fields))
	kv = append(kv, "in", where, "panic", fmt.Sprint(p))
	kv = append(kv, fields...)
	if suppressed > 0 {
		kv = append(kv, "suppressed_since_last", suppressed)
	}
	kv = append(kv, "stack", string(debug.Stack()))
	h.logger.Error(msg, kv...)
}
