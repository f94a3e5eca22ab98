package core

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Bus accounting: a sending hub numbers what it publishes (numbering), a
// receiving hub follows each sender's streams (streamState) and counts the
// gaps as lost. The streams are the ones a broker keeps in order for one
// publisher and a subscriber takes whole: broadcasts (with user and client
// messages, which travel on the same channel), presence, and each room.

// roomCounterIdle is how often the publisher drops the counters of rooms it
// has not published to since the previous sweep, which bounds its memory
// by the rooms in use. A room used again gets a new counter in a higher
// epoch; receivers see the epoch change and lose nothing.
const roomCounterIdle = time.Minute

// originIdle is how long a receiving hub remembers a sender's broadcast and
// presence streams after its last message. Node IDs change with every
// deploy; this forgets the departed ones.
const originIdle = 10 * time.Minute

// maxSeqJump bounds a forward jump that still counts as lost messages. A
// larger jump is no outage a broker could produce (it would take days at
// millions of messages a second); it is taken as a restart of the stream
// rather than counted, so a corrupt number cannot poison the counters.
const maxSeqJump = 1 << 40

// seqWindow is how many numbers below the newest a stream remembers, to
// tell a duplicate from a message that arrives after a later one.
const seqWindow = 64

// Reasons under which the hub counts messages dropped before they reached
// the broker (DeliveryMetricsCollector.IncrementAdapterDroppedReason). They
// take no sequence number.
const (
	// DropQueueFull: the publish queue was full (the broker is slower than
	// the node's sends).
	DropQueueFull = "queue_full"
	// DropLinkDown: the adapter reported its broker link down
	// (LinkStateAdapter).
	DropLinkDown = "link_down"
	// DropStopped: the hub was stopping and the last flush ran out of time.
	DropStopped = "stopped"
	// DropStoreFailed: the history store refused or failed to store a
	// message of a history room, so no node delivers it.
	DropStoreFailed = "store_failed"
	// DropStale: the message waited in the publish queue longer than the
	// bound of WithMaxPublishDelay (the broker stalled or the link was
	// failing).
	DropStale = "stale"
)

// counter numbers one stream of the sending hub.
type counter struct {
	epoch, n uint64
	round    uint32 // sweep round in which it was last used
}

// numbering holds the sending hub's counters. It is used by the publisher
// goroutine, then by the stop path once that goroutine has returned, never
// by both at once.
type numbering struct {
	instance      uint64
	all, presence counter
	rooms         map[string]*counter
	epochs        uint64 // last epoch handed to a room counter
	round         uint32
	nextSweep     time.Time
}

func newNumbering() *numbering {
	q := &numbering{rooms: make(map[string]*counter), all: counter{epoch: 1}, presence: counter{epoch: 1}}
	for q.instance == 0 {
		q.instance = rand.Uint64()
	}
	return q
}

// number gives m the next number of its stream.
func (q *numbering) number(m *AdapterMessage) {
	var c *counter
	switch m.Type {
	case AdapterRoom, AdapterRoomExcept:
		c = q.rooms[m.Room]
		if c == nil {
			q.epochs++
			c = &counter{epoch: q.epochs}
			q.rooms[m.Room] = c
		}
		c.round = q.round
	case AdapterPresence:
		c = &q.presence
	default:
		c = &q.all
	}
	c.n++
	m.Seq = Sequence{Instance: q.instance, Epoch: c.epoch, Number: c.n}
}

// sweep drops the room counters not used since the previous sweep, at most
// once per roomCounterIdle.
func (q *numbering) sweep(now time.Time) {
	if now.Before(q.nextSweep) {
		return
	}
	q.nextSweep = now.Add(roomCounterIdle)
	for room, c := range q.rooms {
		if c.round != q.round {
			delete(q.rooms, room)
		}
	}
	q.round++
}

// numbered reports whether q can be followed: a hub of this version never
// sends Instance 0, so a message with it is treated as unnumbered.
func (q Sequence) numbered() bool { return q.Number != 0 && q.Instance != 0 }

// seqCount is what following a stream found in one message.
type seqCount struct {
	lost      uint64 // numbers skipped: messages that never arrived (so far)
	reordered uint64 // a message that arrived after a later one of its stream
	duplicate uint64 // a number that arrived before
}

// streamState is what a receiving hub knows of one sender's stream.
type streamState struct {
	instance, epoch, last uint64
	window                uint64 // bit i set: number last-i arrived
	seen                  time.Time
}

// follow records q and returns what it reveals. The first message of a
// stream sets where it starts: what was sent before the node received the
// stream is not counted as lost.
func (s *streamState) follow(q Sequence) seqCount {
	var r seqCount
	switch {
	case s.instance == 0:
		s.restart(q)
	case q.Instance != s.instance || q.Epoch > s.epoch:
		// A restarted sender, or a room counter started again: its stream
		// begins at 1, so what came before q in it was lost.
		if q.Number-1 < maxSeqJump {
			r.lost = q.Number - 1
		}
		s.restart(q)
	case q.Epoch < s.epoch:
		r.reordered = 1 // from a counter the sender has since replaced
	case q.Number > s.last:
		gap := q.Number - s.last
		if gap > maxSeqJump {
			s.restart(q)
			break
		}
		r.lost = gap - 1
		if gap >= seqWindow {
			s.window = 1
		} else {
			s.window = s.window<<gap | 1
		}
		s.last = q.Number
	default:
		back := s.last - q.Number
		switch {
		case back >= seqWindow:
			r.reordered = 1
		case s.window&(1<<back) != 0:
			r.duplicate = 1
		default:
			s.window |= 1 << back
			r.reordered = 1
		}
	}
	return r
}

func (s *streamState) restart(q Sequence) {
	s.instance, s.epoch, s.last, s.window = q.Instance, q.Epoch, q.Number, 1
}

// originKey names a sender's broadcast or presence stream.
type originKey struct {
	node     string
	presence bool
}

// originStreams follows the broadcast and presence streams of every sender.
type originStreams struct {
	mu        sync.Mutex
	streams   map[originKey]*streamState
	nextSweep time.Time
}

func (o *originStreams) follow(node string, presence bool, q Sequence, now time.Time) seqCount {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.streams == nil {
		o.streams = make(map[originKey]*streamState)
	}
	if !now.Before(o.nextSweep) {
		o.nextSweep = now.Add(originIdle / 10)
		for k, s := range o.streams {
			if now.Sub(s.seen) > originIdle {
				delete(o.streams, k)
			}
		}
	}
	k := originKey{node: node, presence: presence}
	s := o.streams[k]
	if s == nil {
		s = &streamState{}
		o.streams[k] = s
	}
	s.seen = now
	return s.follow(q)
}

// forget drops what is known of node's streams (it said goodbye), so its
// next run starts afresh.
func (o *originStreams) forget(node string) {
	o.mu.Lock()
	delete(o.streams, originKey{node: node})
	delete(o.streams, originKey{node: node, presence: true})
	o.mu.Unlock()
}

// roomStreams follows the senders' streams of one local room. It lives in
// the Room, so it starts empty when the room comes into existence here and
// goes away with it: the node follows a room's stream only while it
// receives it.
type roomStreams struct {
	mu      sync.Mutex
	streams map[string]*streamState // by sender node ID
}

func (rs *roomStreams) follow(node string, q Sequence) seqCount {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.streams == nil {
		rs.streams = make(map[string]*streamState)
	}
	s := rs.streams[node]
	if s == nil {
		s = &streamState{}
		rs.streams[node] = s
	}
	return s.follow(q)
}

// countSeq reports what following a stream found to the metrics.
func (h *Hub) countSeq(r seqCount) {
	if r == (seqCount{}) || h.deliveryMetrics == nil {
		return
	}
	if r.lost > 0 {
		h.deliveryMetrics.IncrementAdapterLost(int(min(r.lost, 1<<62)))
	}
	if r.reordered > 0 {
		h.deliveryMetrics.IncrementAdapterReordered(int(r.reordered))
	}
	if r.duplicate > 0 {
		h.deliveryMetrics.IncrementAdapterDuplicates(int(r.duplicate))
	}
}
