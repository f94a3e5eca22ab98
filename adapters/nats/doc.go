// Package nats is a core.Adapter that relays hub operations between nodes
// over NATS core publish/subscribe, keeps the history of rooms that want
// one in JetStream (core.HistoryAdapter; see "History" below) and the
// member records of rooms that track presence in a JetStream key-value
// bucket (core.PresenceAdapter; see "Presence").
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
// subscriptions with a jittered backoff (each wait drawn at random from a
// window of 100ms doubling to 5s). Rooms are subscribed by interest only when
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
// # History
//
// Rooms whose options keep history (core.History) are stored in JetStream
// (NATS 2.9 or later, JetStream enabled). The adapter creates one stream
// per History value it meets, on first use, named
// <PREFIX>_HISTORY_<size>_<ttl-ms> (the prefix upper-cased, dots turned into
// underscores; a prefix with other characters, or a long one, is cut and
// followed by a hash of it) over the subjects
//
//	<prefix>.history.<size>_<ttl-ms>.<token>  one subject per room
//
// with the room token of the room subject. The stream keeps Size messages
// per subject (MaxMsgsPerSubject, discarding the oldest) for at most TTL
// (MaxAge; none when TTL is 0; JetStream's minimum is 100 ms, so a shorter
// TTL is raised to it), allows direct gets, and is stored on file with one
// replica unless WithHistoryStorage and WithHistoryReplicas say otherwise.
// All nodes must use the same options: each creates or updates the stream
// to its own. A stream deleted behind the adapter's back is created again
// on the next append.
//
// Each stored message is the wire envelope of the room message with its
// position (Pos) set, and carries the headers Wshub-Epoch and Wshub-Offset
// (the same position, readable without decoding) and Nats-Msg-Id.
//
// Offsets stay contiguous by optimistic concurrency. The adapter remembers
// per room the stream sequence, epoch and offset of the subject's last
// message, and publishes the next one as offset+1 of that epoch with the
// header Nats-Expected-Last-Subject-Sequence set to that sequence, or to 0
// (always written out) when the subject has no message, which JetStream
// takes as "only if the subject is empty". If another node stored a message
// first, JetStream refuses ours (error 10071); the adapter reads the
// subject's last message from the stream leader (its headers give epoch
// and offset) and tries again, up to 64 times (ErrHistoryConflict). A
// message starts a new epoch (core.NewEpoch) when the subject has no
// message: the room's history expired or its stream was lost. All attempts
// of one message carry the same Nats-Msg-Id, so an attempt stored although
// its acknowledgement was lost (a timeout, a stream leader that died) is
// recognised on retry by JetStream's duplicate check (window 30 s, or the
// TTL when shorter) instead of being stored twice. Each request is bounded
// by the caller's context and by 2 s.
//
// Once JetStream has acknowledged a message, the adapter publishes the
// stored bytes on the room's core subject, where the nodes with members in
// the room receive it, with its position, through their room
// subscriptions. A node's messages arrive in offset order; messages that
// several nodes append at once may arrive in another order than their
// offsets, and a message whose live publish is lost (its node disconnected
// right after the acknowledgement) is only in the history: the receiving
// hub orders them and fills gaps from ReadHistory.
//
// ReadHistory asks the stream leader (not a direct get, which a lagging
// replica may answer) for the room's last message, giving the epoch and
// Top, and its oldest message of that epoch, giving First. It finds the
// first message asked for by searching the stream sequences between them
// (offsets grow with sequences; an interpolating search takes a few gets)
// and reads on with one get per message for up to 16 messages, through an
// ephemeral pull consumer filtered on the room's subject beyond (deleted
// without waiting; one by one again when the cluster cannot create a
// consumer, e.g. while its metadata leader is being elected): a query
// costs O(log n) requests plus the messages it returns, whatever the room's
// Size. Messages of an older epoch that the stream still holds are skipped.
//
// What NATS 2.9 lacks, and what the adapter does instead: no per-message TTL
// (the stream's MaxAge applies to every message of the room alike), no
// batched direct get (one request per message, or a consumer), no atomic
// per-subject counter (offsets live in the messages, kept contiguous by the
// expected-last-subject-sequence check).
//
// TTL: every message is removed TTL after it was stored, so a room silent
// for TTL keeps nothing, and its next message starts a new epoch at offset
// 1; a room that keeps talking keeps its epoch and the messages of the last
// TTL (at most Size).
//
// # Presence
//
// Member records (core.PresenceAdapter) live in a JetStream key-value
// bucket, <PREFIX>_PRESENCE (stream KV_<PREFIX>_PRESENCE; the prefix mapped
// as for history streams), created by the first write with one value per
// key (History 1), the TTL of WithPresenceTTL as its MaxAge (default 2
// minutes; the hub rewrites its members' records every third of it,
// core.PresenceTTLAdapter), and the storage and replicas of
// WithPresenceStorage and WithPresenceReplicas. Keys are
//
//	<room token>.<key token>
//
// each token the base64url (unpadded) encoding of the name, or for names
// over 96 bytes "=" and that of their SHA-256 (so keys stay short and a
// room's keys share one prefix); values start with the room and key
// themselves, then the hub's bytes. A record's revision is the stream
// sequence of its message, so revisions are never reused; writes are
// compare-and-set on it (Nats-Expected-Last-Subject-Sequence). Reads ask the
// stream leader, not a replica that may lag. A listing reads the room's
// keys (or the whole bucket) through a short-lived consumer.
//
// What NATS 2.9 lacks here: per-message TTL. A deleted record leaves a
// delete marker until the bucket's MaxAge removes it, so a room's churn
// costs, for TTL, one message per user who left, which listings read and
// skip.
//
// All methods of Adapter are safe for concurrent use.
package nats
