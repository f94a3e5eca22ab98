package core

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// Direct writes: the reply of a handler without a goroutine.
//
// A message handler that answers its client (an echo, a request's reply)
// finds the client's queue empty and would start a write pump: a new
// goroutine, scheduled later, for one frame. Instead, while the read pump
// handles a message, the first frame that starts the client's writer is
// written at once in the sender's goroutine, with one non-blocking system
// call. Whatever the socket does not take at once (it is full, or the
// frame is larger than directWriteSize) goes to a write pump as usual, so
// a send still never blocks. Only the first such frame per message is
// written this way: a handler that sends many frames gets them batched by
// the pump, as before.

// allowDirect lets the next start of c's writer be a direct write, until
// endDirect; the read pump calls it with c.mu held, before it handles a
// message. Compressed connections and sockets without a usable
// descriptor always use the pump.
func (c *Client) allowDirect() {
	c.sq.direct = c.raw != nil && c.cc == nil
}

// endDirect ends what allowDirect allowed, once the message is handled.
func (c *Client) endDirect() {
	c.mu.Lock()
	c.sq.direct = false
	c.mu.Unlock()
}

// writeDirect writes f, the only frame of c's queue, whose writer the
// caller just became (a push that reported start, with sq.direct set).
// It is called with c.mu held and releases it.
func (c *Client) writeDirect(f *frame) {
	c.sq.direct = false // once per message
	if len(f.data) > directWriteSize {
		c.mu.Unlock()
		go c.writePump()
		return
	}
	b := c.sq.next(&c.hub.qlim) // f, now in flight
	c.mu.Unlock()

	bp := getBuf()
	*bp = appendHeader((*bp)[:0], byte(f.typ), len(f.data))
	*bp = append(*bp, f.data...)
	putQueue(b.q)
	n, err := c.tryWrite(*bp)
	c.countSent(n)
	now := time.Now()
	if err == nil && n == len(*bp) {
		putBuf(bp)
		c.hub.metrics.IncrementMessagesSent(1)
		c.mu.Lock()
		c.sq.written()
		if c.sq.pending() == 0 && !c.sq.ping && c.sq.pong == nil && c.sq.closeFrame == nil && !c.closed {
			c.sq.stopAt(true, now.UnixNano())
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		go c.writePump() // what was queued meanwhile
		return
	}
	// The pump writes the rest under the write deadline, and meets any
	// error of the socket again and handles it as its own.
	m := copy(*bp, (*bp)[n:])
	*bp = (*bp)[:m]
	go c.writeRestPump(bp)
}

// writeRestPump is the write pump of a direct write that left rest
// unwritten: it writes rest first.
func (c *Client) writeRestPump(rest *[]byte) { c.pumpFrom(c.writeRest(rest)) }

// writeRest writes what a direct write left, and reports whether it wrote
// the message.
func (c *Client) writeRest(bp *[]byte) bool {
	defer putBuf(bp)
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return false
	}
	if err := c.flush(*bp, nil); err != nil {
		c.writeFailed()
		return false
	}
	c.hub.metrics.IncrementMessagesSent(1)
	return true
}

// tryWrite writes b to the socket with one non-blocking system call and
// returns how much it took; a full socket is not an error. It needs no
// write deadline, since it never waits: a deadline that passed since a
// blocking write armed it only makes it take nothing, and the blocking
// write that follows arms a new one (flush).
func (c *Client) tryWrite(b []byte) (int, error) {
	w, _ := rawWriters.Get().(*rawWriter)
	w.b = b
	err := c.raw.Write(w.try)
	n, werr := w.n, w.err
	w.b, w.n, w.err = nil, 0, nil
	rawWriters.Put(w)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	case err != nil:
		return n, err
	}
	return n, werr
}

// rawWriter is a RawConn write callback and its outcome, pooled so that a
// direct write allocates nothing.
type rawWriter struct {
	b   []byte
	n   int
	err error
	try func(fd uintptr) bool
}

var rawWriters = sync.Pool{New: func() any {
	w := &rawWriter{}
	w.try = w.write
	return w
}}

// write is the callback: one write, never a wait for the socket.
func (w *rawWriter) write(fd uintptr) bool {
	for {
		n, err := rawWrite(fd, w.b)
		switch {
		case err == syscall.EINTR: //nolint:errorlint // a bare errno from the system call
			continue
		case err == syscall.EAGAIN: //nolint:errorlint // a bare errno from the system call
			w.n = 0
		case err != nil:
			w.n, w.err = 0, err
		default:
			w.n = n
		}
		return true
	}
}
