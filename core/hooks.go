package core

import "net/http"

// Hooks are optional callbacks around the life of connections, messages and
// rooms. A nil hook is skipped.
//
// A panicking hook is recovered and counted as IncrementErrors("panic"); it
// never stops the hub. Its stack is logged at most once per 10 seconds per
// hook, the hooks and callbacks of one message sharing one such window with
// the handler (the line says how many panics were not logged since). The hooks that
// run for a message in the client's read goroutine (BeforeMessage,
// AfterMessage, OnError, like the handler and Client.OnMessage callbacks)
// close that client's connection with 1011 when they panic, since its
// message was not handled; a panic in any other hook closes nothing:
// BeforeConnect refuses the upgrade (403), BeforeRoomJoin refuses the join,
// and the rest are only reported.
type Hooks struct {
	// BeforeConnect runs in the HTTP handler before the upgrade. An error
	// refuses the connection with HTTP 403.
	BeforeConnect func(*http.Request) error
	// AfterConnect runs in its own goroutine once the client is registered,
	// so the client may receive messages before it returns.
	AfterConnect func(*Client)
	// BeforeDisconnect runs when a connection ends, while the client is still
	// registered and in its rooms. The hub waits for it at most the hook
	// timeout (WithHookTimeout, default 5s) and then goes on; a hook that
	// overruns keeps running in its goroutine until it returns.
	BeforeDisconnect func(*Client)
	// AfterDisconnect runs in its own goroutine after the client left its
	// rooms and the registry.
	AfterDisconnect func(*Client)
	// BeforeMessage runs in the client's read goroutine before the handlers.
	// It may return a replacement message (nil keeps the original) or an
	// error, which drops the message (AfterMessage still sees it).
	BeforeMessage func(*Client, *Message) (*Message, error)
	// AfterMessage runs in the client's read goroutine after the handlers,
	// with the handler's error (or BeforeMessage's).
	AfterMessage func(*Client, *Message, error)
	// OnError runs when a message handler returns an error, in the client's
	// read goroutine. A handler that panics closes its connection with 1011
	// instead, and the panic is counted and logged, not passed here (with
	// RecoveryMiddleware the panic becomes an error, which is).
	OnError func(*Client, error)
	// OnSendDropped runs in the sender's goroutine when backpressure drops a
	// message: the new one under DropNewest, each evicted one under
	// DropOldest, the queued ones and the new one under DisconnectSlow.
	// Keep it fast: it runs inside broadcasts.
	OnSendDropped func(client *Client, data []byte)
	// OnSlowClient runs in its own goroutine when the DisconnectSlow policy
	// closes a client (with 1013) because its queue reached its bounds.
	OnSlowClient func(*Client)
	// BeforeRoomJoin runs before a join; an error refuses it.
	BeforeRoomJoin func(*Client, string) error
	// AfterRoomJoin runs in its own goroutine after a join.
	AfterRoomJoin func(*Client, string)
	// BeforeRoomLeave runs before a leave, in the caller's goroutine.
	BeforeRoomLeave func(*Client, string)
	// AfterRoomLeave runs in its own goroutine after a leave.
	AfterRoomLeave func(*Client, string)
	// OnRecovery runs in its own goroutine when a client's recovery of a
	// history room ended (see Hub.JoinRoomFrom), with the outcome: when
	// r.Recovered is false the client missed messages that could not be
	// given back, and the app may send it the room's state again.
	OnRecovery func(client *Client, room string, r Recovery)
	// OnPresenceJoin runs in its own goroutine when a user arrives in a
	// room that tracks members (RoomOptions.Presence): their first
	// connection in the room, on any node, joined. It runs once in the
	// cluster, on the node that recorded the arrival; an app that shows
	// it to the room's clients broadcasts it to the room from there.
	OnPresenceJoin func(PresenceEvent)
	// OnPresenceLeave runs in its own goroutine when a user left such a
	// room: their last connection left (or its node died or stopped) and
	// the linger passed without a connection of theirs joining again.
	// Like OnPresenceJoin it runs once in the cluster.
	OnPresenceLeave func(PresenceEvent)
}
