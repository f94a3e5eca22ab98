package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Client is one WebSocket connection registered with a Hub. Its methods are
// safe for concurrent use.
//
// A client costs one goroutine (its read pump) while idle; a write pump runs
// only while its send queue is non-empty. Metadata, rooms and callbacks are
// allocated on first use.
type Client struct {
	// ID is unique to this connection (128 random bits, hex).
	ID string

	hub  *Hub
	ws   *websocket.Conn // with compression only
	conn net.Conn        // the socket; the write pump writes batches to it
	raw  syscall.RawConn // conn's descriptor, when this platform can use it (rawConnOf)
	cc   *captureConn    // gorilla's view of conn, with compression only
	req  *http.Request

	connectedAt time.Time

	// mu guards the send queue and the close state below.
	mu        sync.Mutex
	sq        sendQueue // what the write pump has to write (sendqueue.go)
	closing   bool      // no new data accepted; a close frame is pending or sent
	closed    bool      // torn down
	closeCode int
	closedAt  time.Time

	// state guards rooms, user ID, metadata and callbacks.
	state    sync.RWMutex
	gone     bool // left the registry: joins are refused
	userID   string
	rooms    map[string]struct{}
	metadata map[string]any
	cb       *callbacks // nil until the first OnMessage, OnClose or OnError

	// registry bookkeeping, guarded by the shard's lock.
	shardPos int

	// Deadlines in unix nanoseconds, zero for none: an idle connection
	// keeps three, and time.Time is three times the size.
	writeDeadline int64 // last write deadline set; only the write pump uses it
	readDeadline  int64 // last read deadline set, under mu; see extendReadDeadline
	msgDeadline   int64 // deadline of the message being received, under mu; see boundReadDeadline

	limiter   *tokenBucket
	pingTimer *time.Timer
	// cursors are the client's recovery cursors per room, from the upgrade
	// (WithRecovery or RecoverParam); a join of a history room uses and
	// removes its cursor. Guarded by state; nil when none was presented.
	cursors map[string]Position
	// presenceInfo is what member lists show for the client (see
	// SetPresenceInfo), under state.
	presenceInfo []byte

	// cx is the client's context state, nil until needed (see
	// context.go). Under state.
	cx *clientCtx
	// rq is the client's request state (request.go), nil until its first
	// request or call.
	rq atomic.Pointer[requests]
}

func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Hub returns the hub the client is registered with, so hooks and callbacks
// that receive only the client can reach it (for example an AfterConnect
// hook that joins a room).
func (c *Client) Hub() *Hub { return c.hub }

// Request returns the HTTP request that opened the connection.
func (c *Client) Request() *http.Request { return c.req }

// ConnectedAt returns when the connection was registered.
func (c *Client) ConnectedAt() time.Time { return c.connectedAt }

// ClosedAt returns when the client started closing (Close, a close frame
// from the peer, a slow-client or write error, shutdown), or the zero time
// while it is open: IsClosed true always goes with a non-zero ClosedAt.
func (c *Client) ClosedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedAt
}

// IsClosed reports whether the client is closing or closed: sends fail with
// ErrConnectionClosed.
func (c *Client) IsClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.closed
}

// beginCloseLocked marks the client closing and stamps ClosedAt the first
// time, so that IsClosed and ClosedAt agree from the first moment; c.mu
// must be held.
func (c *Client) beginCloseLocked() {
	c.closing = true
	if c.closedAt.IsZero() {
		c.closedAt = time.Now()
	}
}

// QueuedMessages returns the number of messages waiting for the client's
// socket, including those being written. It is bounded by
// Config.SendChannelSize.
func (c *Client) QueuedMessages() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sq.count()
}

// QueuedBytes returns the payload bytes of the messages waiting for the
// client's socket, including those being written. It stays below
// Config.MaxQueuedBytes plus the size of one message.
func (c *Client) QueuedBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sq.bytes()
}

// GetUserID returns the user ID bound to the client, or "".
func (c *Client) GetUserID() string {
	c.state.RLock()
	defer c.state.RUnlock()
	return c.userID
}

// SetUserID binds the client to userID (or unbinds it with ""), updating the
// user index. It returns ErrMaxUserConnectionsReached when the user already
// has Limits.MaxConnectionsPerUser connections, and ErrConnectionClosed for a
// closed client.
func (c *Client) SetUserID(userID string) error {
	if err := c.hub.users.rebind(c, userID, c.hub.limits.MaxConnectionsPerUser); err != nil {
		return err
	}
	if c.hub.members != nil {
		c.hub.members.rekey(c)
	}
	return nil
}

// SetMetadata stores value under key.
func (c *Client) SetMetadata(key string, value any) {
	c.state.Lock()
	defer c.state.Unlock()
	if c.metadata == nil {
		c.metadata = make(map[string]any)
	}
	c.metadata[key] = value
}

// GetMetadata returns the value stored under key.
func (c *Client) GetMetadata(key string) (any, bool) {
	c.state.RLock()
	defer c.state.RUnlock()
	v, ok := c.metadata[key]
	return v, ok
}

// DeleteMetadata removes key.
func (c *Client) DeleteMetadata(key string) {
	c.state.Lock()
	defer c.state.Unlock()
	delete(c.metadata, key)
}

// InRoom reports whether the client is in room.
func (c *Client) InRoom(room string) bool {
	c.state.RLock()
	defer c.state.RUnlock()
	_, ok := c.rooms[room]
	return ok
}

// Rooms returns the names of the client's rooms, sorted.
func (c *Client) Rooms() []string {
	c.state.RLock()
	names := make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		names = append(names, r)
	}
	c.state.RUnlock()
	sort.Strings(names)
	return names
}

// RoomCount returns the number of rooms the client is in.
func (c *Client) RoomCount() int {
	c.state.RLock()
	defer c.state.RUnlock()
	return len(c.rooms)
}

// OnMessage adds a callback run for each inbound message of this client, in
// its read goroutine, before the hub's message handler.
func (c *Client) OnMessage(fn func(*Client, *Message)) {
	c.state.Lock()
	cb := c.callbacksLocked()
	cb.onMessage = append(cb.onMessage, fn)
	c.state.Unlock()
}

// OnClose adds a callback run once when the connection ends (also on
// Shutdown). Added to a client that is already gone, it runs at once, in the
// caller's goroutine, so no callback is ever lost to a race with the close.
func (c *Client) OnClose(fn func(*Client)) {
	c.state.Lock()
	if !c.gone {
		cb := c.callbacksLocked()
		cb.onClose = append(cb.onClose, fn)
		c.state.Unlock()
		return
	}
	c.state.Unlock()
	c.hub.safeCall("OnClose", func() { fn(c) })
}

// OnError adds a callback run when a handler fails for this client.
func (c *Client) OnError(fn func(*Client, error)) {
	c.state.Lock()
	cb := c.callbacksLocked()
	cb.onError = append(cb.onError, fn)
	c.state.Unlock()
}

// callbacks are a client's OnMessage, OnClose and OnError callbacks. Most
// clients have none, so they live apart from Client.
type callbacks struct {
	onMessage []func(*Client, *Message)
	onClose   []func(*Client)
	onError   []func(*Client, error)
}

// callbacksLocked returns c's callbacks, made on first use; c.state is
// held for writing.
func (c *Client) callbacksLocked() *callbacks {
	if c.cb == nil {
		c.cb = &callbacks{}
	}
	return c.cb
}

// Send queues a text message. It never blocks: a full queue applies the
// hub's DropPolicy. The hub keeps data until it is written; do not modify it
// after the call.
func (c *Client) Send(data []byte) error { return c.SendMessage(TextMessage, data) }

// SendText queues text as a text message.
func (c *Client) SendText(text string) error { return c.SendMessage(TextMessage, []byte(text)) }

// SendBinary queues a binary message.
func (c *Client) SendBinary(data []byte) error { return c.SendMessage(BinaryMessage, data) }

// SendJSON queues the JSON encoding of v as a text message.
func (c *Client) SendJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// Checked too: a json.RawMessage or a MarshalJSON method can put bytes
	// that are not UTF-8 in json.Marshal's output.
	return c.SendMessage(TextMessage, data)
}

// SendRawJSON queues data, already encoded JSON, as a text message.
func (c *Client) SendRawJSON(data []byte) error { return c.SendMessage(TextMessage, data) }

// SendMessage queues a message of the given type (TextMessage or
// BinaryMessage). It never blocks. When the queue is at its bounds the
// DropPolicy applies: DropNewest returns ErrSendBufferFull, DropOldest
// evicts older messages, DisconnectSlow returns ErrSendBufferFull and
// closes the client; OnSendDropped sees each dropped payload. A closed
// client returns ErrConnectionClosed, and text that is not valid UTF-8
// ErrInvalidUTF8 (see Config.DisableUTF8Validation).
func (c *Client) SendMessage(msgType MessageType, data []byte) error {
	f, err := c.hub.frameFor(msgType, data)
	if err != nil {
		return err
	}
	return c.enqueue(f)
}

// SendWithContext queues a text message, waiting for queue space instead of
// dropping. It returns ctx's error if ctx ends first.
func (c *Client) SendWithContext(ctx context.Context, data []byte) error {
	return c.SendMessageWithContext(ctx, TextMessage, data)
}

// SendMessageWithContext queues a message, waiting for queue space instead of
// applying the DropPolicy. It returns ctx's error if ctx ends first and
// ErrConnectionClosed if the client closes.
func (c *Client) SendMessageWithContext(ctx context.Context, msgType MessageType, data []byte) (err error) {
	f, err := c.hub.frameFor(msgType, data)
	if err != nil {
		return err
	}
	return c.enqueueWait(ctx, f)
}

// Close closes the connection with 1000 (normal closure) after the queued
// messages are written.
func (c *Client) Close() error {
	return c.CloseWithCode(websocket.CloseNormalClosure, "")
}

// CloseWithCode closes the connection with code and reason: messages queued
// before the call are written first, then the close frame; the connection
// ends when the peer answers, or a second later. Sends after the call return
// ErrConnectionClosed. Closing a client that is already closing or closed
// does nothing and returns nil; the first close's code stays. A code that may not be sent on the wire (below 1000,
// 1004-1006, 1015, reserved ranges) is replaced by an empty close frame
// (no status); reason is cut to fit a control frame.
func (c *Client) CloseWithCode(code int, reason string) error {
	if !sendableCloseCode(code) {
		code = websocket.CloseNoStatusReceived
	}
	c.startClose(code, reason)
	return nil
}
