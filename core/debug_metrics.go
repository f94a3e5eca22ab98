package core

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DebugMetrics is an in-memory MetricsCollector for development and tests.
// It is safe for concurrent use; read it with Stats or print it.
type DebugMetrics struct {
	activeConns  atomic.Int64
	totalConns   atomic.Int64
	recv         atomic.Int64
	sent         atomic.Int64
	dropped      atomic.Int64
	bytes        atomic.Int64
	joins        atomic.Int64
	leaves       atomic.Int64
	rooms        atomic.Int64
	latencySum   atomic.Int64
	latencyN     atomic.Int64
	broadcastSum atomic.Int64
	broadcastN   atomic.Int64

	mu     sync.Mutex
	errors map[string]int64
	start  time.Time
}

var _ MetricsCollector = (*DebugMetrics)(nil)

// DebugStats is a snapshot of DebugMetrics.
type DebugStats struct {
	ActiveConnections int64
	TotalConnections  int64
	TotalMessagesRecv int64
	TotalMessagesSent int64
	TotalDropped      int64
	TotalMessageBytes int64
	TotalRoomJoins    int64
	TotalRoomLeaves   int64
	ActiveRooms       int64
	AvgLatency        time.Duration
	AvgBroadcast      time.Duration
	Errors            map[string]int64
	Uptime            time.Duration
}

// NewDebugMetrics returns zeroed DebugMetrics whose uptime starts now.
func NewDebugMetrics() *DebugMetrics {
	return &DebugMetrics{errors: make(map[string]int64), start: time.Now()}
}

// IncrementConnections counts a connection.
func (d *DebugMetrics) IncrementConnections() { d.activeConns.Add(1); d.totalConns.Add(1) }

// DecrementConnections counts a disconnection.
func (d *DebugMetrics) DecrementConnections() { d.activeConns.Add(-1) }

// IncrementMessagesReceived counts an inbound message.
func (d *DebugMetrics) IncrementMessagesReceived() { d.recv.Add(1) }

// IncrementMessagesSent counts written messages.
func (d *DebugMetrics) IncrementMessagesSent(count int) { d.sent.Add(int64(count)) }

// IncrementMessagesDropped counts a dropped message.
func (d *DebugMetrics) IncrementMessagesDropped() { d.dropped.Add(1) }

// RecordMessageSize adds size to the inbound byte total.
func (d *DebugMetrics) RecordMessageSize(size int) { d.bytes.Add(int64(size)) }

// RecordLatency adds a handler latency to the average.
func (d *DebugMetrics) RecordLatency(duration time.Duration) {
	d.latencySum.Add(int64(duration))
	d.latencyN.Add(1)
}

// RecordBroadcastDuration adds a broadcast duration to the average.
func (d *DebugMetrics) RecordBroadcastDuration(duration time.Duration) {
	d.broadcastSum.Add(int64(duration))
	d.broadcastN.Add(1)
}

// IncrementRoomJoins counts a join.
func (d *DebugMetrics) IncrementRoomJoins() { d.joins.Add(1) }

// IncrementRoomLeaves counts a leave.
func (d *DebugMetrics) IncrementRoomLeaves() { d.leaves.Add(1) }

// IncrementRooms counts a created room.
func (d *DebugMetrics) IncrementRooms() { d.rooms.Add(1) }

// DecrementRooms counts a deleted room.
func (d *DebugMetrics) DecrementRooms() { d.rooms.Add(-1) }

// IncrementErrors counts an error of errorType.
func (d *DebugMetrics) IncrementErrors(errorType string) {
	d.mu.Lock()
	if d.errors == nil {
		d.errors = make(map[string]int64)
	}
	d.errors[errorType]++
	d.mu.Unlock()
}

// Reset zeroes every counter and restarts the uptime clock.
func (d *DebugMetrics) Reset() {
	for _, c := range []*atomic.Int64{&d.activeConns, &d.totalConns, &d.recv, &d.sent, &d.dropped, &d.bytes,
		&d.joins, &d.leaves, &d.rooms, &d.latencySum, &d.latencyN, &d.broadcastSum, &d.broadcastN} {
		c.Store(0)
	}
	d.mu.Lock()
	d.errors = make(map[string]int64)
	d.start = time.Now()
	d.mu.Unlock()
}

// Stats returns a snapshot.
func (d *DebugMetrics) Stats() DebugStats {
	s := DebugStats{
		ActiveConnections: d.activeConns.Load(),
		TotalConnections:  d.totalConns.Load(),
		TotalMessagesRecv: d.recv.Load(),
		TotalMessagesSent: d.sent.Load(),
		TotalDropped:      d.dropped.Load(),
		TotalMessageBytes: d.bytes.Load(),
		TotalRoomJoins:    d.joins.Load(),
		TotalRoomLeaves:   d.leaves.Load(),
		ActiveRooms:       d.rooms.Load(),
	}
	if n := d.latencyN.Load(); n > 0 {
		s.AvgLatency = time.Duration(d.latencySum.Load() / n)
	}
	if n := d.broadcastN.Load(); n > 0 {
		s.AvgBroadcast = time.Duration(d.broadcastSum.Load() / n)
	}
	d.mu.Lock()
	s.Errors = make(map[string]int64, len(d.errors))
	for k, v := range d.errors {
		s.Errors[k] = v
	}
	if !d.start.IsZero() {
		s.Uptime = time.Since(d.start)
	}
	d.mu.Unlock()
	return s
}

// String returns a multi-line summary.
func (d *DebugMetrics) String() string {
	s := d.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "connections: %d active, %d total\n", s.ActiveConnections, s.TotalConnections)
	fmt.Fprintf(&b, "messages: %d received (%d bytes), %d sent, %d dropped\n",
		s.TotalMessagesRecv, s.TotalMessageBytes, s.TotalMessagesSent, s.TotalDropped)
	fmt.Fprintf(&b, "rooms: %d active, %d joins, %d leaves\n", s.ActiveRooms, s.TotalRoomJoins, s.TotalRoomLeaves)
	fmt.Fprintf(&b, "latency: handler avg %s, broadcast avg %s\n", s.AvgLatency, s.AvgBroadcast)
	keys := make([]string, 0, len(s.Errors))
	for k := range s.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "errors[%s]: %d\n", k, s.Errors[k])
	}
	fmt.Fprintf(&b, "uptime: %s", s.Uptime.Round(time.Second))
	return b.String()
}
