// Package core is the wshub engine: a Hub that accepts WebSocket
// connections and routes messages to all clients, to rooms, to users and to
// single clients, on one node or, through an Adapter, across a cluster.
//
// # Life cycle
//
// NewHub builds a hub from options and starts nothing. Run marks it running
// (upgrades before that get 503), subscribes to the adapter and starts the
// hub's background goroutines; it blocks until Shutdown. WaitRunning waits
// for that point. Drain refuses new connections (503, readiness false) and
// waits for clients to leave, closing idle ones with 1001 after the drain
// timeout. Shutdown closes every remaining client with 1001 after writing
// what was queued for it, runs each client's full disconnect path, closes
// the adapter and waits for every goroutine the hub started.
//
// # Goroutines
//
// Per connection: a read pump, for the life of the connection, and a write
// pump that runs only while the client's send queue is non-empty (a reply
// the socket takes at once needs none, see Sending). Pings are timers, not
// goroutines. A read pump waiting for a silent peer holds no read buffer
// on TCP and Unix sockets (Config.ReadBufferSize). Per hub, with an adapter: a publisher goroutine
// (and a presence goroutine with WithPresence); during Drain, an idle
// reaper. Hooks documented as asynchronous run in short-lived goroutines.
// Shutdown stops and waits for all of them.
//
// # Sending
//
// Sends never block on a slow client: each client has a send queue bounded
// in messages (Config.SendChannelSize) and bytes (Config.MaxQueuedBytes),
// the batch being written included, with a DropPolicy for a full queue;
// the ...WithContext variants wait for space instead. Sends keep a
// reference to the payload until it is written: do not modify a slice
// after passing it. Text that is not valid UTF-8 is never sent
// (ErrInvalidUTF8).
//
// The path of a message, exactly:
//
//   - A send builds one frame value (message type and payload, not yet
//     encoded). A broadcast, to the hub, a room or a user, builds it once
//     and queues the same pointer for every recipient.
//   - Queueing a frame whose client has no write pump running starts one.
//     The pump takes everything queued (up to the queue's bounds) as one
//     batch, with a pending ping, pong and close frame, and writes it.
//   - Except for a reply: while the read pump handles a client's message,
//     the first frame that would start that client's pump (an echo, a
//     request's answer) is written at once in the sender's goroutine with
//     one non-blocking system call, when it is at most 16 KiB and the
//     connection is an uncompressed TCP or Unix socket. What the socket
//     does not take at once goes to a pump, so a send never blocks.
//   - Without compression, the pump appends each frame's header and
//     payload to its batch buffer, so every recipient copies a small
//     payload once into its own buffer; a payload larger than 16 KiB is
//     not copied but written from the shared slice with writev. The buffer
//     goes to the socket in one system call, or in several of at most
//     64 KiB for a large batch. On a TCP or Unix socket that call is first
//     made without waiting; only what the socket does not take waits for
//     room, bounded by Config.WriteWait, so a write that fits costs no
//     deadline update.
//   - With compression negotiated, a frame is compressed once, on first
//     use, into a prepared message that every compressed recipient
//     shares; its bytes land in the same batch buffer.
//   - After a batch of more than one frame the pump yields the processor a
//     few times before taking the next one, stopping once as many frames
//     are queued again. On an idle node this returns at once; on a busy
//     one each yield waits for the other runnable goroutines, so batches,
//     and frames per system call, grow with the load without a setting.
//     Config.WriteLinger replaces this with a fixed sleep.
//   - With an empty queue the pump ends; an idle client has no write
//     goroutine.
//
// # Flow control
//
// While a client's queue is at a bound, its read pump handles none of its
// further messages, for at most WriteWait: a client that sends faster than
// it reads is slowed down by TCP instead of losing its replies. After
// WriteWait the drop policy applies (DisconnectSlow closes the client).
//
// # Failures
//
// The hub reads and checks client frames itself (RFC 6455): a protocol
// fault closes the connection with 1002, invalid UTF-8 in text or a close
// reason with 1007, a message over MaxMessageSize with 1009 (also when
// compression would inflate it past the limit), a message not complete
// within MessageReadTimeout with 1008, and one that would pass the hub's
// MaxInboundBytes with 1013. A panic in a handler, hook or middleware is
// recovered, counted (IncrementErrors("panic")) and logged at a bounded
// rate; a panic while handling a message closes that one connection with
// 1011 (see Hooks for which hooks close what).
//
// # Resumable rooms
//
// WithRoomOptions gives each room its RoomOptions, resolved once when the
// room comes into existence on a node; every node must resolve the same
// options for a room. A room whose options keep History stores every
// message (in the hub's memory without an adapter, in the adapter's store
// when it implements HistoryAdapter) with a Position: an epoch and an
// offset contiguous per room. Each node delivers the room's messages in
// offset order, once, filling holes from the store once for the node
// (when a later message shows the hole, after waiting 100 ms for late
// ones). Clients receive the messages with their cursor (HistoryFramer,
// JSONFramer by default); a client that
// reconnects presents its cursors (RecoverParam, WithRecovery), and its
// join replays what it missed, then live messages, then a recovery answer
// (Hooks.OnRecovery hears it too). Hub.History reads the store. The frames
// and the rules clients rely on are in docs/protocol.md of the repository.
// Recoveries and gap fills run in goroutines that Shutdown waits for.
//
// # Member lists and the control plane
//
// A room whose options have Presence.Enabled keeps its member list in a
// store the nodes share (the hub's memory without an adapter, the
// adapter's PresenceAdapter otherwise): one record per user and room,
// changed only with compare-and-set. A join or leave updates the node's
// own table at once and its record from a worker (16 per hub), so
// presence never slows a join or a message. The update that gives a user
// their first connection in the room fires Hooks.OnPresenceJoin, the one
// that removes their last connection starts the linger, and the one that
// ends the linger fires Hooks.OnPresenceLeave: each once in the cluster.
// A node evicted for missing three heartbeats (WithPresence, on by
// default for member lists on a cluster) is swept from the records by the
// others, and told to write its members again if it turns out to be
// alive; a node that shuts down removes its connections first and leaves
// the lingers it started to the others. Hub.Presence and PresenceStats
// read the store.
//
// DisconnectUser, JoinUser, LeaveUser and ClusterClients act on every
// node through the bus: each node announces what it supports with its
// heartbeats, and a request waits for the live nodes that support it,
// until its context's deadline (DefaultControlTimeout without one). The
// ClusterResult says which nodes answered, which are missing and which do
// not support the request.
//
// MemberPresence.Events makes the hub broadcast a presence frame
// (PresenceEventFrame) to the room with each of those hooks.
//
// # Requests and replies
//
// With Config.Requests, a text message that is a JSON object with an
// integer "id" member is a request: it goes through hooks, middleware and
// handler like any message, and the hub then sends one reply frame with
// the same id, carrying what the handler set with Message.Reply, or the
// error it returned (a ReplyError keeps its code; other errors become
// CodeInternal). Message.ReplyLater hands the reply to a Responder that
// answers from any goroutine. Client.Call sends a client a request and
// waits for its reply, whatever Config.Requests says. Bounds:
// MaxDeferredReplies later replies and MaxPendingCalls calls per client.
// The frames are in docs/protocol.md, which the client package in
// clients/js implements.
//
// # Contexts and traces
//
// Client.Context carries the upgrade request's context values and ends
// with the connection; Message.Context is a received message's, for the
// sends its handler makes. A Tracer (WithTracer; the tracing package has
// one for OpenTelemetry) hears the upgrade, each message's dispatch, each
// publish whose send took a context, and the delivery of a traced message
// from another node, whose trace context travels in AdapterMessage.Trace.
// Without a Tracer none of that costs more than a nil check.
//
// All exported methods are safe for concurrent use unless documented
// otherwise (Router and MiddlewareChain registration happens before use).
package core
