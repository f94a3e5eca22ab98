package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Operations of the control plane, as nodes announce them in their hello
// records. A node that does not announce one is not asked to do it.
const (
	opDisconnectUser = "disconnect_user/1"
	opJoinUser       = "join_user/1"
	opLeaveUser      = "leave_user/1"
	opClients        = "clients/1"
)

var controlOps = []string{opDisconnectUser, opJoinUser, opLeaveUser, opClients}

// DefaultControlTimeout bounds a control request whose context has no
// deadline.
const DefaultControlTimeout = 5 * time.Second

// maxClusterClients is the most clients one node lists in a reply to
// ClusterClients, and maxReplyBytes the most bytes of a reply (below
// NATS's default 1 MB payload): a larger answer is cut and marked
// Truncated.
const (
	maxClusterClients = 10_000
	maxReplyBytes     = 256 << 10
)

// maxControlRunning bounds the requests from other nodes a hub carries out
// at once; more are answered with an error. They run outside the adapter's
// delivery goroutine, whose messages must not wait behind a join's hooks.
const maxControlRunning = 8

// ErrEmptyUserID is returned by the control methods for an empty user ID.
var ErrEmptyUserID = errors.New("wshub: empty user ID")

// ClusterResult says which nodes a control request reached. Nodes are
// known from their heartbeats (WithPresence); without heartbeats a request
// waits until its deadline and reports the nodes that answered.
type ClusterResult struct {
	// Answered lists the nodes that carried the request out, this one
	// included, sorted.
	Answered []string
	// Missing lists the live nodes that did not answer before the
	// deadline (slow, or dead and not yet evicted), sorted.
	Missing []string
	// Unsupported lists the live nodes that do not announce the operation
	// (an older version, or WithClusterControl(false)), sorted.
	Unsupported []string
	// Failed maps the nodes that answered with an error to it.
	Failed map[string]string
	// Affected is how many connections the answering nodes acted on.
	Affected int
	// Truncated is set when a node listed only the first clients it had
	// (ClusterClients caps each node's answer at 10,000).
	Truncated bool
}

// Complete reports whether every live node answered without error.
func (r ClusterResult) Complete() bool {
	return len(r.Missing) == 0 && len(r.Unsupported) == 0 && len(r.Failed) == 0
}

// ClusterClient describes one connection, on any node.
type ClusterClient struct {
	ClientID    string    `json:"client_id"`
	UserID      string    `json:"user_id,omitempty"`
	NodeID      string    `json:"node_id"`
	Rooms       []string  `json:"rooms,omitempty"`
	ConnectedAt time.Time `json:"connected_at"`
}

// ClientFilter selects connections for ClusterClients: those of UserID
// when it is set, and in Room when it is set. The zero filter selects all.
type ClientFilter struct {
	UserID string
	Room   string
}

// WithClusterControl sets whether the hub carries out control requests
// from other nodes (DisconnectUser, JoinUser, LeaveUser, ClusterClients;
// default true). A node with it off does not announce them, and requests
// report it as Unsupported rather than waiting for it.
func WithClusterControl(enabled bool) Option {
	return func(h *Hub) { h.noControl = !enabled }
}

// DisconnectUser closes every connection of userID, on every node, with
// code and reason (as Client.CloseWithCode). It waits until every live node
// that supports it answered or ctx ends (DefaultControlTimeout when ctx has
// no deadline), and reports which nodes answered: a slow, dead or older
// node makes the result partial, never the call fail. The error is for
// invalid arguments and a hub that is not running.
func (h *Hub) DisconnectUser(ctx context.Context, userID string, code int, reason string) (ClusterResult, error) {
	if userID == "" {
		return ClusterResult{}, ErrEmptyUserID
	}
	req := newClusterRecord(kindRequest).str(fOp, opDisconnectUser).str(fUser, userID).
		uint(fCode, uint64(code)).str(fReason, reason)
	res, _, err := h.control(ctx, opDisconnectUser, req)
	return res, err
}

// JoinUser joins every connection of userID, on every node, to room (as
// JoinRoom; a connection already in it counts as acted on). Connections
// the user opens later are not joined: an app that wants that joins them
// when they connect, from its own record of the user's rooms. Results as
// DisconnectUser.
func (h *Hub) JoinUser(ctx context.Context, userID, room string) (ClusterResult, error) {
	return h.userRoom(ctx, opJoinUser, userID, room)
}

// LeaveUser removes every connection of userID, on every node, from room
// (as LeaveRoom). Results as DisconnectUser.
func (h *Hub) LeaveUser(ctx context.Context, userID, room string) (ClusterResult, error) {
	return h.userRoom(ctx, opLeaveUser, userID, room)
}

func (h *Hub) userRoom(ctx context.Context, op, userID, room string) (ClusterResult, error) {
	if userID == "" {
		return ClusterResult{}, ErrEmptyUserID
	}
	if room == "" {
		return ClusterResult{}, ErrEmptyRoomName
	}
	req := newClusterRecord(kindRequest).str(fOp, op).str(fUser, userID).str(fRoom, room)
	res, _, err := h.control(ctx, op, req)
	return res, err
}

// ClusterClients lists the connections that f selects on every node,
// ordered by node and connection time. Each node lists at most 10,000
// (Truncated says when one was cut). Results as DisconnectUser.
func (h *Hub) ClusterClients(ctx context.Context, f ClientFilter) ([]ClusterClient, ClusterResult, error) {
	req := newClusterRecord(kindRequest).str(fOp, opClients).str(fUser, f.UserID).str(fRoom, f.Room).
		uint(fLimit, maxClusterClients)
	res, list, err := h.control(ctx, opClients, req)
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].NodeID != list[j].NodeID {
			return list[i].NodeID < list[j].NodeID
		}
		return list[i].ConnectedAt.Before(list[j].ConnectedAt)
	})
	return list, res, err
}

// controlCall is a request waiting for its replies.
type controlCall struct {
	expect map[string]bool // nodes whose answer completes the call; nil: wait for the deadline
	mu     sync.Mutex
	res    ClusterResult
	list   []ClusterClient
	done   chan struct{}
	closed bool
}

// control runs a request here and on every other node, and gathers the
// answers.
func (h *Hub) control(ctx context.Context, op string, req *clusterWriter) (ClusterResult, []ClusterClient, error) {
	switch h.State() {
	case StateCreated:
		return ClusterResult{}, nil, ErrHubNotStarted
	case StateStopped:
		return ClusterResult{}, nil, ErrHubStopped
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultControlTimeout)
		defer cancel()
	}
	rec, err := decodeCluster(req.b)
	if err != nil {
		return ClusterResult{}, nil, err
	}
	// Here first.
	local := h.carryOut(&rec)
	call := &controlCall{done: make(chan struct{})}
	call.add(h.nodeID, &local)
	if h.adapter == nil {
		res, list := call.result(nil)
		return res, list, nil
	}
	var unsupported []string
	if h.pres != nil {
		call.expect = make(map[string]bool)
		h.pres.mu.Lock()
		for id, n := range h.pres.nodes {
			// A node whose hello has not come yet may support it.
			if n.features == nil || n.features[op] {
				call.expect[id] = true
			} else {
				unsupported = append(unsupported, id)
			}
		}
		h.pres.mu.Unlock()
	}
	id := newClientID()
	req.str(fInstance, id)
	if dl, ok := ctx.Deadline(); ok {
		req.uint(fExpires, uint64(max(dl.UnixMilli(), 0)))
	}
	h.ctlMu.Lock()
	if h.calls == nil {
		h.calls = make(map[string]*controlCall)
	}
	h.calls[id] = call
	h.ctlMu.Unlock()
	defer func() {
		h.ctlMu.Lock()
		delete(h.calls, id)
		h.ctlMu.Unlock()
	}()
	if call.expect == nil || len(call.expect) > 0 {
		h.publish(AdapterMessage{Type: AdapterPresence, Data: req.b})
		call.maybeDone()
		select {
		case <-call.done:
		case <-ctx.Done():
		}
	}
	res, list := call.result(unsupported)
	return res, list, nil
}

// add records one node's answer.
func (c *controlCall) add(node string, r *controlReply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.Contains(c.res.Answered, node) || c.closed {
		return
	}
	c.res.Answered = append(c.res.Answered, node)
	if r.err != "" {
		if c.res.Failed == nil {
			c.res.Failed = make(map[string]string)
		}
		c.res.Failed[node] = r.err
	}
	c.res.Affected += r.count
	c.res.Truncated = c.res.Truncated || r.truncated
	for i := range r.clients {
		r.clients[i].NodeID = node
	}
	c.list = append(c.list, r.clients...)
	c.doneLocked()
}

func (c *controlCall) maybeDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.doneLocked()
}

func (c *controlCall) doneLocked() {
	if c.expect == nil || c.closed {
		return
	}
	for n := range c.expect {
		if !slices.Contains(c.res.Answered, n) {
			return
		}
	}
	c.closed = true
	close(c.done)
}

func (c *controlCall) result(unsupported []string) (ClusterResult, []ClusterClient) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	res := c.res
	res.Answered = slices.Clone(res.Answered)
	for n := range c.expect {
		if !slices.Contains(res.Answered, n) {
			res.Missing = append(res.Missing, n)
		}
	}
	for _, n := range unsupported {
		if !slices.Contains(res.Answered, n) { // it answered after all
			res.Unsupported = append(res.Unsupported, n)
		}
	}
	slices.Sort(res.Answered)
	slices.Sort(res.Missing)
	slices.Sort(res.Unsupported)
	return res, slices.Clone(c.list)
}

// controlReply is one node's answer.
type controlReply struct {
	err       string
	count     int
	clients   []ClusterClient
	truncated bool
}

// carryOut runs a request on this node.
func (h *Hub) carryOut(r *clusterRecord) (out controlReply) {
	defer func() {
		if p := recover(); p != nil {
			h.panicked("control request", p)
			out = controlReply{err: fmt.Sprint("panic: ", p)}
		}
	}()
	user, room := r.str(fUser), r.str(fRoom)
	switch op := r.str(fOp); op {
	case opDisconnectUser:
		code, reason := int(r.uint(fCode)), r.str(fReason)
		for _, c := range h.users.get(user) {
			_ = c.CloseWithCode(code, reason) // nil, also for one already closing
			out.count++
		}
	case opJoinUser:
		for _, c := range h.users.get(user) {
			switch err := h.JoinRoom(c, room); {
			case err == nil, errors.Is(err, ErrAlreadyInRoom):
				out.count++
			case errors.Is(err, ErrConnectionClosed):
			default:
				out.err = err.Error()
			}
		}
	case opLeaveUser:
		for _, c := range h.users.get(user) {
			if h.LeaveRoom(c, room) == nil {
				out.count++
			}
		}
	case opClients:
		limit := int(min(r.uint(fLimit), maxClusterClients))
		var cands []*Client
		switch {
		case user != "":
			cands = h.users.get(user)
		case room != "":
			cands = h.RoomClients(room)
		default:
			cands = h.clients.all()
		}
		for _, c := range cands {
			if room != "" && !c.InRoom(room) {
				continue
			}
			if len(out.clients) == limit {
				out.truncated = true
				break
			}
			out.clients = append(out.clients, ClusterClient{ClientID: c.ID, UserID: c.GetUserID(),
				NodeID: h.nodeID, Rooms: c.Rooms(), ConnectedAt: c.connectedAt})
		}
		out.count = len(out.clients)
	default:
		out.err = "unsupported operation " + op
	}
	return out
}

// hello announces this node's features, after each heartbeat.
func (p *presence) hello() {
	w := newClusterRecord(kindHello).str(fInstance, p.instance)
	if !p.h.noControl {
		for _, op := range controlOps {
			w.str(fFeature, op)
		}
	}
	p.h.publish(AdapterMessage{Type: AdapterPresence, Data: w.b})
}

// receiveCluster handles a version 2 record from node.
func (h *Hub) receiveCluster(node string, data []byte) {
	r, err := decodeCluster(data)
	if err != nil {
		h.adapterError(&AdapterError{Op: "decode", Err: err})
		return
	}
	switch r.kind {
	case kindHello:
		if h.pres != nil {
			h.pres.features(node, r.str(fInstance), r.all(fFeature))
		}
	case kindRequest:
		if h.noControl {
			return
		}
		id := r.str(fInstance)
		if id == "" {
			h.adapterError(&AdapterError{Op: "decode", Err: errClusterMalformed})
			return
		}
		if exp := r.uint(fExpires); exp != 0 && time.Now().UnixMilli() > int64(min(exp, 1<<53)) {
			return // its caller gave up: doing it now would surprise them
		}
		select {
		case h.ctlSem <- struct{}{}:
		default:
			h.reply(id, node, controlReply{err: "busy"})
			return
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer func() { <-h.ctlSem }()
			h.reply(id, node, h.carryOut(&r))
		}()
	case kindResync:
		if r.str(fTo) == h.nodeID && h.members != nil && h.pres != nil && r.str(fInstance) == h.pres.instance {
			h.members.resync()
		}
	case kindReply:
		if r.str(fTo) != h.nodeID {
			return
		}
		h.ctlMu.Lock()
		call := h.calls[r.str(fInstance)]
		h.ctlMu.Unlock()
		if call == nil {
			return // answered after the deadline
		}
		rep := controlReply{err: r.str(fError), count: int(r.uint(fCount)), truncated: len(r.all(fTrunc)) > 0}
		for _, b := range r.all(fClient) {
			e, err := decodeCluster(append([]byte{clusterVersion, 0}, b...))
			if err != nil {
				h.adapterError(&AdapterError{Op: "decode", Err: err})
				return
			}
			rep.clients = append(rep.clients, ClusterClient{ClientID: e.str(cfID), UserID: e.str(cfUser),
				ConnectedAt: time.UnixMilli(int64(min(e.uint(cfConnected), 1<<53))), Rooms: stringsOf(e.all(cfRoom))})
		}
		call.add(node, &rep)
	default:
		h.adapterError(&AdapterError{Op: "unknown_kind", Err: fmt.Errorf("%w: %d", errClusterKind, r.kind)})
	}
}

// reply publishes this node's answer to request id of node.
func (h *Hub) reply(id, node string, out controlReply) {
	w := newClusterRecord(kindReply).str(fInstance, id).str(fTo, node).str(fError, out.err).
		uint(fCount, uint64(out.count))
	for _, c := range out.clients {
		e := newClusterRecord(0).str(cfID, c.ClientID).str(cfUser, c.UserID).
			uint(cfConnected, uint64(max(c.ConnectedAt.UnixMilli(), 0)))
		for _, room := range c.Rooms {
			e.str(cfRoom, room)
		}
		if len(w.b)+len(e.b) > maxReplyBytes {
			out.truncated = true
			break
		}
		w.bytes(fClient, e.b[2:])
	}
	if out.truncated {
		w.bytes(fTrunc, []byte{1})
	}
	h.publish(AdapterMessage{Type: AdapterPresence, Data: w.b})
}

func stringsOf(bs [][]byte) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}
