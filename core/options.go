package core

import (
	"strconv"
	"time"
)

// Option configures a Hub in NewHub.
type Option func(*Hub)

// UpgradeOption configures one UpgradeConnection call.
type UpgradeOption func(*Client)

// DropPolicy says what a send does when the client's queue is at one of
// its bounds (Config.SendChannelSize messages or Config.MaxQueuedBytes
// bytes, counting those being written).
type DropPolicy int

const (
	// DropNewest refuses the new message: the send returns ErrSendBufferFull
	// and OnSendDropped gets the new payload. It is the default.
	DropNewest DropPolicy = iota
	// DropOldest evicts the oldest queued messages to make room: the send
	// succeeds and OnSendDropped gets each evicted payload. Messages already
	// being written cannot be evicted; when they fill the bounds alone
	// (SendChannelSize 1, or one message larger than half of
	// MaxQueuedBytes), the new message waits beyond the bounds, in place of
	// any older one: the newest message is never the one lost.
	DropOldest
	// DisconnectSlow closes a client that does not keep up: the send
	// returns ErrSendBufferFull, the client's queued messages are dropped
	// (OnSendDropped sees each, with the new one), and the connection is
	// closed with 1013 (try again later) and the reason "slow client" once
	// the batch being written is out. Hooks.OnSlowClient runs and
	// errors_total{type="slow_client"} counts it. A well-behaved client
	// reconnects; the messages it missed are lost unless the application
	// replays them.
	DisconnectSlow
)

// String returns "DropNewest", "DropOldest" or "DisconnectSlow".
func (p DropPolicy) String() string {
	switch p {
	case DropNewest:
		return "DropNewest"
	case DropOldest:
		return "DropOldest"
	case DisconnectSlow:
		return "DisconnectSlow"
	}
	return "DropPolicy(" + strconv.Itoa(int(p)) + ")"
}

// WithConfig sets the connection settings; zero fields take their defaults.
func WithConfig(config Config) Option { return func(h *Hub) { h.cfg = config } }

// WithLimits sets the hub's limits.
func WithLimits(limits Limits) Option { return func(h *Hub) { h.limits = limits } }

// WithLogger sets the logger (default NoOpLogger). A nil logger is
// ignored. A NamedLogger is named "wshub" (see NamedLogger).
func WithLogger(logger Logger) Option {
	return func(h *Hub) {
		if logger != nil {
			h.logger = Named(logger, "wshub")
		}
	}
}

// WithMetrics sets the metrics collector (default NoOpMetrics). A nil
// collector is ignored.
func WithMetrics(metrics MetricsCollector) Option {
	return func(h *Hub) {
		if metrics != nil {
			h.metrics = metrics
		}
	}
}

// WithHooks sets the lifecycle hooks.
func WithHooks(hooks Hooks) Option { return func(h *Hub) { h.hooks = hooks } }

// WithMessageHandler sets the handler called for every inbound data message,
// in the client's read goroutine (so messages of one client are handled in
// order). A returned error goes to Hooks.OnError and AfterMessage; the
// connection stays open. A panic closes that connection with 1011.
func WithMessageHandler(fn func(*Client, *Message) error) Option {
	return func(h *Hub) { h.handler = fn }
}

// WithAdapter connects the hub to other nodes through adapter. The hub
// subscribes in Run and closes the adapter at the end of Shutdown.
func WithAdapter(adapter Adapter) Option { return func(h *Hub) { h.adapter = adapter } }

// WithNodeID sets this node's ID (default: random). A stable ID such as the
// pod name makes logs readable; two live nodes must never share one.
func WithNodeID(id string) Option {
	return func(h *Hub) {
		if id != "" {
			h.nodeID = id
		}
	}
}

// WithPresence makes the hub exchange heartbeats with the other nodes every
// interval (default 5s when interval is zero), so that GlobalClientCount and
// GlobalRoomCount count the whole cluster. A node missing three heartbeats is
// evicted; Shutdown sends a goodbye. Without an adapter it does nothing.
//
// A hub with room options (WithRoomOptions) and an adapter that stores
// member records (PresenceAdapter) sends heartbeats every 5s without it:
// member lists need them.
func WithPresence(interval time.Duration) Option {
	return func(h *Hub) {
		if interval <= 0 {
			interval = defaultPresenceInterval
		}
		h.presenceInterval = interval
	}
}

// defaultPresenceInterval is the heartbeat interval of WithPresence(0).
const defaultPresenceInterval = 5 * time.Second

// DefaultMaxPublishDelay is the publish delay bound without
// WithMaxPublishDelay.
const DefaultMaxPublishDelay = time.Second

// WithMaxPublishDelay bounds how late a message may leave this node for the
// others (default DefaultMaxPublishDelay; zero or less means the default).
// A message still in the publish queue that long after its send is dropped
// (reason DropStale), and the context of a publish call to the adapter
// ends when its oldest message reaches the bound (an adapter that honours
// it, as the Redis adapter does, gives up then; the NATS adapter never
// waits for the broker), so a broker that stalls or an outage never makes
// the node send old messages as a burst when the link returns.
// Real-time traffic is worth little seconds late; set a larger bound if
// yours is not.
func WithMaxPublishDelay(d time.Duration) Option {
	return func(h *Hub) {
		if d <= 0 {
			d = DefaultMaxPublishDelay
		}
		h.maxPublishDelay = d
	}
}

// WithDrainTimeout sets how long a connection's send queue must stay empty
// during Drain before the idle reaper closes it with 1001 (default 30s).
// Zero disables the reaper: Drain then waits for clients to leave.
func WithDrainTimeout(timeout time.Duration) Option {
	return func(h *Hub) { h.drainTimeout = timeout }
}

// WithHookTimeout sets how long the hub waits for BeforeDisconnect (default 5s).
func WithHookTimeout(timeout time.Duration) Option {
	return func(h *Hub) {
		if timeout > 0 {
			h.hookTimeout = timeout
		}
	}
}

// WithDropPolicy sets the policy for full send queues (default DropNewest).
// It also decides what happens to a client whose own messages kept its
// read pump waiting (see Flow control in the package documentation) for
// longer than WriteWait: the read pump goes on under DropNewest and
// DropOldest, and DisconnectSlow closes the client.
func WithDropPolicy(policy DropPolicy) Option { return func(h *Hub) { h.dropPolicy = policy } }

// WithoutHandlerLatency stops the hub from recording handler latency; use it
// when MetricsMiddleware in the handler chain already records it.
func WithoutHandlerLatency() Option { return func(h *Hub) { h.skipLatency = true } }

// WithParallelBroadcast is accepted for compatibility and ignored.
//
// Deprecated: broadcasts enqueue one shared frame per recipient without
// locks or allocations, so splitting them across goroutines only adds cost.
func WithParallelBroadcast(batchSize int) Option { return func(*Hub) {} }

// WithParallelBroadcastWorkers is accepted for compatibility and ignored.
//
// Deprecated: see WithParallelBroadcast.
func WithParallelBroadcastWorkers(n int) Option { return func(*Hub) {} }

// WithUserID binds userID to the client during the upgrade, before it is
// registered, so MaxConnectionsPerUser is enforced without a window.
func WithUserID(userID string) UpgradeOption { return func(c *Client) { c.userID = userID } }
