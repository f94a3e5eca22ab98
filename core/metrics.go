package core

import "time"

// MetricsCollector receives the hub's counters and observations.
// Implementations must be safe for concurrent use and cheap: several methods
// are called on hot paths. The metrics package provides a Prometheus one.
type MetricsCollector interface {
	// IncrementConnections counts a registered connection.
	IncrementConnections()
	// DecrementConnections counts a connection that went away.
	DecrementConnections()

	// IncrementMessagesReceived counts one inbound message accepted by the
	// rate limiter.
	IncrementMessagesReceived()
	// IncrementMessagesSent counts messages written to sockets.
	IncrementMessagesSent(count int)
	// IncrementMessagesDropped counts one message dropped by backpressure.
	IncrementMessagesDropped()

	// RecordMessageSize observes the size in bytes of an inbound message.
	RecordMessageSize(size int)
	// RecordLatency observes the time a message handler took.
	RecordLatency(duration time.Duration)
	// RecordBroadcastDuration observes the time one local fan-out took.
	RecordBroadcastDuration(duration time.Duration)

	// IncrementRoomJoins counts one successful room join.
	IncrementRoomJoins()
	// IncrementRoomLeaves counts one room leave.
	IncrementRoomLeaves()
	// IncrementRooms counts a room that came into existence on this node.
	IncrementRooms()
	// DecrementRooms counts a room deleted because its last member left.
	DecrementRooms()

	// IncrementErrors counts one error of the given kind (for example
	// "panic", "rate_limit_exceeded", "read", "write", "adapter_publish").
	IncrementErrors(errorType string)
}

// AdapterMetricsCollector is an optional extension of MetricsCollector. When
// the hub's collector implements it, the hub reports its multi-node traffic
// through it; otherwise adapter errors and drops are counted with
// IncrementErrors("adapter_<op>").
type AdapterMetricsCollector interface {
	// IncrementAdapterPublished counts messages handed to the broker. Each
	// took a sequence number (AdapterMessage.Seq): a node that receives its
	// stream counts it as received or, if it never arrives, as lost.
	IncrementAdapterPublished(count int)
	// IncrementAdapterReceived counts messages received from other nodes
	// (this node's own, which some brokers echo, are not counted).
	IncrementAdapterReceived(count int)
	// IncrementAdapterErrors counts a failed broker operation or a rejected
	// bus message. op is "publish", "subscribe", "decode" or "version".
	IncrementAdapterErrors(op string)
	// IncrementAdapterDropped counts messages dropped before reaching the
	// broker because the publish queue was full, the link was down or the
	// hub stopped. A collector that implements DeliveryMetricsCollector
	// gets IncrementAdapterDroppedReason instead.
	IncrementAdapterDropped(count int)
}

// DeliveryMetricsCollector is an optional extension of MetricsCollector
// for the accounting of messages between nodes. With it, for a node B that
// receives the whole of a node A's traffic, A's published count equals B's
// received count from A plus B's lost count (less reordered ones, which
// were counted lost when the gap showed), once nothing is in flight; and
// A's sends to the cluster equal its published count plus its dropped
// count. Messages that reach B are then counted again, per socket, by
// IncrementMessagesSent or IncrementMessagesDropped.
type DeliveryMetricsCollector interface {
	// IncrementAdapterDroppedReason counts messages dropped before reaching
	// the broker, by reason: DropQueueFull, DropLinkDown, DropStale or
	// DropStopped.
	// They took no sequence number.
	IncrementAdapterDroppedReason(reason string, count int)
	// IncrementAdapterLost counts messages of other nodes that did not
	// arrive: gaps in a sender's sequence numbers.
	IncrementAdapterLost(count int)
	// IncrementAdapterReordered counts messages that arrived after a later
	// one of the same sender and stream (and were counted lost then).
	IncrementAdapterReordered(count int)
	// IncrementAdapterDuplicates counts messages that arrived twice.
	IncrementAdapterDuplicates(count int)
}

// CloseMetricsCollector is an optional extension of MetricsCollector that
// counts closed connections by WebSocket close code (1000, 1001, 1006, ...).
type CloseMetricsCollector interface {
	IncrementCloseCode(code int)
}

// TrafficMetricsCollector is an optional extension of MetricsCollector for
// the traffic of client sockets and the size of the cluster. When the hub's
// collector implements it, the hub calls it as described below; the hub
// checks for it once, in NewHub, so a collector without it costs nothing.
type TrafficMetricsCollector interface {
	// AddBytesSent counts n bytes a client's write pump wrote to its
	// socket. It is called once per socket write (a write pump batches many
	// frames into one), and counts what goes on the wire: frame headers,
	// ping, pong and close frames included, and payloads as sent, so
	// compressed when the connection negotiated compression. Bytes of a
	// write that failed part way are counted as far as they went. The HTTP
	// handshake, and the close frame of a connection refused right after
	// it, are not counted.
	AddBytesSent(n int)
	// AddBytesReceived counts n bytes read from a client's socket, once per
	// read: frames as they arrive, headers and control frames included,
	// payloads before decompression. Bytes read while discarding the input
	// of a misbehaving client are counted too.
	AddBytesReceived(n int)
	// SetClusterNodes reports the nodes of the cluster this node knows to
	// be alive, itself included: 1 when presence starts (WithPresence, or
	// member lists that need it), then again whenever a heartbeat shows a
	// new node, a silent node is evicted or a node says goodbye. Without
	// presence it is never called.
	// It is called with an internal lock held, so that the values arrive
	// in order: it must return quickly and must not call into the Hub.
	SetClusterNodes(n int)
}

// NoOpMetrics discards everything. It is the hub's default MetricsCollector.
type NoOpMetrics struct{}

var _ MetricsCollector = (*NoOpMetrics)(nil)

// IncrementConnections does nothing.
func (n *NoOpMetrics) IncrementConnections() {}

// DecrementConnections does nothing.
func (n *NoOpMetrics) DecrementConnections() {}

// IncrementMessagesReceived does nothing.
func (n *NoOpMetrics) IncrementMessagesReceived() {}

// IncrementMessagesSent does nothing.
func (n *NoOpMetrics) IncrementMessagesSent(int) {}

// IncrementMessagesDropped does nothing.
func (n *NoOpMetrics) IncrementMessagesDropped() {}

// RecordMessageSize does nothing.
func (n *NoOpMetrics) RecordMessageSize(int) {}

// RecordLatency does nothing.
func (n *NoOpMetrics) RecordLatency(time.Duration) {}

// RecordBroadcastDuration does nothing.
func (n *NoOpMetrics) RecordBroadcastDuration(time.Duration) {}

// IncrementRoomJoins does nothing.
func (n *NoOpMetrics) IncrementRoomJoins() {}

// IncrementRoomLeaves does nothing.
func (n *NoOpMetrics) IncrementRoomLeaves() {}

// IncrementRooms does nothing.
func (n *NoOpMetrics) IncrementRooms() {}

// DecrementRooms does nothing.
func (n *NoOpMetrics) DecrementRooms() {}

// IncrementErrors does nothing.
func (n *NoOpMetrics) IncrementErrors(string) {}
