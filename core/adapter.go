package core

import (
	"context"
	"fmt"
)

// Operation kinds carried in AdapterMessage.Type.
const (
	AdapterBroadcast       = "broadcast"
	AdapterBroadcastExcept = "broadcast_except"
	AdapterRoom            = "room"
	AdapterRoomExcept      = "room_except"
	AdapterUser            = "user"
	AdapterClient          = "client"
	AdapterPresence        = "presence"
)

// Adapter connects hubs on several nodes through a message bus. With an
// adapter set (WithAdapter), broadcasts, room broadcasts and SendToUser
// deliver to the local clients first, then hand the message to the adapter
// for the other nodes; SendToClient publishes only when the client is not
// on this node. A hub ignores messages that carry its own NodeID.
//
// Contract:
//   - Publish is safe for concurrent use. The hub calls it from one publisher
//     goroutine, so a slow broker never blocks a Broadcast or Send caller.
//   - Subscribe is called once, by Hub.Run. It must not block: it starts the
//     adapter's own goroutines, which stop when ctx is cancelled or Close is
//     called. handler may be called from several goroutines.
//   - Publish and Subscribe may run concurrently with each other; Close may run
//     concurrently with Publish. Publish after Close returns an error
//     (ErrAdapterClosed in this module's adapters).
type Adapter interface {
	// Publish sends msg to the other nodes.
	Publish(ctx context.Context, msg AdapterMessage) error
	// Subscribe starts delivering messages from other nodes to handler.
	Subscribe(ctx context.Context, handler func(AdapterMessage)) error
	// Close releases the adapter's resources and stops its goroutines. The hub
	// calls it at the end of Shutdown.
	Close() error
}

// AdapterMessage is one operation relayed between nodes. Its JSON tags are
// kept for compatibility; this module's adapters put it on the wire in a
// compact binary envelope instead.
type AdapterMessage struct {
	// NodeID is the sender's node ID; receivers drop their own messages.
	NodeID string `json:"node_id"`
	// Type is one of the Adapter* constants.
	Type string `json:"type"`
	// Room is the target room of room operations.
	Room string `json:"room,omitempty"`
	// UserID is the target user of AdapterUser.
	UserID string `json:"user_id,omitempty"`
	// ClientID is the target client of AdapterClient.
	ClientID string `json:"client_id,omitempty"`
	// ExceptClientIDs lists clients that must not receive the message.
	ExceptClientIDs []string `json:"except,omitempty"`
	// MsgType is TextMessage or BinaryMessage.
	MsgType int `json:"msg_type"`
	// Data is the payload (for AdapterPresence, the presence record).
	Data []byte `json:"data"`
	// Seq numbers the message in its sender's stream. The hub sets it; an
	// adapter carries it to the other nodes unchanged. The zero value means
	// "not numbered" (a publisher that is not a hub of this version) and is
	// not tracked.
	Seq Sequence `json:"seq,omitzero"`
	// Pos is the message's place in its room's history, for messages of
	// rooms that keep history (see HistoryAdapter); zero otherwise. The
	// history store sets it.
	Pos Position `json:"pos,omitzero"`
	// Trace is the trace context of the publish that sent the message, in
	// the hub Tracer's own encoding (see WithTracer), at most
	// MaxTraceContext bytes; nil when the message is not traced. An adapter
	// carries it unchanged; a node without a Tracer ignores it.
	Trace []byte `json:"trace,omitempty"`
}

// MaxTraceContext bounds AdapterMessage.Trace. A Tracer's encoding must fit
// in it; the bus envelope refuses a longer one as malformed.
const MaxTraceContext = 256

// Sequence places a bus message in the numbering of the hub that sent it, so
// that a receiving node can count what went missing on the way.
//
// A sending hub numbers its messages per stream: one stream for broadcasts,
// user and client messages, one for presence, and one per room. Each stream
// travels on one broker channel, so a node that receives a stream at all
// receives it whole and in order, unless something is lost. Numbers are
// contiguous within (Instance, Epoch): 1, 2, 3, ...
type Sequence struct {
	// Instance is a random non-zero number the hub picks each time it runs;
	// it tells a restarted node from its previous run. A message with
	// Instance 0 is treated as not numbered.
	Instance uint64 `json:"instance"`
	// Epoch is the generation of the stream's counter within the instance.
	// It is 1 for the broadcast and presence streams. A room's counter is
	// dropped after the room has been idle for a while and started again
	// with a higher epoch when the room is used again.
	Epoch uint64 `json:"epoch"`
	// Number is the message's place in the stream, from 1; 0 means the
	// message is not numbered.
	Number uint64 `json:"number"`
}

// BatchPublisher is an optional Adapter extension. The hub's publisher
// goroutine hands it everything queued at once (in order) instead of calling
// Publish per message.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, msgs []AdapterMessage) error
}

// RoomInterestAdapter is an optional Adapter extension for interest-based
// routing: the hub calls SetRoomInterest(room, true) when the first local
// member joins a room and SetRoomInterest(room, false) when the last one
// leaves, so the adapter receives that room's traffic only while this node
// needs it. Calls for one room arrive in order; the hub makes them while it
// holds its room index, so SetRoomInterest must not wait for the broker's
// answer (a bounded socket write is fine), and the subscription must take
// effect at the broker
// before anything the adapter publishes after the call, so that another
// node's answer to such a message reaches the new member: this module's
// NATS adapter writes the subscription on the connection its publishes
// share, its Redis adapter holds later publishes until Redis has confirmed
// the subscription. Interest is applied again after a reconnect.
//
// A hub that will make these calls says so in the context it passes to
// Subscribe (see DeclaresRoomInterest). An adapter should limit room
// traffic to declared interest only then, and receive every room
// otherwise: a wrapper around the adapter (a logging or tracing decorator)
// that does not forward SetRoomInterest hides it from the hub, and the node
// would silently miss the other nodes' room messages.
type RoomInterestAdapter interface {
	SetRoomInterest(room string, interested bool)
}

type roomInterestKey struct{}

// WithRoomInterest returns a context, for Adapter.Subscribe, that tells the
// adapter its caller declares room interest through SetRoomInterest. The
// hub uses it when its adapter implements RoomInterestAdapter.
func WithRoomInterest(ctx context.Context) context.Context {
	return context.WithValue(ctx, roomInterestKey{}, true)
}

// DeclaresRoomInterest reports whether the Subscribe context came from
// WithRoomInterest. An adapter that routes rooms by interest receives every
// room when it is false.
func DeclaresRoomInterest(ctx context.Context) bool {
	v, _ := ctx.Value(roomInterestKey{}).(bool)
	return v
}

// LinkStateAdapter is an optional Adapter extension that tells, without
// blocking, whether Publish can reach the broker now. While Connected
// reports false the hub does not hand messages to the adapter: it drops
// them at once and counts them as dropped with reason "link_down", so a
// client library's reconnect buffer never replays an outage's traffic
// seconds late, and the dropped messages take no sequence numbers.
type LinkStateAdapter interface {
	Connected() bool
}

// HealthCheckAdapter is an optional Adapter extension that reports the state
// of the broker link: CheckHealth returns nil while the link is up. Readiness
// checks (package health) use it.
type HealthCheckAdapter interface {
	CheckHealth(ctx context.Context) error
}

// ErrorReportingAdapter is an optional Adapter extension for failures that
// no Publish call returns: undecodable bus messages, failed subscriptions,
// a lost subscription link. (A broker connection the caller owns, such as
// a *nats.Conn, reports its own disconnects through the caller's handlers;
// the link state shows in HealthCheckAdapter.) The hub installs its reporter
// before calling Subscribe; the reporter counts the error in metrics and
// logs it at a bounded rate.
type ErrorReportingAdapter interface {
	SetErrorReporter(report func(*AdapterError))
}

// AdapterError describes a failure inside an adapter. Op is "publish",
// "subscribe", "decode", "version", "history" or "presence" for this
// module's adapters and the hub ("presence_decode" and "presence_version"
// for a member record the hub cannot read, "unknown_kind" for a cluster
// record of a kind it does not know); others may add their own, such as
// "connect".
type AdapterError struct {
	Op  string
	Err error
}

// Error implements error.
func (e *AdapterError) Error() string { return fmt.Sprintf("wshub: adapter %s: %v", e.Op, e.Err) }

// Unwrap returns the underlying error.
func (e *AdapterError) Unwrap() error { return e.Err }
