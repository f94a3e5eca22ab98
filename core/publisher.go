package core

import (
	"context"
	"runtime"
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
	queue chan queued
	seq   *numbering // see numbering for who may use it when
	// base is the zero of queued.at: a monotonic clock reading.
	base time.Time
	// leftover is a batch run took from the queue as the hub stopped; flush
	// sends it first. Written by run, read by flush after run returned.
	leftover []queued
	stopped  atomic.Bool // flush ran: nothing reads the queue any more
	// senders counts publish calls between their look at stopped and their
	// enqueue, so that flush, once it has set stopped, can wait them out
	// and count what they queued.
	senders atomic.Int64
	// sendCtx is the sends' lifetime: it outlives the hub's stop, so a
	// batch in flight is not cut halfway, and ends with Shutdown's ctx.
	sendCtx     context.Context //nolint:containedctx // see above
	cancelSends context.CancelFunc
}

// queued is a message waiting for the broker and when it was sent.
type queued struct {
	m  AdapterMessage
	at time.Duration // since publisher.base
	// hist is the room's history options for a message of a history
	// room, which goes to the adapter's store (HistoryAdapter); zero
	// otherwise.
	hist History
}

func newPublisher(h *Hub) *publisher {
	sctx, cancel := context.WithCancel(context.Background())
	return &publisher{h: h, queue: make(chan queued, publishQueueSize), seq: newNumbering(),
		base: time.Now(), sendCtx: sctx, cancelSends: cancel}
}

// publish hands m to the publisher without blocking.
func (h *Hub) publish(m AdapterMessage) { h.enqueuePublish(m, History{}) }

// publishStored hands m, a message of a history room with options opts, to
// the publisher, which stores it (HistoryAdapter) and then delivers it
// here too.
func (h *Hub) publishStored(m AdapterMessage, opts History) { h.enqueuePublish(m, opts) }

func (h *Hub) enqueuePublish(m AdapterMessage, opts History) {
	if h.pub == nil {
		return
	}
	m.NodeID = h.nodeID
	h.pub.senders.Add(1)
	defer h.pub.senders.Add(-1)
	if h.pub.stopped.Load() {
		h.adapterDropped(1, DropStopped)
		return
	}
	select {
	case h.pub.queue <- queued{m: m, at: time.Since(h.pub.base), hist: opts}:
	default:
		h.adapterDropped(1, DropQueueFull)
	}
}

// run sends queued messages until the hub stops, then flushes what is left
// within the stop context of Shutdown (see flush).
func (p *publisher) run(ctx context.Context) {
	defer p.h.bgWG.Done()
	batch := make([]queued, 0, publishBatchMax)
	msgs := make([]AdapterMessage, 0, publishBatchMax)
	for {
		select {
		case q := <-p.queue:
			batch = p.fill(append(batch[:0], q))
			if ctx.Err() != nil {
				p.leftover = append([]queued(nil), batch...)
				return
			}
			// A batch taken is sent even if the hub stops meanwhile: the
			// stop must not cancel it halfway. WriteWait and the publish
			// delay bound still bound it.
			msgs = p.send(p.sendCtx, batch, msgs)
		case <-ctx.Done():
			return
		}
	}
}

// fill adds whatever else is queued, up to publishBatchMax.
func (p *publisher) fill(batch []queued) []queued {
	for len(batch) < publishBatchMax {
		select {
		case q := <-p.queue:
			batch = append(batch, q)
		default:
			return batch
		}
	}
	return batch
}

// send hands batch to the adapter, numbered, and returns msgs (the
// buffer it used) for reuse. It first drops, unnumbered, the messages that
// waited past the publish delay bound, and the whole batch if the adapter
// says its link is down, so nothing published during an outage or a stall
// is sent late. The call to the adapter is cancelled when the oldest
// message reaches the bound.
func (p *publisher) send(ctx context.Context, batch []queued, msgs []AdapterMessage) []AdapterMessage {
	h := p.h
	now := time.Since(p.base)
	stale := 0
	for stale < len(batch) && now-batch[stale].at >= h.maxPublishDelay {
		stale++ // the queue is in send order: the oldest come first
	}
	if stale > 0 {
		h.adapterDropped(stale, DropStale)
		batch = batch[stale:]
	}
	if len(batch) == 0 {
		return msgs
	}
	if ls, ok := h.adapter.(LinkStateAdapter); ok && !ls.Connected() {
		h.adapterDropped(len(batch), DropLinkDown)
		return msgs
	}
	p.seq.sweep(p.base.Add(now))
	msgs = msgs[:0]
	var stored []HistoryAppend
	var storedAt, plainAt time.Duration // when the oldest of each was sent
	for i := range batch {
		if batch[i].hist.Enabled() {
			if len(stored) == 0 {
				storedAt = batch[i].at
			}
			stored = append(stored, HistoryAppend{Msg: batch[i].m, Options: batch[i].hist})
			continue
		}
		if len(msgs) == 0 {
			plainAt = batch[i].at
		}
		msgs = append(msgs, batch[i].m)
	}
	if len(stored) > 0 {
		// After the plain messages, with a budget of its own: a store
		// slower than the bus (JetStream appends one at a time) must not
		// use up theirs.
		defer func() {
			sctx, cancel := context.WithTimeout(ctx, min(h.cfg.WriteWait, storedAt+h.maxPublishDelay-time.Since(p.base)))
			p.store(sctx, stored)
			cancel()
		}()
	}
	if len(msgs) == 0 {
		return msgs
	}
	// pctx, not ctx: the deferred store above must not get this one,
	// cancelled when send returns.
	pctx, cancel := context.WithTimeout(ctx, min(h.cfg.WriteWait, plainAt+h.maxPublishDelay-now))
	defer cancel()
	p.stamp(msgs)
	var err error
	if bp, ok := h.adapter.(BatchPublisher); ok {
		err = bp.PublishBatch(pctx, msgs)
	} else {
		for i := range msgs {
			if e := h.adapter.Publish(pctx, msgs[i]); e != nil && err == nil {
				err = e
			}
		}
	}
	if err != nil {
		// The batch was numbered and counted as published: what of it did
		// not reach the broker shows as lost on the receiving nodes.
		h.adapterError(&AdapterError{Op: "publish", Err: err})
	}
	clear(msgs) // let the payloads go
	return msgs
}

// store hands the messages of history rooms to the adapter's store, then
// delivers the stored ones here in their rooms' order. The store gives them
// positions, which is how receivers account for them: they are not
// numbered in the hub's streams.
func (p *publisher) store(ctx context.Context, batch []HistoryAppend) {
	h := p.h
	h.hist.AppendHistory(ctx, batch) // set: only history rooms' messages come here
	failed := 0
	var firstErr error
	for i := range batch {
		if batch[i].Err != nil || batch[i].Msg.Pos.Offset == 0 {
			failed++
			if firstErr == nil {
				firstErr = batch[i].Err
			}
			continue
		}
		h.deliverHistory(batch[i].Msg)
	}
	if ok := len(batch) - failed; ok > 0 && h.adapterMetrics != nil {
		h.adapterMetrics.IncrementAdapterPublished(ok)
	}
	if failed > 0 {
		h.adapterDropped(failed, DropStoreFailed)
		if firstErr != nil {
			h.adapterError(&AdapterError{Op: "history", Err: firstErr})
		}
	}
}

// stamp numbers msgs and counts them as published: from here on, a
// receiver accounts for each as received or lost.
func (p *publisher) stamp(msgs []AdapterMessage) {
	for i := range msgs {
		p.seq.number(&msgs[i])
	}
	if p.h.adapterMetrics != nil {
		p.h.adapterMetrics.IncrementAdapterPublished(len(msgs))
	}
}

// flush publishes what is still queued, bounded by ctx, then marks the
// publisher stopped: later messages, and any still queued, are dropped and
// counted.
func (p *publisher) flush(ctx context.Context) {
	var msgs []AdapterMessage
	if len(p.leftover) > 0 {
		msgs = p.send(ctx, p.leftover, msgs)
		p.leftover = nil
	}
	batch := make([]queued, 0, publishBatchMax)
	for ctx.Err() == nil {
		batch = p.fill(batch[:0])
		if len(batch) == 0 {
			break
		}
		msgs = p.send(ctx, batch, msgs)
	}
	p.stopped.Store(true)
	for p.senders.Load() != 0 {
		runtime.Gosched() // a sender between its check and its (non-blocking) enqueue
	}
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
		p.h.adapterDropped(n, DropStopped)
	}
}

// adapterDropped counts n messages dropped before the broker, for reason
// (one of the Drop* constants), and logs at a bounded rate.
func (h *Hub) adapterDropped(n int, reason string) {
	switch {
	case h.deliveryMetrics != nil:
		h.deliveryMetrics.IncrementAdapterDroppedReason(reason, n)
	case h.adapterMetrics != nil:
		h.adapterMetrics.IncrementAdapterDropped(n)
	default:
		h.metrics.IncrementErrors("adapter_dropped")
	}
	if h.limiter.allow() {
		h.logger.Warn("dropping messages for other nodes", "reason", reason, "count", n)
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
		h.logger.Warn("adapter error", "op", e.Op, "error", e.Err)
	}
}

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
	h.stopHistory()
	if h.pres != nil && h.startedAt.Load() != 0 {
		h.pres.goodbye(ctx)
	}
	if h.adapter != nil {
		if err := h.adapter.Close(); err != nil {
			h.logger.Warn("closing adapter", "error", err)
		}
	}
}
