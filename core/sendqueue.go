package core

import (
	"sync"
	"time"
)

// frameQueue is a slice of frames; pooled so that an idle client holds none
// and a busy one allocates none per message.
type frameQueue struct{ s []*frame }

var queuePool = sync.Pool{New: func() any { return &frameQueue{s: make([]*frame, 0, 16)} }}

// maxPooledQueue bounds the capacity of a queue returned to the pool, so one
// burst does not pin a large array.
const maxPooledQueue = 1024

// getQueue takes from a pool whose New always succeeds.
func getQueue() *frameQueue {
	q, _ := queuePool.Get().(*frameQueue)
	return q
}

func putQueue(q *frameQueue) {
	clear(q.s)
	q.s = q.s[:0]
	if cap(q.s) <= maxPooledQueue {
		queuePool.Put(q)
	}
}

// queueLimits are a hub's bounds and policy for every client's send queue,
// fixed when the hub is built.
type queueLimits struct {
	maxN     int   // SendChannelSize: frames queued, the batch being written included
	maxBytes int64 // MaxQueuedBytes: their payload bytes
	policy   DropPolicy
	// A batch holds at most half the bounds (or one larger frame), so that
	// senders find room while it is written and DropOldest always has a
	// pending frame to evict.
	batchN     int
	batchBytes int64
}

func newQueueLimits(cfg *Config, policy DropPolicy) queueLimits {
	return queueLimits{
		maxN: cfg.SendChannelSize, maxBytes: cfg.MaxQueuedBytes, policy: policy,
		batchN: max(1, cfg.SendChannelSize/2), batchBytes: max(1, cfg.MaxQueuedBytes/2),
	}
}

// offerResult is what sendQueue.offer did with a frame.
type offerResult int8

const (
	// offerQueued: the frame is queued (DropOldest may have evicted older
	// ones to make room).
	offerQueued offerResult = iota
	// offerDropped: the queue was at its bounds and the policy is
	// DropNewest; the frame was not queued.
	offerDropped
	// offerSlow: the queue was at its bounds and the policy is
	// DisconnectSlow; the frame was not queued and the caller closes the
	// client.
	offerSlow
)

// sendQueue is everything one client has to write, and the state of the
// goroutine that writes it (the write pump):
//
//   - data frames, those pending and the batch being written. Both count
//     towards the client's bounds, so what a client holds stays bounded
//     while its pump writes too. When they are reached, the hub's
//     DropPolicy decides (offer);
//   - the control frames owed: a ping, the pong for the peer's latest
//     ping, and the close frame, which goes out after every pending data
//     frame;
//   - whether a pump runs, and the channels that wake those waiting for
//     space or for the pump to stop.
//
// The zero value is an empty queue without a pump. It is guarded by the
// client's mu; it never blocks and never calls out.
type sendQueue struct {
	q           *frameQueue // pending frames are q.s[head:]; nil when none
	head        int
	pendBytes   int64
	flightN     int   // frames of the batch being written
	flightBytes int64 // and their payload bytes

	writing    bool   // a write pump runs
	ping       bool   // a ping is owed
	closeSent  bool   // the close frame was handed to the pump
	pong       []byte // the pong owed for the peer's latest ping (an encoded frame)
	closeFrame []byte // the close frame waiting for the pump (encoded)
	idleSince  int64  // unix nanos when the pump last stopped after data frames
	// direct lets the next pump start write at once in the sender's
	// goroutine instead (writeDirect): set by the read pump while it
	// handles a message, used once.
	direct bool

	// spaceCh is closed, if someone waits, when a written batch freed its
	// space, the pending frames were dropped, or the client began closing.
	spaceCh chan struct{}
	// stopped is closed, if someone waits, when the pump stops.
	stopped chan struct{}
}

// pending returns the number of frames not yet taken by the write pump.
func (s *sendQueue) pending() int {
	if s.q == nil {
		return 0
	}
	return len(s.q.s) - s.head
}

// count returns the number of frames not yet written.
func (s *sendQueue) count() int { return s.pending() + s.flightN }

// bytes returns the payload bytes of the frames not yet written.
func (s *sendQueue) bytes() int64 { return s.pendBytes + s.flightBytes }

// fits reports whether one more frame is admitted: while fewer than maxN
// frames and fewer than maxBytes bytes wait, so the bytes pass maxBytes by
// at most one message.
func (s *sendQueue) fits(l *queueLimits) bool {
	return s.count() < l.maxN && s.bytes() < l.maxBytes
}

// push appends f, whatever the bounds, and reports whether the caller
// must start a write pump.
func (s *sendQueue) push(f *frame) bool {
	if s.q == nil {
		s.q = getQueue()
	} else if s.head > 0 && s.head >= len(s.q.s)/2 {
		// Evictions (popOldest) moved the head: reuse the front of the
		// array instead of growing it while a long write holds the pump.
		n := copy(s.q.s, s.q.s[s.head:])
		clear(s.q.s[n:])
		s.q.s, s.head = s.q.s[:n], 0
	}
	s.q.s = append(s.q.s, f)
	s.pendBytes += int64(len(f.data))
	return s.wake()
}

// offer queues f under the bounds of l and its policy. Frames DropOldest
// evicts are appended to evicted, which is returned; the caller reports
// them, and f itself when it was not queued. start says whether the
// caller must start a write pump.
func (s *sendQueue) offer(f *frame, l *queueLimits, evicted []*frame) (res offerResult, _ []*frame, start bool) {
	if s.fits(l) {
		return offerQueued, evicted, s.push(f)
	}
	switch l.policy {
	case DropOldest:
		// Evict until f fits; when the batch being written fills the
		// bounds alone (SendChannelSize 1, or one message over
		// MaxQueuedBytes), f waits beyond them in place of every older
		// pending message: the newest is never the one lost.
		for !s.fits(l) && s.pending() > 0 {
			evicted = append(evicted, s.popOldest())
		}
		return offerQueued, evicted, s.push(f)
	case DisconnectSlow:
		return offerSlow, evicted, false
	default:
		return offerDropped, evicted, false
	}
}

// popOldest removes the oldest pending frame; there must be one.
func (s *sendQueue) popOldest() *frame {
	f := s.q.s[s.head]
	s.q.s[s.head] = nil
	s.head++
	s.pendBytes -= int64(len(f.data))
	return f
}

// wake marks the write pump running and reports whether it was not, in
// which case the caller starts it.
func (s *sendQueue) wake() bool {
	start := !s.writing
	s.writing = true
	return start
}

// setPing owes the peer a ping; an owed one not yet written is enough.
func (s *sendQueue) setPing() bool {
	s.ping = true
	return s.wake()
}

// setPong owes the peer pong (an encoded frame). It replaces a pong not yet
// written: RFC 6455 lets a pong answer only the latest ping, and a peer
// that pings without reading must not grow a backlog.
func (s *sendQueue) setPong(pong []byte) bool {
	s.pong = pong
	return s.wake()
}

// setClose queues the close frame (encoded), written after every pending
// data frame, and wakes those waiting for space: they see the close.
func (s *sendQueue) setClose(frame []byte) bool {
	s.closeFrame = frame
	s.signal()
	return s.wake()
}

// batch is what the write pump writes in one round.
type batch struct {
	q          *frameQueue // holds frames; returned to the pool once written
	frames     []*frame
	ping       bool
	pong       []byte
	closeFrame []byte // the close frame, once every data frame is out
}

func (b *batch) empty() bool {
	return len(b.frames) == 0 && !b.ping && b.pong == nil && b.closeFrame == nil
}

// next records that the previous batch is out (or failed) and takes the
// next one: the oldest pending frames up to l's batch bounds (or one frame
// larger than them), the control frames owed, and the close frame when no
// data frame is left before it.
func (s *sendQueue) next(l *queueLimits) batch {
	s.written()
	var b batch
	b.q, b.frames = s.take(l.batchN, l.batchBytes)
	b.ping, b.pong = s.ping, s.pong
	s.ping, s.pong = false, nil
	if s.pending() == 0 && s.closeFrame != nil {
		b.closeFrame = s.closeFrame
		s.closeFrame = nil
		s.closeSent = true
	}
	return b
}

// take moves the oldest pending frames, up to maxN frames and maxBytes bytes
// (or one frame larger than that), into the batch in flight. It returns them, and the queue
// that holds them, which the caller returns to the pool once written.
func (s *sendQueue) take(maxN int, maxBytes int64) (*frameQueue, []*frame) {
	n := s.pending()
	if n == 0 {
		return nil, nil
	}
	pend := s.q.s[s.head:]
	k, size := 0, int64(0)
	for k < n && k < maxN {
		next := size + int64(len(pend[k].data))
		if k > 0 && next > maxBytes {
			break
		}
		size = next
		k++
	}
	batch := s.q
	if k == n {
		s.q, s.head = nil, 0
	} else {
		rest := getQueue()
		rest.s = append(rest.s, pend[k:]...)
		clear(pend[k:])
		batch.s = batch.s[:s.head+k]
		s.q, s.head = rest, 0
	}
	s.pendBytes -= size
	s.flightN, s.flightBytes = k, size
	return batch, pend[:k]
}

// written records that the batch in flight is out (or failed) and wakes
// those waiting for space.
func (s *sendQueue) written() {
	if s.flightN == 0 {
		return
	}
	s.flightN, s.flightBytes = 0, 0
	s.signal()
}

// drop removes every pending frame and returns their queue (nil if none);
// the caller reports them and returns the queue to the pool. The batch in
// flight stays.
func (s *sendQueue) drop() *frameQueue {
	q := s.q
	if q != nil && s.head > 0 {
		n := copy(q.s, q.s[s.head:])
		clear(q.s[n:])
		q.s = q.s[:n]
	}
	s.q, s.head, s.pendBytes = nil, 0, 0
	s.signal()
	return q
}

// release drops what is pending without reporting it (the connection is
// ending): data frames and owed pings and pongs.
func (s *sendQueue) release() {
	if q := s.drop(); q != nil {
		putQueue(q)
	}
	s.ping, s.pong = false, nil
}

// stop marks the pump stopped and wakes whoever waits for it; after data
// frames (not pings or pongs alone) the client's idleness starts over, for
// the drain's idle reaper.
func (s *sendQueue) stop(wroteData bool) {
	var now int64
	if wroteData {
		now = time.Now().UnixNano()
	}
	s.stopAt(wroteData, now)
}

// stopAt is stop with the time (unix nanos) when data was last written.
func (s *sendQueue) stopAt(wroteData bool, now int64) {
	s.writing = false
	if wroteData {
		s.idleSince = now
	}
	if s.stopped != nil {
		close(s.stopped)
		s.stopped = nil
	}
}

// idle reports whether no pump runs and none has written data since
// before (unix nanos). A queue is never non-empty without a pump.
func (s *sendQueue) idle(before int64) bool { return !s.writing && s.idleSince <= before }

// wait returns a channel closed when space may have freed.
func (s *sendQueue) wait() <-chan struct{} {
	if s.spaceCh == nil {
		s.spaceCh = make(chan struct{})
	}
	return s.spaceCh
}

// waitStopped returns a channel closed when the pump stops, or nil when
// none runs.
func (s *sendQueue) waitStopped() <-chan struct{} {
	if !s.writing {
		return nil
	}
	if s.stopped == nil {
		s.stopped = make(chan struct{})
	}
	return s.stopped
}

func (s *sendQueue) signal() {
	if s.spaceCh != nil {
		close(s.spaceCh)
		s.spaceCh = nil
	}
}
