package core

import "sync"

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

// sendQueue holds one client's outbound data frames: those pending and the
// batch the write pump is writing. Both count towards the client's bounds
// (SendChannelSize frames, MaxQueuedBytes payload bytes), so what a client
// holds is bounded while its pump writes too. Guarded by Client.mu.
type sendQueue struct {
	q           *frameQueue // pending frames are q.s[head:]; nil when none
	head        int
	pendBytes   int64
	flightN     int   // frames of the batch being written
	flightBytes int64 // and their payload bytes
	// spaceCh is closed, if someone waits, when a written batch freed its
	// space or the queue was released.
	spaceCh chan struct{}
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
func (s *sendQueue) fits(maxN int, maxBytes int64) bool {
	return s.count() < maxN && s.bytes() < maxBytes
}

func (s *sendQueue) push(f *frame) {
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
}

// popOldest removes the oldest pending frame; there must be one.
func (s *sendQueue) popOldest() *frame {
	f := s.q.s[s.head]
	s.q.s[s.head] = nil
	s.head++
	s.pendBytes -= int64(len(f.data))
	return f
}

// take moves the oldest pending frames, up to maxN frames and maxBytes bytes
// (or one frame larger than that), into the batch in flight. It returns them, and the queue
// that holds them, which the caller returns to the pool once written. The
// batch is bounded to half the client's bounds by the caller, so that new
// frames find room while it is written (DropOldest always has a pending
// frame to evict).
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

// wait returns a channel closed when space may have freed.
func (s *sendQueue) wait() <-chan struct{} {
	if s.spaceCh == nil {
		s.spaceCh = make(chan struct{})
	}
	return s.spaceCh
}

func (s *sendQueue) signal() {
	if s.spaceCh != nil {
		close(s.spaceCh)
		s.spaceCh = nil
	}
}
