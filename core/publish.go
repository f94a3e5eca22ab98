package core

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// publishQueueSize bounds the messages waiting for the broker. When the
// broker is slow or down the queue fills and further messages are dropped
// (counted and logged at a bounded rate) instead of blocking senders.
const publishQueueSize = 8192

// publishBatchMax bounds one batch handed to the adapter.
const publishBatchMax = 256

// publisher moves messages from the hub's senders to the adapter in one
// goroutine, preserving their order.
type publisher struct {
	h     *Hub
	queue chan AdapterMessage
	// leftover is a batch run took from the queue as the hub stopped; flush
	// sends it first. Written by run, read by flush after run returned.
	leftover []AdapterMessage
	stopped  atomic.Bool // flush ran: nothing reads the queue any more
	// sendCtx is the sends' lifetime: it outlives the hub's stop, so a
	// batch in flight is not cut halfway, and ends with Shutdown's ctx.
	sendCtx     context.Context //nolint:containedctx // see above
	cancelSends context.CancelFunc
}

func newPublisher(h *Hub) *publisher {
	sctx, cancel := context.WithCancel(context.Background())
	return &publisher{h: h, queue: make(chan AdapterMessage, publishQueueSize), sendCtx: sctx, cancelSends: cancel}
}

// publish hands m to the publisher without blocking.
func (h *Hub) publish(m AdapterMessage) {
	if h.pub == nil {
		return
	}
	m.NodeID = h.nodeID
	if h.pub.stopped.Load() {
		h.adapterDropped(1, "hub stopped")
		return
	}
	select {
	case h.pub.queue <- m:
	default:
		h.adapterDropped(1, "publish queue full")
	}
}

// run sends queued messages until the hub stops, then flushes what is left
// within the stop context of Shutdown (see flush).
func (p *publisher) run(ctx context.Context) {
	defer p.h.bgWG.Done()
	batch := make([]AdapterMessage, 0, publishBatchMax)
	for {
		select {
		case m := <-p.queue:
			batch = p.fill(append(batch[:0], m))
			if ctx.Err() != nil {
				p.leftover = append([]AdapterMessage(nil), batch...)
				return
			}
			// A batch taken is sent even if the hub stops meanwhile: the
			// stop must not cancel it halfway. WriteWait still bounds it.
			p.send(p.sendCtx, batch)
		case <-ctx.Done():
			return
		}
	}
}

// fill adds whatever else is queued, up to publishBatchMax.
func (p *publisher) fill(batch []AdapterMessage) []AdapterMessage {
	for len(batch) < publishBatchMax {
		select {
		case m := <-p.queue:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

func (p *publisher) send(ctx context.Context, batch []AdapterMessage) {
	h := p.h
	ctx, cancel := context.WithTimeout(ctx, h.cfg.WriteWait)
	defer cancel()
	var err error
	if bp, ok := h.adapter.(BatchPublisher); ok {
		err = bp.PublishBatch(ctx, batch)
	} else {
		for i := range batch {
			if e := h.adapter.Publish(ctx, batch[i]); e != nil && err == nil {
				err = e
			}
		}
	}
	if err != nil {
		h.adapterError(&AdapterError{Op: "publish", Err: err})
		h.adapterDropped(len(batch), "publish failed")
		return
	}
	if h.adapterMetrics != nil {
		h.adapterMetrics.IncrementAdapterPublished(len(batch))
	}
}

// flush publishes what is still queued, bounded by ctx, then marks the
// publisher stopped: later messages, and any still queued, are dropped and
// counted.
func (p *publisher) flush(ctx context.Context) {
	if len(p.leftover) > 0 {
		p.send(ctx, p.leftover)
		p.leftover = nil
	}
	batch := make([]AdapterMessage, 0, publishBatchMax)
	for ctx.Err() == nil {
		batch = p.fill(batch[:0])
		if len(batch) == 0 {
			break
		}
		p.send(ctx, batch)
	}
	p.stopped.Store(true)
	// What a sender queued before it saw stopped (or what ctx left).
	n := 0
	for {
		select {
		case <-p.queue:
			n++
			continue
		default:
		}
		break
	}
	if n > 0 {
		p.h.adapterDropped(n, "hub stopped")
	}
}

func (h *Hub) adapterDropped(n int, why string) {
	if h.adapterMetrics != nil {
		h.adapterMetrics.IncrementAdapterDropped(n)
	} else {
		h.metrics.IncrementErrors("adapter_dropped")
	}
	if h.limiter.allow() {
		h.logger.Warn("wshub: dropping messages for other nodes", "reason", why, "count", n)
	}
}

// adapterError counts and logs (rate-limited) an adapter failure.
func (h *Hub) adapterError(e *AdapterError) {
	if h.adapterMetrics != nil {
		h.adapterMetrics.IncrementAdapterErrors(e.Op)
	} else {
		h.metrics.IncrementErrors("adapter_" + e.Op)
	}
	if h.limiter.allow() {
		h.logger.Warn("wshub: adapter error", "op", e.Op, "error", e.Err)
	}
}

// onAdapterMessage delivers a message from another node to local clients.
// It recovers its own panics, so no adapter has to.
func (h *Hub) onAdapterMessage(m AdapterMessage) {
	defer func() {
		if p := recover(); p != nil {
			h.panicked("adapter message", p)
		}
	}()
	if h.adapterMetrics != nil {
		h.adapterMetrics.IncrementAdapterReceived(1)
	}
	if m.Type == AdapterPresence {
		if h.pres != nil {
			h.pres.receive(m)
		}
		return
	}
	if m.NodeID == h.nodeID {
		return
	}
	typ := MessageType(m.MsgType)
	if typ != TextMessage && typ != BinaryMessage {
		h.adapterError(&AdapterError{Op: "decode", Err: errBadMsgType})
		return
	}
	switch m.Type {
	case AdapterBroadcast, AdapterBroadcastExcept, AdapterRoom, AdapterRoomExcept, AdapterUser, AdapterClient:
	default:
		h.adapterError(&AdapterError{Op: "decode", Err: errUnknownType})
		return
	}
	f, err := h.frameFor(typ, m.Data)
	if err != nil {
		h.adapterError(&AdapterError{Op: "decode", Err: err})
		return
	}
	switch m.Type {
	case AdapterBroadcast, AdapterBroadcastExcept:
		_ = h.deliverAll(context.Background(), false, f, nil, m.ExceptClientIDs)
	case AdapterRoom, AdapterRoomExcept:
		_, _ = h.deliverRoom(context.Background(), false, m.Room, f, nil, m.ExceptClientIDs)
	case AdapterUser:
		_ = h.deliverUser(context.Background(), false, m.UserID, f)
	case AdapterClient:
		if c, ok := h.clients.get(m.ClientID); ok {
			_ = c.enqueue(f)
		}
	}
}

var (
	errBadMsgType  = errors.New("wshub: bus message has an invalid WebSocket message type")
	errUnknownType = errors.New("wshub: bus message has an unknown operation type")
)

// stopBackground stops the publisher and presence goroutines after a last
// flush bounded by ctx, then closes the adapter.
func (h *Hub) stopBackground(ctx context.Context) {
	h.life.RLock()
	stop := h.bgStop
	h.life.RUnlock()
	if h.pub != nil {
		defer context.AfterFunc(ctx, h.pub.cancelSends)()
	}
	if stop != nil {
		stop()
	}
	h.bgWG.Wait()
	if h.pub != nil {
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		h.pub.flush(fctx)
		cancel()
	}
	if h.pres != nil && h.startedAt.Load() != 0 {
		h.pres.goodbye(ctx)
	}
	if h.adapter != nil {
		if err := h.adapter.Close(); err != nil {
			h.logger.Warn("wshub: closing adapter", "error", err)
		}
	}
}
