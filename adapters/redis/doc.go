// Package redis is a core.Adapter that relays hub operations between nodes
// over Redis pub/sub, through a go-redis v9 client the caller supplies.
//
// # Channels
//
// With the default prefix "wshub" an adapter uses three kinds of channels:
//
//	wshub:all         broadcast, broadcast_except, user and client messages
//	wshub:room:<name> room and room_except messages for room <name>
//	wshub:presence    presence heartbeats
//
// Each published payload is one message in the binary envelope of
// internal/wire. Room channels are joined with SUBSCRIBE, never PSUBSCRIBE,
// so glob characters in a room name have no special meaning. A node receives
// a room's channel only while it has declared interest in the room
// (SetRoomInterest), so nodes without members in a room get none of its
// traffic. That holds when the Subscribe context comes from
// core.WithRoomInterest, as a hub's does when it sees SetRoomInterest;
// otherwise the adapter takes every room with one PSUBSCRIBE of
// <prefix>:room:* (glob characters of the prefix escaped), so a wrapper that
// hides SetRoomInterest from the hub costs traffic, not messages.
//
// # Goroutines
//
// New starts nothing and dials nothing. Subscribe waits at most one round
// trip for Redis to confirm the subscription, and starts two goroutines, both
// owned by the Adapter: a keeper, which performs the initial SUBSCRIBE
// (retrying while Redis is unreachable, each wait drawn at random from a
// window of 100ms doubling to 5s: full jitter), applies room interest
// changes, and pings an idle link; and a receiver, which reads the
// subscription and calls the handler. Both stop when the context given to
// Subscribe ends or when Close is called; Close waits for them. After a
// broken connection the receiver reads again after waits drawn the same
// way from a window of 100ms doubling up to 400ms; go-redis then
// reconnects and subscribes again to every channel the adapter holds.
//
// # Delivery
//
// One node's messages reach another in order or not at all; the hub numbers
// them (core.Sequence) and the receiving hub counts what went missing.
// Because the subscription and the publishes use different connections, a
// new room interest holds back this adapter's later publishes until Redis
// has confirmed the room's subscription: the keeper sends a PING carrying
// the interest's version after the SUBSCRIBE, on the same connection, and
// Redis answers it only after the SUBSCRIBE took effect. The wait happens in
// Publish, which the hub calls from its publisher goroutine, so no sender
// and no JoinRoom blocks; it lasts one round trip, and never more than the
// health timeout. Connected (core.LinkStateAdapter) reports the
// subscription's link, so while Redis is unreachable the hub drops and
// counts its messages rather than calling Publish, which go-redis would
// otherwise hold through its dial retries and then deliver late.
//
// # History
//
// The adapter is a core.HistoryAdapter. A room whose options keep History
// has two keys, with the room name as hash tag so that both are in one
// cluster slot (default prefix shown):
//
//	wshub:history:{<room>}:s  stream: one entry per kept message, ID
//	                          "<offset>-1", field "m" the wire message
//	wshub:history:{<room>}:m  hash: "epoch" and "top" (the newest offset)
//
// AppendHistory runs one Lua script per message (EVALSHA, then EVAL if
// Redis lacks the script), a batch's scripts in one pipelined round trip.
// The script numbers the message top+1, adds it to the stream trimmed to
// exactly History.Size entries, and PUBLISHes it, its position included,
// on the room's channel; it publishes nothing it did not store. Without a
// meta hash it starts a new epoch (a random one the adapter sends along)
// and deletes any stream left behind.
//
// With a TTL, every append sets both keys to expire TTL later: messages
// do not expire one by one, the whole history does once the room has been
// silent for TTL, and its next message starts a new epoch at offset 1. A
// Redis that restarts empty, or evicts the meta hash, starts new epochs
// too. ReadHistory reads the meta hash and the stream in one MULTI/EXEC.
// Offsets are exact up to 2^53 (Lua numbers); a room that gets there
// starts a new epoch. The hash tag is lost when a key's first "{" is
// followed at once by "}" (a room name that starts with "}", a prefix
// holding "{}"): on a cluster the two keys may then be in different slots
// and that room's history fails. Tested on Redis 7.0; it uses nothing
// newer (no hash field expiry).
//
// # Logging
//
// The adapter reports failures through core.ErrorReportingAdapter and the
// error handler option. go-redis itself logs through one process-wide
// logger, to stderr by default; GoRedisLogger routes those lines to a
// core.Logger once the application installs it with goredis.SetLogger.
//
// # Concurrency
//
// All methods are safe for concurrent use. Publish, PublishBatch,
// AppendHistory and ReadHistory may run concurrently with each other, with
// Subscribe and with Close. The handler is called from the receiver
// goroutine only, one message at a time.
//
// # Ownership
//
// The go-redis client belongs to the caller: the adapter never closes it, and
// the caller closes it after Close. Publish honours its context's deadline at
// the socket level only when the client is built with
// ContextTimeoutEnabled; otherwise go-redis bounds each attempt by its
// ReadTimeout and WriteTimeout.
package redis
