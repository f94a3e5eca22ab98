package core

import (
	"slices"
	"time"
)

// A node's connections are taken for a dead node's by a sweep only once
// they are older than three heartbeat intervals and their node is not
// heard (see orphans). Sweeps run when a node is evicted or says goodbye,
// and every refresh period. A node that dies before any other heard it (it
// crashed within its first heartbeat, or its link was down from the start)
// is never evicted, so its members would stay listed until the next
// periodic sweep, a minute later. Whenever this node reads records (a
// member list, a sweep) and finds connections of a node it does not hear,
// it arranges a sweep for when they are old enough; if the node is heard
// meanwhile, that sweep leaves them alone.

// watchUnheard arranges sweeps for the connections in docs of nodes this
// node does not hear.
func (t *memberTracker) watchUnheard(docs []presenceDoc) {
	if t.h.pres == nil {
		return // without heartbeats, no other node is ever known dead
	}
	me := t.h.nodeID
	var youngest map[string]int64 // by unheard node: its latest join
	var heard []string
	for i := range docs {
		for j := range docs[i].conns {
			c := &docs[i].conns[j]
			if c.node == me {
				continue
			}
			if at, ok := youngest[c.node]; ok {
				youngest[c.node] = max(at, c.joined)
				continue
			}
			if slices.Contains(heard, c.node) {
				continue
			}
			if t.h.nodeAlive(c.node) {
				heard = append(heard, c.node)
				continue
			}
			if youngest == nil {
				youngest = make(map[string]int64)
			}
			youngest[c.node] = c.joined
		}
	}
	if len(youngest) == 0 {
		return
	}
	interval := t.h.presenceInterval
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.stopping {
		return
	}
	for node, joined := range youngest {
		if t.unheard[node] != nil {
			continue // a sweep is arranged; it watches what is still young
		}
		// Old enough for the sweep's test (see orphans), and no sooner
		// than an interval from now, so that lists read in a loop cost one
		// sweep per interval at most.
		due := time.UnixMilli(joined).Add(3*interval + interval/2)
		wait := max(time.Until(due), interval)
		t.unheard[node] = time.AfterFunc(wait, func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			delete(t.unheard, node)
			t.requestSweepLocked()
		})
	}
}

// stopUnheardLocked stops the sweeps watchUnheard arranged; t.mu is held.
func (t *memberTracker) stopUnheardLocked() {
	for node, tm := range t.unheard {
		tm.Stop()
		delete(t.unheard, node)
	}
}
