package core

import (
	"context"
	"encoding/json"
	"time"
)

// Broadcast queues a text message for every local client and publishes it
// to the other nodes. It never blocks on slow clients (the DropPolicy
// applies per client) nor on the broker. The hub keeps data until written;
// do not modify it after the call.
func (h *Hub) Broadcast(data []byte) { h.broadcast(TextMessage, data, nil) }

// BroadcastText is Broadcast for a string.
func (h *Hub) BroadcastText(text string) { h.broadcast(TextMessage, []byte(text), nil) }

// BroadcastBinary is Broadcast for a binary message.
func (h *Hub) BroadcastBinary(data []byte) { h.broadcast(BinaryMessage, data, nil) }

// BroadcastRawJSON is Broadcast for data that is already encoded JSON.
func (h *Hub) BroadcastRawJSON(data []byte) { h.broadcast(TextMessage, data, nil) }

// BroadcastJSON broadcasts the JSON encoding of v, or returns the
// marshalling error, or ErrInvalidUTF8 when the encoding is not UTF-8 (a
// json.RawMessage inside v can make it so).
func (h *Hub) BroadcastJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// Checked too: a json.RawMessage or a MarshalJSON method can put bytes
	// that are not UTF-8 in json.Marshal's output.
	f, err := h.frameFor(TextMessage, data)
	if err != nil {
		return err
	}
	h.broadcastFrame(f, nil)
	return nil
}

// BroadcastExcept is Broadcast skipping the given clients (on every node).
func (h *Hub) BroadcastExcept(data []byte, except ...*Client) {
	h.broadcast(TextMessage, data, except)
}

// BroadcastBinaryExcept is BroadcastBinary skipping the given clients.
func (h *Hub) BroadcastBinaryExcept(data []byte, except ...*Client) {
	h.broadcast(BinaryMessage, data, except)
}

// BroadcastWithContext queues a text message for every local client,
// waiting for queue space instead of dropping. When ctx ends midway the
// remaining local clients are skipped and ctx's error is returned; the
// message is published to the other nodes either way.
func (h *Hub) BroadcastWithContext(ctx context.Context, data []byte) error {
	f, err := h.frameFor(TextMessage, data)
	if err != nil {
		return err
	}
	err = h.deliverAll(ctx, true, f, nil, nil)
	m := AdapterMessage{Type: AdapterBroadcast, MsgType: int(TextMessage), Data: data}
	h.tracePublish(ctx, &m)
	h.publish(m)
	return err
}

func (h *Hub) broadcast(typ MessageType, data []byte, except []*Client) {
	f, err := h.frameFor(typ, data)
	if err != nil {
		h.refusedText("Broadcast")
		return
	}
	h.broadcastFrame(f, except)
}

// broadcastFrame delivers f locally and publishes it.
func (h *Hub) broadcastFrame(f *frame, except []*Client) {
	_ = h.deliverAll(context.Background(), false, f, except, nil)
	if h.adapter == nil {
		return
	}
	m := AdapterMessage{Type: AdapterBroadcast, MsgType: int(f.typ), Data: f.data}
	if len(except) > 0 {
		m.Type = AdapterBroadcastExcept
		m.ExceptClientIDs = clientIDs(except)
	}
	h.publish(m)
}

// deliverAll queues f for every local client except the listed ones. It
// copies one registry shard at a time into a pooled buffer and enqueues
// outside the shard's lock: no allocation per recipient, no hub-wide lock.
// Unless wait is set it never blocks (the DropPolicy applies); with wait it
// waits for queue space and stops with ctx's error when ctx ends.
func (h *Hub) deliverAll(ctx context.Context, wait bool, f *frame, except []*Client, exceptIDs []string) error {
	start := time.Now()
	defer func() { h.metrics.RecordBroadcastDuration(time.Since(start)) }()
	bp := getClientBuf()
	defer putClientBuf(bp)
	for i := 0; i < registryShards; i++ {
		*bp = h.clients.snapshotShard(i, (*bp)[:0])
		if err := deliverTo(ctx, wait, *bp, f, except, exceptIDs); err != nil {
			return err
		}
	}
	return nil
}

// deliverTo queues f for each of clients not excluded, as deliverAll does.
// Failures of single clients (full queue, closed) do not stop it.
func deliverTo(ctx context.Context, wait bool, clients []*Client, f *frame, except []*Client, exceptIDs []string) error {
	for _, c := range clients {
		if excluded(c, except, exceptIDs) {
			continue
		}
		if !wait {
			_ = c.enqueue(f)
		} else if err := c.enqueueWait(ctx, f); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func putClientBuf(bp *[]*Client) {
	clear(*bp)
	*bp = (*bp)[:0]
	clientBufPool.Put(bp)
}

func excluded(c *Client, except []*Client, exceptIDs []string) bool {
	for _, x := range except {
		if x == c {
			return true
		}
	}
	for _, id := range exceptIDs {
		if id == c.ID {
			return true
		}
	}
	return false
}

func clientIDs(cs []*Client) []string {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// BroadcastToRoom queues a text message for every member of the room and
// publishes it to the other nodes. Without an adapter, a room with no local
// members returns ErrRoomNotFound; with one it returns nil (other nodes may
// have members).
//
// In a room that keeps history (RoomOptions.History) the message is first
// stored, which gives it its position, and then delivered on every node in
// position order, here too: with an adapter that is after the broker's
// answer, from the hub's publisher goroutine, so the call still never
// waits for the broker. Such a room is never ErrRoomNotFound: its message
// is stored for the clients that will recover it. A message the store
// refuses reaches no one and is counted as dropped ("store_failed").
func (h *Hub) BroadcastToRoom(name string, data []byte) error {
	return h.roomBroadcast(name, TextMessage, data, nil)
}

// BroadcastBinaryToRoom is BroadcastToRoom for a binary message.
func (h *Hub) BroadcastBinaryToRoom(name string, data []byte) error {
	return h.roomBroadcast(name, BinaryMessage, data, nil)
}

// BroadcastToRoomExcept is BroadcastToRoom skipping the given clients.
func (h *Hub) BroadcastToRoomExcept(name string, data []byte, except ...*Client) error {
	return h.roomBroadcast(name, TextMessage, data, except)
}

// BroadcastBinaryToRoomExcept is BroadcastBinaryToRoom skipping the given
// clients.
func (h *Hub) BroadcastBinaryToRoomExcept(name string, data []byte, except ...*Client) error {
	return h.roomBroadcast(name, BinaryMessage, data, except)
}

// BroadcastToRoomWithContext is BroadcastToRoom waiting for queue space
// instead of dropping; it returns ctx's error if ctx ends midway. In a
// history room it is BroadcastToRoom: delivery follows the store, after
// the call.
func (h *Hub) BroadcastToRoomWithContext(ctx context.Context, name string, data []byte) error {
	return h.roomBroadcastCtx(ctx, true, name, TextMessage, data, nil)
}

func (h *Hub) roomBroadcast(name string, typ MessageType, data []byte, except []*Client) error {
	return h.roomBroadcastCtx(context.Background(), false, name, typ, data, except)
}

func (h *Hub) roomBroadcastCtx(ctx context.Context, wait bool, name string, typ MessageType, data []byte, except []*Client) error {
	if name == "" {
		return ErrEmptyRoomName
	}
	f, err := h.frameFor(typ, data)
	if err != nil {
		return err
	}
	r := h.room(name) // looked up once: the options and the delivery use it
	var opts RoomOptions
	switch {
	case r != nil:
		opts = r.opts
	case h.roomOpts != nil:
		opts = h.resolveRoomOptions(name)
	}
	if opts.History.Enabled() && h.hist != nil {
		h.publishHistory(ctx, name, typ, data, except, opts.History)
		return nil
	}
	if r != nil {
		err = h.deliverInRoom(ctx, wait, r, f, except, nil)
	}
	if h.adapter == nil {
		if r == nil {
			return ErrRoomNotFound
		}
		return err
	}
	m := AdapterMessage{Type: AdapterRoom, Room: name, MsgType: int(typ), Data: data}
	if len(except) > 0 {
		m.Type = AdapterRoomExcept
		m.ExceptClientIDs = clientIDs(except)
	}
	h.tracePublish(ctx, &m)
	h.publish(m)
	return err
}

// deliverInRoom queues f for the members of r.
func (h *Hub) deliverInRoom(ctx context.Context, wait bool, r *Room, f *frame, except []*Client, exceptIDs []string) error {
	start := time.Now()
	defer func() { h.metrics.RecordBroadcastDuration(time.Since(start)) }()
	bp := getClientBuf()
	defer putClientBuf(bp)
	r.mu.RLock()
	*bp = append((*bp)[:0], r.members...)
	r.mu.RUnlock()
	return deliverTo(ctx, wait, *bp, f, except, exceptIDs)
}
