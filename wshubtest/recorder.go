package wshubtest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/wshub/wshub/core"
)

// recorder is a subscription handler that keeps what a node received from
// the other nodes of one test, and lets the test wait for a condition on it.
type recorder struct {
	self  string
	known map[string]bool // NodeIDs of this test's nodes; others are ignored

	mu      sync.Mutex
	msgs    []core.AdapterMessage
	changed chan struct{} // closed and replaced on every new message
	// scribble makes handle overwrite Data after recording a copy, like a
	// receiver that reuses the slice it was given.
	scribble bool
}

func newRecorder(self string, known map[string]bool) *recorder {
	return &recorder{self: self, known: known, changed: make(chan struct{})}
}

func (r *recorder) handle(m core.AdapterMessage) {
	if m.NodeID == r.self || !r.known[m.NodeID] {
		return // own messages (the hub ignores them too) and strangers
	}
	kept := m
	kept.Data = bytes.Clone(m.Data)
	r.mu.Lock()
	r.msgs = append(r.msgs, kept)
	close(r.changed)
	r.changed = make(chan struct{})
	scribble := r.scribble
	r.mu.Unlock()
	if scribble {
		for i := range m.Data {
			m.Data[i] = 'X'
		}
	}
}

func (r *recorder) snapshot() []core.AdapterMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.AdapterMessage(nil), r.msgs...)
}

// wait blocks until cond holds for the received messages. It fails the test
// after waitTimeout.
func (r *recorder) wait(t testing.TB, what string, cond func([]core.AdapterMessage) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	if !r.waitUntil(cond, deadline.C) {
		t.Fatalf("%s: timed out after %v waiting for %s; received %d messages", r.self, waitTimeout, what, len(r.snapshot()))
	}
}

// waitUntil blocks until cond holds (true) or stop fires (false).
func (r *recorder) waitUntil(cond func([]core.AdapterMessage) bool, stop <-chan time.Time) bool {
	for {
		r.mu.Lock()
		ok := cond(r.msgs)
		changed := r.changed
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-stop:
			return false
		}
	}
}

// count returns how many messages match.
func count(msgs []core.AdapterMessage, match func(*core.AdapterMessage) bool) int {
	n := 0
	for i := range msgs {
		if match(&msgs[i]) {
			n++
		}
	}
	return n
}

func withData(data string) func(*core.AdapterMessage) bool {
	return func(m *core.AdapterMessage) bool { return string(m.Data) == data }
}

func inRoom(room string) func(*core.AdapterMessage) bool {
	return func(m *core.AdapterMessage) bool { return m.Room == room }
}
