// Package nats is a core.Adapter that relays hub operations between nodes
// over NATS core publish/subscribe (no JetStream).
//
// The adapter borrows a *natsgo.Conn from the caller, who keeps owning it:
// its connect and reconnect options, its async error handler and closing it
// stay with the caller. The adapter never closes the connection.
//
// Subjects, under a configurable prefix (default "wshub"):
//
//	<prefix>.all          broadcast, broadcast_except, user and client messages
//	                      (and any other type)
//	<prefix>.room.<token> room and room_except messages
//	<prefix>.presence     presence heartbeats
//
// The room token is the base64url (unpadded) encoding of the room name, so
// any UTF-8 name, dots and wildcards included, becomes one valid subject
// token. Names longer than 96 bytes are hashed (SHA-256) first so subjects
// stay short; the room name itself travels in the payload, which receivers
// use for delivery. Payloads are the binary envelope of internal/wire.
//
// Goroutines: New starts none. Subscribe starts two, both owned by the
// Adapter: a dispatcher that decodes bus messages and calls the handler,
// and a reconciler that creates and removes subscriptions (the base ones,
// plus one per room this node declared interest in) and retries failed
// subscriptions with backoff. Rooms are subscribed by interest only when
// the Subscribe context says the caller declares it (core.WithRoomInterest,
// as a hub does when it sees SetRoomInterest); otherwise one wildcard
// subscription, <prefix>.room.*, takes every room (a message arriving
// through it counts only if it is a room message on its own room subject),
// so a wrapper that hides SetRoomInterest from the hub costs traffic, not
// messages. Both goroutines stop when the context given to Subscribe ends
// or when Close is called; Close waits for them, including a handler
// call in progress. nats.go itself re-establishes live subscriptions after a
// reconnect.
//
// # Delivery
//
// Messages of one node on one subject arrive at another node in the order
// sent, or not at all; the hub numbers them (core.Sequence) and the
// receiving hub counts what went missing. SetRoomInterest writes the room's
// SUB on the connection before it returns, so it reaches the broker ahead
// of whatever this node publishes after the join: an answer another node
// sends to such a message reaches the new member. (On a NATS cluster, the
// servers exchange interest asynchronously: the guarantee holds for nodes
// connected to the same server.) While the connection is down the adapter
// refuses to publish, and the hub drops and counts those messages at once
// (core.LinkStateAdapter), so an outage's traffic is never replayed late;
// dial with ConnectOptions so that nats.go keeps no reconnect buffer either
// and reconnects quickly.
//
// All methods of Adapter are safe for concurrent use.
package nats
