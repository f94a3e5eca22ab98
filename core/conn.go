package core

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// captureConn is the net.Conn gorilla writes through. While the write pump
// encodes compressed frames it points capture at its batch buffer, so
// gorilla's per-frame writes land there and leave with the rest of the
// batch in one syscall. Otherwise writes pass straight through.
type captureConn struct {
	net.Conn
	mu      sync.Mutex
	capture *[]byte
	// The first write is gorilla's whole 101 response; deflate records
	// whether it accepted permessage-deflate, which gorilla does not
	// export and the hub's own frame reader must know.
	sawHandshake bool
	deflate      bool
}

// deflateAccepted is the header line gorilla's 101 response carries when it
// negotiated compression.
const deflateAccepted = "\r\nSec-WebSocket-Extensions: permessage-deflate"

func (cc *captureConn) Write(p []byte) (int, error) {
	cc.mu.Lock()
	if !cc.sawHandshake {
		cc.sawHandshake = true
		cc.deflate = bytes.Contains(p, []byte(deflateAccepted))
	}
	if cc.capture != nil {
		*cc.capture = append(*cc.capture, p...)
		cc.mu.Unlock()
		return len(p), nil
	}
	cc.mu.Unlock()
	return cc.Conn.Write(p)
}

// SetWriteDeadline passes gorilla's write deadline to the socket, except
// while capturing: then gorilla writes into the batch buffer, and the
// deadline it sets on every frame (zero, since it keeps none of its own)
// would clear the one the write pump set for writing that batch.
func (cc *captureConn) SetWriteDeadline(t time.Time) error {
	cc.mu.Lock()
	capturing := cc.capture != nil
	cc.mu.Unlock()
	if capturing {
		return nil
	}
	return cc.Conn.SetWriteDeadline(t)
}

func (cc *captureConn) setCapture(buf *[]byte) {
	cc.mu.Lock()
	cc.capture = buf
	cc.mu.Unlock()
}

// hijackWriter hands gorilla a captureConn when it hijacks the connection.
type hijackWriter struct {
	http.ResponseWriter
	cc *captureConn
}

var errNoHijack = errors.New("wshub: response writer cannot be hijacked")

// Hijack hijacks the underlying connection and wraps it for capture.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errNoHijack
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.cc = &captureConn{Conn: nc}
	return w.cc, brw, nil
}

// Unwrap lets http.ResponseController reach the original writer.
func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
