package core

import (
	"context"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

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
func (c *Client) fitsLocked() bool { return c.sq.fits(&c.hub.qlim) }

// enqueue queues f without blocking, applying the drop policy when the
// queue is at its bounds.
func (c *Client) enqueue(f *frame) error {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return ErrConnectionClosed
	}
	if c.sq.fits(&c.hub.qlim) { // the common case, without offer's policy
		start := c.sq.push(f)
		if start && c.sq.direct {
			c.writeDirect(f) // releases c.mu
			return nil
		}
		c.mu.Unlock()
		if start {
			go c.writePump()
		}
		return nil
	}
	var buf [4]*frame
	res, evicted, start := c.sq.offer(f, &c.hub.qlim, buf[:0])
	switch res {
	case offerSlow:
		gone, startSlow := c.disconnectSlowLocked() // the client is open: checked above
		c.mu.Unlock()
		if startSlow {
			go c.writePump()
		}
		c.reportSlow(gone)
		c.hub.dropped(c, f.data)
		return ErrSendBufferFull
	case offerDropped:
		c.mu.Unlock()
		c.hub.dropped(c, f.data)
		return ErrSendBufferFull
	}
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
	for _, e := range evicted {
		c.hub.dropped(c, e.data)
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
	start := c.sq.push(f)
	if start && c.sq.direct {
		c.writeDirect(f) // releases c.mu
		return nil
	}
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
	return nil
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
	gone := c.sq.drop()
	return gone, c.sq.setClose(appendClose(nil, websocket.CloseTryAgainLater, slowClientReason))
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
			start := c.sq.push(f)
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

// queuePing owes the peer a ping, unless the connection is ending.
func (c *Client) queuePing() {
	c.mu.Lock()
	if c.closed || c.sq.closeSent {
		c.mu.Unlock()
		return
	}
	start := c.sq.setPing()
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
}

// queuePong owes the peer pong (an encoded frame), unless the connection
// is ending.
func (c *Client) queuePong(pong []byte) {
	c.mu.Lock()
	if c.closed || c.sq.closeSent {
		c.mu.Unlock()
		return
	}
	start := c.sq.setPong(pong)
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
	start := c.sq.setClose(appendClose(nil, code, reason))
	c.mu.Unlock()
	if start {
		go c.writePump()
	}
	return true
}

// pingFrame is the ping the hub sends: no payload.
var pingFrame = appendControl(nil, websocket.PingMessage, nil)

// writePump writes everything queued, as separate frames in as few syscalls
// as possible, and exits when the queue is empty. Only the write pump writes
// data to the socket.
func (c *Client) writePump() { c.pumpFrom(false) }

// pumpFrom is the write pump's loop; wroteData tells whether the goroutine
// wrote a data message already (what a direct write left). A ping or pong
// alone does not end the client's idleness.
func (c *Client) pumpFrom(wroteData bool) {
	bp := getBuf()
	defer putBuf(bp)
	h := c.hub
	for {
		c.mu.Lock()
		if c.closed && c.sq.closeFrame == nil {
			c.sq.written()
			c.sq.release()
			c.sq.stop(wroteData)
			c.mu.Unlock()
			return
		}
		b := c.sq.next(&h.qlim)
		if b.empty() {
			c.sq.stop(wroteData)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		wroteData = wroteData || len(b.frames) > 0

		*bp = (*bp)[:0]
		if b.ping {
			*bp = append(*bp, pingFrame...)
		}
		*bp = append(*bp, b.pong...)
		n, err := c.writeFrames(b.frames, bp)
		if err == nil && b.closeFrame != nil {
			*bp = append(*bp, b.closeFrame...)
		}
		if err == nil && len(*bp) > 0 {
			err = c.flush(*bp, nil)
			*bp = (*bp)[:0]
		}
		if b.q != nil {
			putQueue(b.q)
		}
		if n > 0 {
			h.metrics.IncrementMessagesSent(n)
		}
		if err != nil {
			c.writeFailed()
			continue
		}
		if b.closeFrame != nil {
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
		} else if n > 1 {
			c.settle(n)
		}
	}
}

// settleRounds bounds how many times a pump yields after a batch of more
// than one frame before it writes again.
const settleRounds = 4

// settle is the adaptive part of batching. A pump that just wrote n > 1
// frames found a backlog: producers are ahead of it. Rather than write the
// next frame or two at once, it yields the processor up to settleRounds
// times, stopping as soon as n frames are queued again. A yield costs about
// one pass of the scheduler's run queue: nothing on an idle node, where the
// pump is back at once and latency is unchanged, and longer the more
// goroutines are runnable, so the pause grows with the load and the next
// write carries more frames per syscall. No timer is involved and there is
// nothing to tune; Config.WriteLinger replaces it with a fixed sleep.
func (c *Client) settle(n int) {
	c.mu.Lock()
	c.sq.written() // free the space before yielding
	c.mu.Unlock()
	for range settleRounds {
		runtime.Gosched()
		c.mu.Lock()
		p := c.sq.pending()
		c.mu.Unlock()
		if p >= n {
			return
		}
	}
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

// writeFailed ends the client after a failed write: the read pump sees the
// closed socket and tears the client down.
func (c *Client) writeFailed() {
	c.hub.metrics.IncrementErrors("write")
	_ = c.conn.Close()
	c.mu.Lock()
	c.closed = true
	if c.closedAt.IsZero() {
		c.closedAt = time.Now()
	}
	c.sq.closeFrame = nil
	c.mu.Unlock()
}

// flush writes b (and extra, with writev) under the write deadline. The
// bytes written, even by a failed write, are counted (countSent).
//
// Moving a deadline costs a timer update on the socket. Most writes find
// room in the socket and need none: b is first offered with one
// non-blocking write (tryWrite), and only what the socket did not take
// waits, under the deadline. Without that first try, the deadlines of all
// a broadcast's recipients fell due together and one broadcast in a few
// paid a timer update per recipient, which showed in the tail latency.
// The deadline itself is moved only once at least a quarter of WriteWait
// went by: a blocked write always has at least three quarters of it.
func (c *Client) flush(b, extra []byte) error {
	if extra == nil && c.raw != nil {
		n, err := c.tryWrite(b)
		c.countSent(n)
		if err != nil || n == len(b) {
			return err
		}
		b = b[n:]
	}
	if err := c.armWriteDeadline(time.Now()); err != nil {
		return err
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

// armWriteDeadline moves the write deadline to now+WriteWait when it is due
// (deadlineDue). Only the writer of the queue calls it.
func (c *Client) armWriteDeadline(now time.Time) error {
	ww := c.hub.cfg.WriteWait
	if !deadlineDue(c.writeDeadline, now.UnixNano(), ww) {
		return nil
	}
	d := now.Add(ww)
	c.writeDeadline = d.UnixNano()
	return c.conn.SetWriteDeadline(d)
}

// countSent reports n bytes written to the socket to the hub's
// TrafficMetricsCollector, if it has one: one nil check per write.
func (c *Client) countSent(n int) {
	if tm := c.hub.trafficMetrics; tm != nil && n > 0 {
		tm.AddBytesSent(n)
	}
}

// deadlineDue reports whether a deadline last set to deadline should move
// to now+d (both in unix nanoseconds; zero is no deadline): once a quarter
// of d went by, so that every read or write still has at least three
// quarters of d.
func deadlineDue(deadline, now int64, d time.Duration) bool {
	return deadline == 0 || time.Duration(deadline-now) < d-d/4
}

// waitWriter blocks until no write pump runs for c.
func (c *Client) waitWriter() {
	c.mu.Lock()
	ch := c.sq.waitStopped()
	c.mu.Unlock()
	if ch != nil {
		<-ch
	}
}
