package core

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
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

// errMessageTooBig reports an inbound message over MaxMessageSize.
var errMessageTooBig = errors.New("wshub: message too big")

// readBufPool holds scratch buffers for reading messages of unknown size.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// readPump reads messages until the connection ends, then tears the client
// down. It is the one goroutine an idle connection costs.
func (c *Client) readPump() {
	h := c.hub
	defer h.wg.Done()
	defer c.teardown()

	limit := h.cfg.MaxMessageSize
	if h.cfg.EnableCompression {
		// gorilla's limit counts compressed bytes; leave room for data that
		// does not compress and bound the inflated size below. It is a
		// backstop against a message of endless empty deflate blocks; past
		// it gorilla writes its own 1009 close at once, ahead of anything
		// still queued.
		c.ws.SetReadLimit(limit + limit/64 + 64)
	} else {
		// No gorilla limit (it would write its own 1009 close at once, ahead
		// of the messages still queued): readLimited enforces the limit as
		// the bytes arrive, and the close goes through the write pump.
		c.ws.SetReadLimit(0)
	}
	c.extendReadDeadline(time.Now())
	c.ws.SetPongHandler(func(string) error {
		c.extendReadDeadline(time.Now())
		return nil
	})
	c.ws.SetPingHandler(func(data string) error {
		c.queueControl(appendControl(nil, websocket.PongMessage, []byte(data)))
		return nil
	})
	c.ws.SetCloseHandler(func(code int, text string) error {
		c.peerClosed(code)
		return nil
	})

	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		data, err := readLimited(r, limit)
		if err != nil {
			if errors.Is(err, errMessageTooBig) {
				h.metrics.IncrementErrors("message_too_big")
				c.startClose(websocket.CloseMessageTooBig, "message too big")
			} else {
				c.readFailed(err)
			}
			return
		}
		now := time.Now()
		if !c.extendReadDeadline(now) {
			// Our close frame is out (or going): only the peer's close
			// matters now, within the deadline the write pump set.
			continue
		}
		if c.limiter != nil && !c.limiter.allow(now) {
			h.metrics.IncrementErrors("rate_limit_exceeded")
			continue
		}
		h.metrics.IncrementMessagesReceived()
		h.metrics.RecordMessageSize(len(data))
		msg := &Message{Type: MessageType(typ), Data: data, ClientID: c.ID, Time: now}
		if !c.dispatch(msg) {
			return
		}
	}
}

// extendReadDeadline gives the peer another PongWait from now, unless the
// client is closing; it reports whether the client is open. Like the write
// deadline, it moves the deadline only once a quarter of PongWait went by
// (a timer update per message is measurable). It holds c.mu so that it
// cannot overwrite the shorter deadline the write pump sets once the close
// frame is out (closing is set before that frame is queued).
func (c *Client) extendReadDeadline(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	if pw := c.hub.cfg.PongWait; deadlineDue(c.readDeadline, now, pw) {
		c.readDeadline = now.Add(pw)
		_ = c.ws.SetReadDeadline(c.readDeadline)
	}
	return true
}

// readLimited reads a whole message, failing with errMessageTooBig past max
// bytes without allocating more than that.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	bp, _ := readBufPool.Get().(*[]byte) // New always succeeds
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 64<<10 {
			*bp = buf[:0]
			readBufPool.Put(bp)
		}
	}()
	for {
		if int64(len(buf)) > limit {
			return nil, errMessageTooBig
		}
		if len(buf) == cap(buf) {
			grow := cap(buf)
			if rest := limit + 1 - int64(len(buf)); int64(grow) > rest {
				grow = int(rest)
			}
			buf = append(buf, make([]byte, grow)...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > limit {
				return nil, errMessageTooBig
			}
			out := make([]byte, len(buf))
			copy(out, buf)
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// dispatch runs hooks, callbacks and the handler for one message. It reports
// false when a panic closed the connection.
func (c *Client) dispatch(msg *Message) (ok bool) {
	h := c.hub
	defer func() {
		if p := recover(); p != nil {
			h.metrics.IncrementErrors("panic")
			h.logger.Error("wshub: message handler panicked; closing the connection",
				"client_id", c.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			c.startClose(websocket.CloseInternalServerErr, "internal error")
			ok = false
		}
	}()
	var err error
	if h.hooks.BeforeMessage != nil {
		var m2 *Message
		m2, err = h.hooks.BeforeMessage(c, msg)
		if err == nil && m2 != nil {
			msg = m2
		}
	}
	if err == nil {
		c.state.RLock()
		cbs := c.onMessage
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
	c.state.RLock()
	cbs := c.onError
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
	c.closing = true
	// The peer is leaving: answer its close at once instead of after what
	// is still queued for it.
	c.releaseQueueLocked()
	reply := code
	if code == websocket.CloseNoStatusReceived {
		reply = websocket.CloseNoStatusReceived
	}
	c.closeFrame = appendClose(nil, reply, "")
	if c.wakeLocked() {
		go c.writePump()
	}
}

// readFailed records why the read pump stopped.
func (c *Client) readFailed(err error) {
	var ce *websocket.CloseError
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCode != 0 {
		return
	}
	switch {
	case errors.As(err, &ce):
		c.closeCode = ce.Code
	case errors.Is(err, websocket.ErrReadLimit):
		c.closeCode = websocket.CloseMessageTooBig
		c.hub.metrics.IncrementErrors("message_too_big")
	default:
		c.closeCode = websocket.CloseAbnormalClosure
	}
}
