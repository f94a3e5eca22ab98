package core

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// tokenBucket limits inbound messages per client; only the read pump uses it.
type tokenBucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate int) *tokenBucket {
	return &tokenBucket{rate: float64(rate), tokens: float64(rate), last: time.Now()}
}

func (b *tokenBucket) allow(now time.Time) bool {
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.rate {
		b.tokens = b.rate
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// readPump reads messages until the connection ends, then tears the client
// down. It is the one goroutine an idle connection costs.
func (c *Client) readPump() {
	h := c.hub
	defer h.wg.Done()
	defer c.teardown()

	in := c.newInbound()
	defer in.reset() // a close frame may come in the middle of a message
	defer func() {
		// The frame reader must not panic on any input (it is fuzzed); if it
		// does, it costs this connection, not the process.
		if p := recover(); p != nil {
			h.panicked("read pump", p, "client_id", c.ID)
			c.startClose(websocket.CloseInternalServerErr, "internal error")
		}
	}()
	c.extendReadDeadline(time.Now())
	for {
		op, data, err := in.next()
		if err != nil {
			c.readError(in, err)
			return
		}
		now := time.Now()
		switch op {
		case opPing:
			c.queuePong(appendControl(nil, websocket.PongMessage, data))
			c.extendReadDeadline(now)
			continue
		case opPong:
			c.extendReadDeadline(now)
			continue
		case opClose:
			c.peerClosed(closeCodeOf(data))
			return
		}
		open, full := c.admit(now)
		if full {
			if !c.awaitSpace() && h.dropPolicy == DisconnectSlow {
				c.disconnectSlow()
			}
			open = !c.IsClosed() // it may have started closing meanwhile
		}
		if !open {
			// Our close frame is out (or going): only the peer's close
			// matters now, within the deadline the write pump set.
			continue
		}
		if c.limiter != nil && !c.limiter.allow(now) && (op != opText || !c.passLimit(data)) {
			c.endDirect()
			h.metrics.IncrementErrors("rate_limit_exceeded")
			continue
		}
		h.metrics.IncrementMessagesReceived()
		h.metrics.RecordMessageSize(len(data))
		msg := &Message{Type: MessageType(op), Data: data, ClientID: c.ID, Time: now, client: c}
		ok := c.dispatch(msg)
		c.endDirect()
		if !ok {
			return
		}
	}
}

// newInbound returns the reader of the client's frames.
func (c *Client) newInbound() *inbound {
	cfg := &c.hub.cfg
	in := &inbound{
		fr:       newFrameReader(c.conn, cfg.ReadBufferSize),
		compress: c.cc != nil,
		limit:    cfg.MaxMessageSize,
		// Compressed bytes may exceed what they inflate to (a sender that
		// flushes every small fragment adds a few bytes each); the bound
		// only stops a message of endless empty blocks. MaxMessageSize is
		// at most 2^58, so this cannot overflow.
		wireLimit: 2*cfg.MaxMessageSize + 1024,
		checkUTF8: !cfg.DisableUTF8Validation,
		timeout:   cfg.MessageReadTimeout,
		bound:     c.boundReadDeadline,
	}
	in.fr.traffic = c.hub.trafficMetrics
	in.fr.useIdlePool(c.raw, &c.hub.readBufs)
	if cfg.MaxInboundBytes > 0 {
		in.budget = &c.hub.inbound
	}
	in.waitFn = in.beforeBlock
	return in
}

// readError closes the connection after a failed read: a fault of the peer
// with the close code it calls for, anything else (the peer went away, a
// timeout) by cutting the socket.
func (c *Client) readError(in *inbound, err error) {
	var pe *protocolError
	if errors.As(err, &pe) {
		if c.startClose(pe.code, pe.reason) { // counted when it is what closes the connection
			c.hub.metrics.IncrementErrors(pe.kind)
		}
		c.discardInput(in, pe.aligned)
		return
	}
	c.mu.Lock()
	if c.closeCode == 0 {
		c.closeCode = websocket.CloseAbnormalClosure
	}
	c.mu.Unlock()
}

// discardInput reads and drops what the peer still sends after our close
// frame for a fault, until it closes the connection, answers with its own
// close frame (when the stream is still aligned on frames), or the close
// frame has had WriteWait to go out and the peer closeGrace to answer.
// Closing a socket with unread input makes the kernel reset the
// connection, and the peer could then lose our close frame and its code.
func (c *Client) discardInput(in *inbound, aligned bool) {
	c.mu.Lock()
	if !c.sq.closeSent { // the write pump shortens it to closeGrace once the frame is out
		_ = c.conn.SetReadDeadline(time.Now().Add(c.hub.cfg.WriteWait + closeGrace))
	}
	c.mu.Unlock()
	for aligned {
		h, err := in.fr.header()
		var pe *protocolError
		switch {
		case errors.As(err, &pe):
			aligned = false // no frame: drop bytes as they come, below
			continue
		case err != nil || h.opcode == opClose:
			// The peer went away, or answered (a browser then waits for us
			// to close the connection).
			return
		}
		if err := in.fr.skip(h.length); err != nil {
			return
		}
	}
	in.fr.ensureBuf()
	for {
		n, err := c.conn.Read(in.fr.buf)
		in.fr.count(n)
		if err != nil {
			return
		}
	}
}

// extendReadDeadline gives the peer another PongWait from now, unless the
// client is closing; it reports whether the client is open. Like the write
// deadline, it moves the deadline only once a quarter of PongWait went by
// (a timer update per message is measurable), and never past the deadline
// of a message being received. It holds c.mu so that it cannot overwrite
// the shorter deadline the write pump sets once the close frame is out
// (closing is set before that frame is queued).
func (c *Client) extendReadDeadline(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extendLocked(now)
}

// admit is extendReadDeadline for a data message that is about to be
// handled; full reports, under the same lock, that the client's queue is at
// its bounds, so the read pump waits (awaitSpace) before handling it. The
// pump reads no further meanwhile, which slows the peer down through TCP.
func (c *Client) admit(now time.Time) (open, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	open = c.extendLocked(now)
	full = !c.fitsLocked()
	if open && !full {
		c.allowDirect()
	}
	return open, full
}

// extendLocked is extendReadDeadline with c.mu held.
func (c *Client) extendLocked(now time.Time) bool {
	if c.closing {
		return false
	}
	nn := now.UnixNano()
	if pw := c.hub.cfg.PongWait; deadlineDue(c.readDeadline, nn, pw) {
		d := nn + int64(pw)
		if c.msgDeadline != 0 && d > c.msgDeadline {
			d = c.msgDeadline
		}
		if d != c.readDeadline {
			c.readDeadline = d
			_ = c.conn.SetReadDeadline(time.Unix(0, d))
		}
	}
	return true
}

// boundReadDeadline caps the read deadline at t while a message is being
// received (MessageReadTimeout); a zero t lifts the cap, and the next
// extendReadDeadline sets the usual deadline again.
func (c *Client) boundReadDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var tn int64
	if !t.IsZero() {
		tn = t.UnixNano()
	}
	c.msgDeadline = tn
	if c.closing {
		return
	}
	if tn == 0 {
		c.readDeadline = 0
		return
	}
	if c.readDeadline == 0 || c.readDeadline > tn {
		c.readDeadline = tn
		_ = c.conn.SetReadDeadline(t)
	}
}

// dispatch runs hooks, callbacks and the handler for one message. It reports
// false when a panic closed the connection.
func (c *Client) dispatch(msg *Message) (ok bool) {
	h := c.hub
	defer func() {
		if p := recover(); p != nil {
			h.logPanic("message handler panicked; closing the connection", "message handler", p, "client_id", c.ID)
			c.startClose(websocket.CloseInternalServerErr, "internal error")
			ok = false
		}
	}()
	var req *inboundRequest
	if msg.Type == TextMessage {
		var handled bool
		if req, handled = c.requestOf(msg); handled {
			return true
		}
		msg.req = req
	}
	var err error
	var traced context.Context // the Tracer's context of the dispatch
	if h.tracer != nil {
		var end func(error)
		traced, end = h.tracer.StartMessage(c.Context(), c, msg)
		c.dispatching(msg, traced)
		defer func() { // before the recovery above: ok is still false on a panic
			c.dispatching(nil, nil)
			if !ok {
				err = ErrHandlerPanicked
			}
			end(err)
		}()
	}
	if h.hooks.BeforeMessage != nil {
		var m2 *Message
		m2, err = h.hooks.BeforeMessage(c, msg)
		if err == nil && m2 != nil {
			if m2.client == nil {
				m2.client = c
			}
			if m2.req == nil {
				m2.req = req
			}
			if traced != nil && m2 != msg {
				c.dispatching(m2, traced)
			}
			msg = m2
		}
	}
	if err == nil {
		var cbs []func(*Client, *Message)
		c.state.RLock()
		if c.cb != nil {
			cbs = c.cb.onMessage
		}
		c.state.RUnlock()
		for _, fn := range cbs {
			fn(c, msg)
		}
		if h.handler != nil {
			start := time.Now()
			err = h.handler(c, msg)
			if !h.skipLatency {
				h.metrics.RecordLatency(time.Since(start))
			}
		}
		if err != nil {
			c.reportError(err)
		}
	}
	if req != nil {
		req.answer(err)
	}
	if h.hooks.AfterMessage != nil {
		h.hooks.AfterMessage(c, msg, err)
	}
	return true
}

func (c *Client) reportError(err error) {
	h := c.hub
	if h.hooks.OnError != nil {
		h.hooks.OnError(c, err)
	}
	var cbs []func(*Client, error)
	c.state.RLock()
	if c.cb != nil {
		cbs = c.cb.onError
	}
	c.state.RUnlock()
	for _, fn := range cbs {
		fn(c, err)
	}
}

// peerClosed answers a close frame from the peer (unless we sent ours).
func (c *Client) peerClosed(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCode == 0 {
		c.closeCode = code
	}
	if c.closing || c.closed {
		return
	}
	c.beginCloseLocked()
	// The peer is leaving: answer its close at once instead of after what
	// is still queued for it.
	c.sq.release()
	if c.sq.setClose(appendClose(nil, code, "")) { // 1005: an empty close, as the peer's
		go c.writePump()
	}
}
