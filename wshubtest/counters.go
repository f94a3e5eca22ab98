package wshubtest

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/wshub/wshub/core"
)

// Counters is a core.MetricsCollector for tests that also counts a hub's
// traffic between nodes (core.AdapterMetricsCollector and
// core.DeliveryMetricsCollector): give it to a hub with core.WithMetrics
// and read [Counters.Traffic] to check what the hub published, received,
// lost and dropped over the adapter under test. The socket-side counts
// are those of the embedded core.DebugMetrics. Make one with
// [NewCounters]; it is safe for concurrent use.
type Counters struct {
	*core.DebugMetrics

	published, received    atomic.Int64
	lost, reordered, dupes atomic.Int64
	droppedWithoutReason   atomic.Int64
	mu                     sync.Mutex
	dropped, adapterErrors map[string]int64
}

var (
	_ core.AdapterMetricsCollector  = (*Counters)(nil)
	_ core.DeliveryMetricsCollector = (*Counters)(nil)
)

// NewCounters returns zeroed Counters, for one hub.
func NewCounters() *Counters {
	return &Counters{DebugMetrics: core.NewDebugMetrics(),
		dropped: make(map[string]int64), adapterErrors: make(map[string]int64)}
}

// IncrementAdapterPublished counts messages handed to the broker.
func (c *Counters) IncrementAdapterPublished(n int) { c.published.Add(int64(n)) }

// IncrementAdapterReceived counts messages received from other nodes.
func (c *Counters) IncrementAdapterReceived(n int) { c.received.Add(int64(n)) }

// IncrementAdapterErrors counts a failed adapter operation.
func (c *Counters) IncrementAdapterErrors(op string) {
	c.mu.Lock()
	c.adapterErrors[op]++
	c.mu.Unlock()
}

// IncrementAdapterDropped counts drops without a reason (a hub that does
// not know DeliveryMetricsCollector).
func (c *Counters) IncrementAdapterDropped(n int) { c.droppedWithoutReason.Add(int64(n)) }

// IncrementAdapterDroppedReason counts drops before the broker by reason.
func (c *Counters) IncrementAdapterDroppedReason(reason string, n int) {
	c.mu.Lock()
	c.dropped[reason] += int64(n)
	c.mu.Unlock()
}

// IncrementAdapterLost counts other nodes' messages that never arrived.
func (c *Counters) IncrementAdapterLost(n int) { c.lost.Add(int64(n)) }

// IncrementAdapterReordered counts messages that arrived after a later one.
func (c *Counters) IncrementAdapterReordered(n int) { c.reordered.Add(int64(n)) }

// IncrementAdapterDuplicates counts messages that arrived twice.
func (c *Counters) IncrementAdapterDuplicates(n int) { c.dupes.Add(int64(n)) }

// Traffic is a snapshot of a hub's counts between nodes, from
// [Counters.Traffic]: a test compares two nodes' snapshots to check that
// what one published the other received or counted lost.
type Traffic struct {
	// Published are the messages handed to the broker; Received those
	// received from other nodes.
	Published, Received int64
	// Lost, Reordered and Duplicates are other nodes' messages that never
	// arrived, arrived after a later one, or arrived twice, as the hub
	// saw from their sequence numbers.
	Lost, Reordered, Duplicates int64
	// Dropped are the messages dropped before the broker, by reason (the
	// core.Drop* constants); "" holds drops counted without one.
	Dropped map[string]int64
	// AdapterErrors are the failed adapter operations, by operation
	// ("publish", ...).
	AdapterErrors map[string]int64
	// ClientDrops are messages dropped at this node's sockets.
	ClientDrops int64
}

// DroppedTotal sums Dropped over the reasons, with or without one.
func (t Traffic) DroppedTotal() int64 {
	var n int64
	for _, v := range t.Dropped {
		n += v
	}
	return n
}

// Traffic returns the counts so far, in maps of their own.
func (c *Counters) Traffic() Traffic {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := Traffic{
		Published: c.published.Load(), Received: c.received.Load(),
		Lost: c.lost.Load(), Reordered: c.reordered.Load(), Duplicates: c.dupes.Load(),
		Dropped: maps.Clone(c.dropped), AdapterErrors: maps.Clone(c.adapterErrors),
		ClientDrops: c.Stats().TotalDropped,
	}
	if n := c.droppedWithoutReason.Load(); n > 0 {
		t.Dropped[""] = n
	}
	return t
}
