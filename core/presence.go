package core

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// Presence records travel in AdapterMessage.Data of AdapterPresence messages:
//
//	byte     version (1)
//	byte     kind: 1 heartbeat, 2 goodbye
//	uvarint  length, then the sender's instance ID (random per process)
//	uvarint  client count
//	uvarint  room count, then per room: uvarint length, name, uvarint members
const presenceVersion = 1

const (
	presenceHeartbeat = 1
	presenceGoodbye   = 2
)

// maxPresenceRooms bounds the rooms one record may list.
const maxPresenceRooms = 1 << 20

var (
	errPresenceMalformed = errors.New("wshub: malformed presence record")
	errPresenceVersion   = errors.New("wshub: presence record from a newer version")
)

type presenceRecord struct {
	kind     byte
	instance string
	clients  int
	rooms    map[string]int
}

func appendPresence(b []byte, r *presenceRecord) []byte {
	b = append(b, presenceVersion, r.kind)
	b = binary.AppendUvarint(b, uint64(len(r.instance)))
	b = append(b, r.instance...)
	b = binary.AppendUvarint(b, uint64(r.clients))
	b = binary.AppendUvarint(b, uint64(len(r.rooms)))
	for name, n := range r.rooms {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(n))
	}
	return b
}

func decodePresence(b []byte) (presenceRecord, error) {
	var r presenceRecord
	if len(b) < 2 {
		return r, errPresenceMalformed
	}
	if b[0] != presenceVersion {
		if b[0] > presenceVersion {
			return r, errPresenceVersion
		}
		return r, errPresenceMalformed
	}
	r.kind = b[1]
	if r.kind != presenceHeartbeat && r.kind != presenceGoodbye {
		return r, errPresenceMalformed
	}
	rd := byteReader{b: b[2:]}
	r.instance = rd.str()
	clients := rd.uvarint()
	nrooms := rd.uvarint()
	// Each room takes at least two bytes (name length and count), which
	// bounds the map sized below by the input.
	if rd.bad || clients > 1<<40 || nrooms > maxPresenceRooms || nrooms > uint64(len(rd.b)/2) {
		return presenceRecord{}, errPresenceMalformed
	}
	r.clients = int(clients)
	r.rooms = make(map[string]int, nrooms)
	for range nrooms {
		name := rd.str()
		n := rd.uvarint()
		if rd.bad || n > 1<<40 {
			return presenceRecord{}, errPresenceMalformed
		}
		r.rooms[name] = int(n)
	}
	if len(rd.b) != 0 {
		return presenceRecord{}, errPresenceMalformed
	}
	return r, nil
}

// presence tracks the other nodes' counts from their heartbeats.
type presence struct {
	h        *Hub
	instance string

	mu    sync.Mutex
	nodes map[string]*nodeInfo
	// evicted are the nodes this one evicted lately, which are told to
	// write their members again if they turn out to be alive.
	evicted map[string]evictedNode
	// swept are the nodes, not heard at the time, whose connections this
	// node's sweeps removed from member records: whichever instance of
	// them is heard next is told to write its members again.
	swept map[string]time.Time
	// resyncs are the resync requests waiting for a sweep's writes to
	// stop coming (see removed), by node; stopped: run returned, none is
	// started any more.
	resyncs map[string]*time.Timer
	stopped bool
}

type evictedNode struct {
	instance string
	at       time.Time
}

// forgetEvictedAfter bounds how long an evicted node is remembered.
const forgetEvictedAfter = 10 * time.Minute

type nodeInfo struct {
	features map[string]bool // from its hello records
	instance string
	clients  int
	rooms    map[string]int
	lastSeen time.Time
}

func newPresence(h *Hub) *presence {
	return &presence{h: h, instance: newClientID(), nodes: make(map[string]*nodeInfo),
		evicted: make(map[string]evictedNode), swept: make(map[string]time.Time),
		resyncs: make(map[string]*time.Timer)}
}

// run sends a heartbeat every interval and evicts nodes silent for three,
// until the hub stops.
func (p *presence) run(ctx context.Context) {
	defer p.h.bgWG.Done()
	defer p.stopResyncs()
	t := time.NewTicker(p.h.presenceInterval)
	defer t.Stop()
	p.mu.Lock()
	p.reportNodesLocked()
	p.mu.Unlock()
	p.heartbeat()
	p.hello()
	for {
		select {
		case <-t.C:
			p.heartbeat()
			p.hello()
			p.evict(time.Now())
		case <-ctx.Done():
			return
		}
	}
}

func (p *presence) heartbeat() {
	rec := presenceRecord{kind: presenceHeartbeat, instance: p.instance,
		clients: p.h.ClientCount(), rooms: p.h.roomCounts()}
	p.h.publish(AdapterMessage{Type: AdapterPresence, Data: appendPresence(nil, &rec)})
}

// goodbye tells the other nodes to forget this one at once.
func (p *presence) goodbye(ctx context.Context) {
	rec := presenceRecord{kind: presenceGoodbye, instance: p.instance}
	if ls, ok := p.h.adapter.(LinkStateAdapter); ok && !ls.Connected() {
		return // nobody would hear it; the others evict this node by its silence
	}
	msg := []AdapterMessage{{NodeID: p.h.nodeID, Type: AdapterPresence, Data: appendPresence(nil, &rec)}}
	// The publisher goroutine has returned: its numbering is ours now.
	p.h.pub.stamp(msg)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := p.h.adapter.Publish(ctx, msg[0]); err != nil {
		p.h.adapterError(&AdapterError{Op: "publish", Err: err})
	}
}

func (p *presence) evict(now time.Time) {
	limit := 3 * p.h.presenceInterval
	evicted := false
	p.mu.Lock()
	for id, n := range p.nodes {
		if now.Sub(n.lastSeen) > limit {
			// Its streams stay followed: the silence may be this node's
			// own link, and what it missed meanwhile must count as lost.
			delete(p.nodes, id)
			p.evicted[id] = evictedNode{instance: n.instance, at: now}
			evicted = true
			p.h.logger.Info("evicted silent node", "node_id", id)
		}
	}
	if evicted {
		p.reportNodesLocked()
	}
	for id, e := range p.evicted {
		if now.Sub(e.at) > forgetEvictedAfter {
			delete(p.evicted, id)
		}
	}
	for id, at := range p.swept {
		if now.Sub(at) > forgetEvictedAfter {
			delete(p.swept, id)
		}
	}
	p.mu.Unlock()
	if evicted && p.h.members != nil {
		p.h.members.requestSweep() // its members leave
	}
}

func (p *presence) receive(m AdapterMessage) {
	rec, err := decodePresence(m.Data)
	if err != nil {
		op := "decode"
		if errors.Is(err, errPresenceVersion) {
			op = "version"
		}
		p.h.adapterError(&AdapterError{Op: op, Err: err})
		return
	}
	if m.NodeID == p.h.nodeID {
		if rec.instance != p.instance {
			p.h.metrics.IncrementErrors("duplicate_node_id")
			if p.h.limiter.allow() {
				p.h.logger.Error("another node uses this node's ID; give every node a unique ID",
					"node_id", p.h.nodeID)
			}
		}
		return
	}
	p.mu.Lock()
	if rec.kind == presenceGoodbye {
		n := p.nodes[m.NodeID]
		gone := n != nil && n.instance == rec.instance
		if gone {
			delete(p.nodes, m.NodeID)
			p.h.origins.forget(m.NodeID)
			p.reportNodesLocked()
		}
		p.mu.Unlock()
		if gone && p.h.members != nil {
			p.h.members.requestSweep() // the lingers it left are the others' to end
		}
		return
	}
	n := &nodeInfo{instance: rec.instance, clients: rec.clients, rooms: rec.rooms, lastSeen: time.Now()}
	old := p.nodes[m.NodeID]
	if old != nil && old.instance == rec.instance {
		n.features = old.features
	}
	p.nodes[m.NodeID] = n
	if old == nil {
		p.reportNodesLocked()
	}
	// A node this one evicted is back (a link was down, not the node), or
	// one never heard before whose members a sweep took for a dead node's:
	// it must write them again.
	_, swept := p.swept[m.NodeID]
	back := old == nil && (swept || p.evicted[m.NodeID].instance == rec.instance)
	delete(p.evicted, m.NodeID)
	delete(p.swept, m.NodeID)
	p.mu.Unlock()
	if back {
		p.resync(m.NodeID, rec.instance)
	}
}

// resync asks node's instance to write all its member records again.
func (p *presence) resync(node, instance string) {
	if p.h.members != nil {
		p.h.publish(AdapterMessage{Type: AdapterPresence,
			Data: newClusterRecord(kindResync).str(fTo, node).str(fInstance, instance).b})
	}
}

// removed is told by a sweep's write that it removed node's connections
// from a record, node being dead when the sweep decided so. If node is
// alive by now, its heartbeat may have come and gone between that decision
// and the write, and the resync it got may have found nothing to write
// yet: it is asked again once the writes have landed. A sweep writes every
// record of the node's members, so the request waits until no write has
// come for a short while (resyncQuiet): one request then does what one per
// record would, without making the node rewrite its records once per
// record. Otherwise the first heartbeat heard from it asks (see receive).
func (p *presence) removed(node string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.nodes[node] == nil:
		if _, ok := p.evicted[node]; !ok {
			p.swept[node] = time.Now()
		}
	case p.stopped:
	case p.resyncs[node] != nil:
		p.resyncs[node].Reset(p.resyncQuiet())
	default:
		p.resyncs[node] = time.AfterFunc(p.resyncQuiet(), func() {
			p.mu.Lock()
			delete(p.resyncs, node)
			n := p.nodes[node]
			stopped := p.stopped
			p.mu.Unlock()
			if n != nil && !stopped {
				p.resync(node, n.instance)
			}
		})
	}
}

// resyncQuiet is how long removed waits after a sweep's last write before
// it asks a live node to write its members again.
func (p *presence) resyncQuiet() time.Duration {
	return min(p.h.presenceInterval/4, 250*time.Millisecond)
}

// stopResyncs drops the resync requests still waiting when the hub stops.
func (p *presence) stopResyncs() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for node, t := range p.resyncs {
		t.Stop()
		delete(p.resyncs, node)
	}
}

// reportNodesLocked reports the live nodes, this one included, to the
// hub's TrafficMetricsCollector, if it has one; p.mu must be held, so that
// concurrent changes are reported in the order they happened.
func (p *presence) reportNodesLocked() {
	if tm := p.h.trafficMetrics; tm != nil {
		tm.SetClusterNodes(len(p.nodes) + 1)
	}
}

// wasEvicted reports whether this node evicted node lately.
func (p *presence) wasEvicted(node string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.evicted[node]
	return ok
}

// features records what node's instance announced in its hello.
func (p *presence) features(node, instance string, feats [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.nodes[node]
	if n == nil || n.instance != instance {
		return // its heartbeat comes first; a hello without one is stale
	}
	n.features = make(map[string]bool, len(feats))
	for _, f := range feats {
		n.features[string(f)] = true
	}
}

func (p *presence) totals(room string) (clients, members int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.nodes {
		clients += n.clients
		members += n.rooms[room]
	}
	return clients, members
}

// GlobalClientCount returns the clients of the whole cluster: the local
// count plus the latest heartbeat of every live node. Without presence it
// returns ClientCount.
func (h *Hub) GlobalClientCount() int {
	n := h.ClientCount()
	if h.pres != nil {
		c, _ := h.pres.totals("")
		n += c
	}
	return n
}

// GlobalRoomCount returns the members of a room across the cluster, as
// GlobalClientCount does for clients.
func (h *Hub) GlobalRoomCount(room string) int {
	n := h.RoomCount(room)
	if h.pres != nil {
		_, m := h.pres.totals(room)
		n += m
	}
	return n
}
