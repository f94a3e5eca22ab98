package core

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// frame is one outbound data message. A broadcast allocates one frame and
// queues the same pointer for every recipient.
type frame struct {
	typ  MessageType
	data []byte

	// pm frames the message for compressed connections, built once on first
	// use and shared by every writer.
	pmOnce sync.Once
	pm     *websocket.PreparedMessage
	pmErr  error
}

func newFrame(typ MessageType, data []byte) *frame { return &frame{typ: typ, data: data} }

// checkText returns ErrInvalidUTF8 for text that is not valid UTF-8, unless
// the checks are off.
func (h *Hub) checkText(typ MessageType, data []byte) error {
	if typ == TextMessage && !h.cfg.DisableUTF8Validation && !utf8.Valid(data) {
		h.metrics.IncrementErrors("invalid_utf8_send")
		return ErrInvalidUTF8
	}
	return nil
}

// frameFor returns the frame of a send after checkText.
func (h *Hub) frameFor(typ MessageType, data []byte) (*frame, error) {
	if err := h.checkText(typ, data); err != nil {
		return nil, err
	}
	return newFrame(typ, data), nil
}

// refusedText logs, at a bounded rate, a text send refused by a method that
// returns no error (checkText counted it).
func (h *Hub) refusedText(op string) {
	if h.utf8Log.allow() {
		h.logger.Warn("refused to send text that is not valid UTF-8", "op", op)
	}
}

func (f *frame) prepared() (*websocket.PreparedMessage, error) {
	f.pmOnce.Do(func() { f.pm, f.pmErr = websocket.NewPreparedMessage(int(f.typ), f.data) })
	return f.pm, f.pmErr
}

// bufPool recycles the write pump's batch buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func putBuf(bp *[]byte) {
	*bp = (*bp)[:0]
	if cap(*bp) <= 4*maxBatchBytes {
		bufPool.Put(bp)
	}
}

// getBuf takes from a pool whose New always succeeds.
func getBuf() *[]byte {
	b, _ := bufPool.Get().(*[]byte)
	return b
}

const (
	// maxBatchBytes is the size at which a write pump flushes mid-batch.
	maxBatchBytes = 64 << 10
	// directWriteSize is the payload size above which a frame is not copied
	// into the batch buffer but written with writev.
	directWriteSize = 16 << 10
	// closeGrace bounds the wait for the peer's close frame after ours.
	closeGrace = time.Second
)

// fitsLocked reports whether the client's queue admits one more frame;
// c.mu must be held.
func (c *Client) fitsLocked() bool {
	return c.sq.fits(c.hub.cfg.SendChannelSize, c.hub.cfg.MaxQueuedBytes)
}

// pushLocked appends f to the queue and reports whether the caller must
// start a write pump; c.mu must be held.
func (c *Client) pushLocked(f *frame) bool {
	c.sq.push(f)
	return c.wakeLocked()
}

// wakeLocked marks the write pump running and reports whether it was not,
// in which case the caller starts it after unlocking; c.mu must be held.
func (c *Client) wakeLocked() bool {
	start := !c.writing
	c.writing = true
	return start
}

// enqueue queues f without blocking, applying the drop policy when the
// queue is at its bounds.
func (c *Client) enqueue(f *frame) error {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return ErrConnectionClosed
	}
	if !c.fitsLocked() {
		return c.overflow(f)
	}
	start := c.pushLocked(f)
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
	return nil
}

// enqueueOver queues f even past the queue's bounds (by one frame), as
// control frames are: for a frame that must not be the one the drop
// policy loses, such as a recovery's answer after a replay that filled the
// queue. It fails only on a closed connection.
func (c *Client) enqueueOver(f *frame) error {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return ErrConnectionClosed
	}
	start := c.pushLocked(f)
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
	return nil
}

// overflow applies the drop policy to f, which did not fit. It is called
// with c.mu held and releases it.
func (c *Client) overflow(f *frame) error {
	h := c.hub
	switch h.dropPolicy {
	case DropOldest:
		// Evict until f fits; when the batch being written fills the
		// bounds alone (SendChannelSize 1, or one message over
		// MaxQueuedBytes), f waits beyond them in place of every older
		// pending message: the newest is never the one lost.
		var buf [4]*frame
		evicted := buf[:0]
		for !c.fitsLocked() && c.sq.pending() > 0 {
			evicted = append(evicted, c.sq.popOldest())
		}
		start := c.pushLocked(f)
		c.mu.Unlock()
		if start {
			go c.writePump()
		}
		for _, e := range evicted {
			h.dropped(c, e.data)
		}
		return nil
	case DisconnectSlow:
		gone, start := c.disconnectSlowLocked() // the client is open: enqueue checked
		c.mu.Unlock()
		if start {
			go c.writePump()
		}
		c.reportSlow(gone)
		h.dropped(c, f.data)
		return ErrSendBufferFull
	default:
		c.mu.Unlock()
		h.dropped(c, f.data)
		return ErrSendBufferFull
	}
}

// disconnectSlowLocked starts closing the open client with 1013 because it
// does not read fast enough: its pending frames are dropped at once, so
// their memory is freed and the close frame goes out right after the batch
// being written. It returns the dropped frames' queue (nil if none) and
// whether the caller must start a write pump; c.mu must be held and the
// client open. The caller reports the disconnect with reportSlow.
func (c *Client) disconnectSlowLocked() (*frameQueue, bool) {
	c.beginCloseLocked()
	c.closeCode = websocket.CloseTryAgainLater
	c.closeFrame = appendClose(nil, websocket.CloseTryAgainLater, slowClientReason)
	return c.sq.drop(), c.wakeLocked()
}

// slowClientReason is the reason of the close frame DisconnectSlow sends.
const slowClientReason = "slow client"

// disconnectSlow closes the client as too slow, from the read pump, unless
// it is closing already.
func (c *Client) disconnectSlow() {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return
	}
	gone, start := c.disconnectSlowLocked()
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
	c.reportSlow(gone)
}

// reportSlow counts a slow-client disconnect, reports the frames it dropped
// (gone, nil if none) and runs Hooks.OnSlowClient.
func (c *Client) reportSlow(gone *frameQueue) {
	h := c.hub
	h.metrics.IncrementErrors("slow_client")
	if gone != nil {
		for _, f := range gone.s {
			h.dropped(c, f.data)
		}
		putQueue(gone)
	}
	if h.slowLog.allow() {
		h.logger.Warn("closing a client that reads too slowly", "client_id", c.ID,
			"max_queued_messages", h.cfg.SendChannelSize, "max_queued_bytes", h.cfg.MaxQueuedBytes)
	}
	if h.hooks.OnSlowClient != nil {
		h.goHook("OnSlowClient", func() { h.hooks.OnSlowClient(c) })
	}
}

// enqueueWait queues f, waiting for space while the queue is at its bounds.
func (c *Client) enqueueWait(ctx context.Context, f *frame) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		if c.closing || c.closed {
			c.mu.Unlock()
			return ErrConnectionClosed
		}
		if c.fitsLocked() {
			start := c.pushLocked(f)
			c.mu.Unlock()
			if start {
				go c.writePump()
			}
			return nil
		}
		ch := c.sq.wait()
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// awaitSpace holds the read pump while the client's queue is at its bounds,
// so that a client sending faster than it reads is slowed down by TCP
// instead of losing the replies its handlers send. It waits at most
// WriteWait and reports false when the queue was still full then.
func (c *Client) awaitSpace() bool {
	c.mu.Lock()
	if c.closing || c.closed || c.fitsLocked() {
		c.mu.Unlock()
		return true
	}
	t := time.NewTimer(c.hub.cfg.WriteWait)
	defer t.Stop()
	for {
		ch := c.sq.wait()
		c.mu.Unlock()
		select {
		case <-ch:
		case <-t.C:
			return false
		}
		c.mu.Lock()
		if c.closing || c.closed || c.fitsLocked() {
			c.mu.Unlock()
			return true
		}
	}
}

// queueControl queues a ping or pong frame (already encoded). A newer one
// replaces one of the same kind not yet written: RFC 6455 lets a pong answer
// only the latest ping, and a peer that pings without reading must not grow
// a backlog.
func (c *Client) queueControl(b []byte) {
	c.mu.Lock()
	if c.closed || c.closeSent {
		c.mu.Unlock()
		return
	}
	if b[0]&0x0f == websocket.PingMessage {
		c.pendingPing = b
	} else {
		c.pendingPong = b
	}
	start := c.wakeLocked()
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
}

// startClose schedules a close frame after the queued messages. It reports
// false when the client was already closing.
func (c *Client) startClose(code int, reason string) bool {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return false
	}
	c.beginCloseLocked()
	c.closeCode = code
	c.closeFrame = appendClose(nil, code, reason)
	c.sq.signal() // those waiting for space see the close
	start := c.wakeLocked()
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
	return true
}

// writePump writes everything queued, as separate frames in as few syscalls
// as possible, and exits when the queue is empty. Only the write pump writes
// data to the socket.
func (c *Client) writePump() {
	bp := getBuf()
	defer putBuf(bp)
	h := c.hub
	// One batch holds at most half the client's bounds (or one larger
	// message), so that senders find room while it is written.
	maxN := max(1, h.cfg.SendChannelSize/2)
	maxBytes := max(1, h.cfg.MaxQueuedBytes/2)
	wroteData := false // a ping or pong alone does not end the client's idleness
	for {
		c.mu.Lock()
		c.sq.written() // the previous batch, if any, is out
		if c.closed && c.closeFrame == nil {
			c.releaseQueueLocked()
			c.stopWritingLocked(wroteData)
			c.mu.Unlock()
			return
		}
		batch, frames := c.sq.take(maxN, maxBytes)
		ping, pong := c.pendingPing, c.pendingPong
		c.pendingPing, c.pendingPong = nil, nil
		var closeFrame []byte
		if c.sq.pending() == 0 && c.closeFrame != nil {
			closeFrame = c.closeFrame
			c.closeFrame = nil
			c.closeSent = true
		}
		if len(frames) == 0 && len(ping) == 0 && len(pong) == 0 && closeFrame == nil {
			c.stopWritingLocked(wroteData)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		wroteData = wroteData || len(frames) > 0

		*bp = append(append((*bp)[:0], ping...), pong...)
		n, err := c.writeFrames(frames, bp)
		if err == nil && closeFrame != nil {
			*bp = append(*bp, closeFrame...)
		}
		if err == nil && len(*bp) > 0 {
			err = c.flush(*bp, nil)
			*bp = (*bp)[:0]
		}
		if batch != nil {
			putQueue(batch)
		}
		if n > 0 {
			h.metrics.IncrementMessagesSent(n)
		}
		if err != nil {
			h.metrics.IncrementErrors("write")
			// The reader sees the closed socket and tears the client down.
			_ = c.conn.Close()
			c.mu.Lock()
			c.closed = true
			if c.closedAt.IsZero() {
				c.closedAt = time.Now()
			}
			c.closeFrame = nil
			c.mu.Unlock()
			continue
		}
		if closeFrame != nil {
			// Give the peer a moment to answer our close frame; the read pump
			// then sees its close or a timeout and tears the client down.
			// Under c.mu, so the reader cannot extend it afterwards.
			c.mu.Lock()
			_ = c.conn.SetReadDeadline(time.Now().Add(closeGrace))
			c.mu.Unlock()
		}
		if h.cfg.WriteLinger > 0 && n > 1 {
			c.mu.Lock()
			c.sq.written() // free the space before lingering
			c.mu.Unlock()
			time.Sleep(h.cfg.WriteLinger)
		}
	}
}

// stopWritingLocked marks the pump stopped and wakes whoever waits for it;
// after data frames (not pings or pongs alone) the client's idleness starts
// over, for the drain's idle reaper.
func (c *Client) stopWritingLocked(wroteData bool) {
	c.writing = false
	if wroteData {
		c.idleSince = time.Now().UnixNano()
	}
	if c.writerDone != nil {
		close(c.writerDone)
		c.writerDone = nil
	}
}

// releaseQueueLocked drops what is pending without reporting it (the
// connection is ending) and wakes those waiting for space.
func (c *Client) releaseQueueLocked() {
	if q := c.sq.drop(); q != nil {
		putQueue(q)
	}
	c.pendingPing, c.pendingPong = nil, nil
}

// writeFrames encodes frames into *buf, flushing when it grows large, and
// returns the number of messages written.
func (c *Client) writeFrames(frames []*frame, buf *[]byte) (int, error) {
	h := c.hub
	n := 0
	for i := 0; i < len(frames); i++ {
		f := frames[i]
		if h.cfg.CoalesceWrites && f.typ == TextMessage {
			j := i + 1
			size := len(f.data)
			for j < len(frames) && frames[j].typ == TextMessage && size+1+len(frames[j].data) <= maxBatchBytes {
				size += 1 + len(frames[j].data)
				j++
			}
			if j > i+1 {
				*buf = appendHeader(*buf, byte(TextMessage), size)
				for k := i; k < j; k++ {
					if k > i {
						*buf = append(*buf, '\n')
					}
					*buf = append(*buf, frames[k].data...)
				}
				n += j - i
				i = j - 1
				if len(*buf) >= maxBatchBytes {
					if err := c.flush(*buf, nil); err != nil {
						return n, err
					}
					*buf = (*buf)[:0]
				}
				continue
			}
		}
		if c.cc != nil {
			// gorilla compresses; its write lands in buf through the
			// capture connection.
			pm, err := f.prepared()
			if err == nil {
				c.cc.setCapture(buf)
				err = c.ws.WritePreparedMessage(pm)
				c.cc.setCapture(nil)
			}
			if err != nil {
				return n, err
			}
			n++
			if len(*buf) >= maxBatchBytes {
				if err := c.flush(*buf, nil); err != nil {
					return n, err
				}
				*buf = (*buf)[:0]
			}
			continue
		}
		*buf = appendHeader(*buf, byte(f.typ), len(f.data))
		if len(f.data) > directWriteSize {
			if err := c.flush(*buf, f.data); err != nil {
				return n, err
			}
			*buf = (*buf)[:0]
		} else {
			*buf = append(*buf, f.data...)
		}
		n++
		if len(*buf) >= maxBatchBytes {
			if err := c.flush(*buf, nil); err != nil {
				return n, err
			}
			*buf = (*buf)[:0]
		}
	}
	return n, nil
}

// flush writes b (and extra, with writev) in one call under the write deadline.
// The bytes written, even by a failed write, are counted (countSent).
//
// Moving a deadline costs a timer update, so it is moved only once at
// least a quarter of WriteWait went by: a write always has at least three
// quarters of WriteWait.
func (c *Client) flush(b, extra []byte) error {
	ww := c.hub.cfg.WriteWait
	if now := time.Now(); deadlineDue(c.writeDeadline, now, ww) {
		c.writeDeadline = now.Add(ww)
		if err := c.conn.SetWriteDeadline(c.writeDeadline); err != nil {
			return err
		}
	}
	if extra == nil {
		n, err := c.conn.Write(b)
		c.countSent(n)
		return err
	}
	bufs := net.Buffers{b, extra}
	n, err := bufs.WriteTo(c.conn)
	c.countSent(int(n))
	return err
}

// countSent reports n bytes written to the socket to the hub's
// TrafficMetricsCollector, if it has one: one nil check per write.
func (c *Client) countSent(n int) {
	if tm := c.hub.trafficMetrics; tm != nil && n > 0 {
		tm.AddBytesSent(n)
	}
}

// deadlineDue reports whether a deadline last set to deadline should move
// to now+d: once a quarter of d went by, so that every read or write still
// has at least three quarters of d.
func deadlineDue(deadline, now time.Time, d time.Duration) bool {
	return deadline.Sub(now) < d-d/4
}

// waitWriter blocks until no write pump runs for c.
func (c *Client) waitWriter() {
	c.mu.Lock()
	if !c.writing {
		c.mu.Unlock()
		return
	}
	if c.writerDone == nil {
		c.writerDone = make(chan struct{})
	}
	ch := c.writerDone
	c.mu.Unlock()
	<-ch
}

// appendHeader appends an unmasked server frame header (FIN set).
func appendHeader(b []byte, opcode byte, n int) []byte {
	b = append(b, 0x80|opcode)
	switch {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return b
}

// appendControl appends a control frame; payload is cut to 125 bytes.
func appendControl(b []byte, opcode byte, payload []byte) []byte {
	if len(payload) > 125 {
		payload = payload[:125]
	}
	b = appendHeader(b, opcode, len(payload))
	return append(b, payload...)
}

// sendableCloseCode reports whether code may appear in a close frame
// (RFC 6455 section 7.4).
func sendableCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// appendClose appends a close frame with code and reason (reason cut to fit,
// on a UTF-8 boundary).
func appendClose(b []byte, code int, reason string) []byte {
	if code == websocket.CloseNoStatusReceived {
		return appendHeader(b, websocket.CloseMessage, 0)
	}
	if len(reason) > 123 {
		reason = reason[:123]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	payload := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(payload, uint16(code))
	payload = append(payload, reason...)
	return appendControl(b, websocket.CloseMessage, payload)
}
