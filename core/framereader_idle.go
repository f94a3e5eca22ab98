package core

import (
	"io"
	"os"
	"sync"
	"syscall"
)

// idleReads lets a frameReader wait for input without holding a buffer.
//
// A read pump spends most of its life blocked in a read, and a buffer
// passed to that read is pinned for as long as the peer stays silent:
// ReadBufferSize bytes per idle connection. Instead, once everything read
// was used, the reader waits through the socket's RawConn: the callback
// takes a buffer from a pool shared by the hub, tries one non-blocking
// read, and on EAGAIN gives the buffer back before the runtime parks the
// goroutine until the socket is readable. That is the same system calls
// Go's own read makes, and a silent connection holds no buffer.
//
// Only sockets that expose a RawConn are read this way (TCP and Unix
// sockets); others, such as TLS connections, keep their buffer.
type idleReads struct {
	raw  syscall.RawConn
	pool *sync.Pool // of *[]byte, all of the reader's size
	bufp *[]byte    // the buffer taken from pool, while the reader has one
	try  func(fd uintptr) bool

	// The outcome of the last try.
	buf []byte
	n   int
	err error
}

// useIdlePool makes fr wait for input without a buffer, reading through
// raw (rawConnOf of fr's source; nil leaves fr as it is); pool holds
// buffers of fr's size. It must be called on the frameReader at its final
// address.
func (fr *frameReader) useIdlePool(raw syscall.RawConn, pool *sync.Pool) {
	if raw == nil {
		return
	}
	ir := &idleReads{raw: raw, pool: pool}
	ir.try = ir.tryRead
	if fr.buf != nil {
		// The buffer newFrameReader made goes to the pool at the first wait.
		b := fr.buf
		ir.bufp = &b
	}
	fr.idle = ir
}

// get takes a buffer from the pool.
func (ir *idleReads) get() []byte {
	ir.bufp, _ = ir.pool.Get().(*[]byte) // the pool holds only *[]byte
	return *ir.bufp
}

// put gives back the buffer get returned.
func (ir *idleReads) put([]byte) {
	if ir.bufp != nil {
		ir.pool.Put(ir.bufp)
		ir.bufp = nil
	}
}

// read waits until the socket has input and reads it into a buffer from
// the pool. It returns that buffer, or nil when nothing was read.
func (ir *idleReads) read() ([]byte, int, error) {
	ir.buf, ir.n, ir.err = nil, 0, nil
	if err := ir.raw.Read(ir.try); err != nil {
		// The socket was closed or its deadline passed: the runtime
		// reports both, as a net.Conn read would.
		ir.put(ir.buf)
		return nil, 0, err
	}
	if ir.n == 0 {
		ir.put(ir.buf)
		return nil, 0, ir.err
	}
	return ir.buf, ir.n, ir.err
}

// tryRead is the RawConn callback: one non-blocking read into a pooled
// buffer. It returns false, having given the buffer back, when the socket
// has nothing yet, so that the runtime waits for input and calls it again.
func (ir *idleReads) tryRead(fd uintptr) bool {
	if ir.buf == nil {
		ir.buf = ir.get()
	}
	for {
		n, err := rawRead(fd, ir.buf)
		switch {
		case err == syscall.EINTR: //nolint:errorlint // a bare errno from the system call
			continue
		case err == syscall.EAGAIN: //nolint:errorlint // a bare errno from the system call
			ir.put(ir.buf)
			ir.buf = nil
			return false
		case err != nil:
			ir.err = os.NewSyscallError("read", err)
			return true
		case n == 0:
			ir.err = io.EOF
			return true
		}
		ir.n = n
		return true
	}
}
