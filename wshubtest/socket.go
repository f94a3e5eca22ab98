package wshubtest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wshub/wshub/core"
)

// Socket is a WebSocket client connected by one of HubNode's Dial
// methods. A goroutine of its own reads the connection until it ends and
// records every message (text or binary, as a string); it stops when the
// connection ends, at the latest when the test's cleanup closes it. The
// methods are safe for concurrent use; the test may write to Conn (one
// writer at a time, as gorilla requires) but must not read from it.
type Socket struct {
	// Conn is the client's end of the connection.
	Conn *websocket.Conn
	// Client is the hub's end of the connection.
	Client *core.Client

	mu      sync.Mutex
	msgs    []string
	changed chan struct{} // closed and replaced on every message
	done    chan struct{} // closed when the reads have ended
	err     error         // what ended the reads, set before done closes
}

func newSocket(conn *websocket.Conn) *Socket {
	s := &Socket{Conn: conn, done: make(chan struct{}), changed: make(chan struct{})}
	go s.read()
	return s
}

// read records messages until the connection ends.
func (s *Socket) read() {
	defer close(s.done)
	for {
		_, data, err := s.Conn.ReadMessage()
		if err != nil {
			s.err = err
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, string(data))
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

// close closes the connection and waits for the reading goroutine.
func (s *Socket) close() {
	_ = s.Conn.Close()
	<-s.done
}

// Ended returns what ended the socket's reads (a *websocket.CloseError
// when the server closed it), or nil while it is open.
func (s *Socket) Ended() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// ReadUntilClose waits up to timeout for the connection to end and
// returns the code and reason of the close frame the server sent.
// Messages that arrive before it are recorded as usual (see Messages).
// A connection that ended without a close frame returns
// websocket.CloseAbnormalClosure (1006), as gorilla reports it. t fails,
// and the test stops, when nothing ended the connection within timeout or
// it ended otherwise (the test closed it itself).
func (s *Socket) ReadUntilClose(t testing.TB, timeout time.Duration) (code int, reason string) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		t.Fatalf("wshubtest: no close frame within %v (%d messages received)", timeout, len(s.Messages()))
	}
	var ce *websocket.CloseError
	if !errors.As(s.err, &ce) {
		t.Fatalf("wshubtest: the connection ended without a close frame: %v", s.err)
	}
	return ce.Code, ce.Text
}

// Has reports whether the socket received msg.
func (s *Socket) Has(msg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.msgs, msg)
}

// Await waits until the socket has received msg, or d has passed or the
// connection ended; it reports whether msg arrived. It wakes on each
// message, so it returns as soon as msg is read.
func (s *Socket) Await(msg string, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ch := s.changed
		found := slices.Contains(s.msgs, msg)
		s.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-s.done:
			return s.Has(msg)
		}
	}
}

// Messages returns what the socket received so far, in order.
func (s *Socket) Messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// HasPrefix reports whether the socket received a message starting with p.
func (s *Socket) HasPrefix(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.msgs, func(m string) bool { return strings.HasPrefix(m, p) })
}
