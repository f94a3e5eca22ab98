package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// HubState is a hub's place in its life cycle.
type HubState int32

const (
	// StateRunning means Run is executing and upgrades are accepted.
	StateRunning HubState = iota
	// StateDraining means Drain was called: upgrades get 503 while
	// existing clients finish.
	StateDraining
	// StateStopped means Shutdown was called: every connection is closed.
	StateStopped
	// StateCreated means NewHub returned and Run has not started: upgrades
	// get 503. It is an addition of this module; the zero HubState stays
	// StateRunning for compatibility.
	StateCreated
)

// String returns "running", "draining", "stopped" or "created".
func (s HubState) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StateDraining:
		return "draining"
	case StateStopped:
		return "stopped"
	case StateCreated:
		return "created"
	}
	return fmt.Sprintf("HubState(%d)", int32(s))
}

// Hub accepts WebSocket connections and routes messages to them: to all,
// to rooms, to users, to single clients, and through an Adapter to the other
// nodes of a cluster. All methods are safe for concurrent use.
//
// Lock order, outermost first: Hub.life → Room.mu → Client.state →
// user index shard; registry shards and Client.mu are leaves.
type Hub struct {
	cfg              Config
	limits           Limits
	logger           Logger
	metrics          MetricsCollector
	adapterMetrics   AdapterMetricsCollector
	deliveryMetrics  DeliveryMetricsCollector
	closeMetrics     CloseMetricsCollector
	trafficMetrics   TrafficMetricsCollector
	hooks            Hooks
	handler          HandlerFunc
	adapter          Adapter
	nodeID           string
	presenceInterval time.Duration
	drainTimeout     time.Duration
	hookTimeout      time.Duration
	dropPolicy       DropPolicy
	qlim             queueLimits // every client's send queue bounds and policy
	readBufs         sync.Pool   // *[]byte read buffers of idle-capable readers (framereader_idle.go)
	skipLatency      bool
	roomOpts         RoomOptionsFunc
	// hist stores history rooms: the adapter's HistoryAdapter, or histMem
	// when the hub has no adapter.
	hist    HistoryAdapter
	histMem *MemoryHistory
	// members keeps the member records of rooms that track presence, in
	// the adapter's PresenceAdapter or a MemoryPresence of the hub's own;
	// nil without room options or when the adapter has no such store.
	members *memberTracker
	// control plane: calls waiting for replies, by request ID
	noControl bool
	ctlMu     sync.Mutex
	calls     map[string]*controlCall
	ctlSem    chan struct{} // requests of other nodes running here
	framer    HistoryFramer
	// history goroutines (gap fills, recoveries): counted in histWG while
	// histDone is false, under histLife; histCtx ends their store reads.
	histLife   sync.Mutex
	histDone   bool
	histWG     sync.WaitGroup
	histCtx    context.Context //nolint:containedctx // the hub's lifetime for store reads
	histCancel context.CancelFunc

	upgrader websocket.Upgrader

	// life orders registrations against state changes: registrations hold
	// it shared, Drain and Shutdown exclusively while they switch state.
	life      sync.RWMutex
	state     atomic.Int32
	alive     atomic.Bool
	startedAt atomic.Int64
	admitted  atomic.Int64 // slots taken under MaxConnections, from admission on
	count     atomic.Int64 // clients in the registry: what broadcasts reach

	clients registry
	users   userIndex
	roomsMu sync.RWMutex
	rooms   map[string]*Room

	runningCh chan struct{} // closed when Run starts
	stopCh    chan struct{} // closed by Shutdown
	stopOnce  sync.Once
	runDone   chan struct{} // closed when Run returns
	shutDone  chan struct{} // closed when the first Shutdown has closed every client and the adapter
	drainOnce sync.Once

	wg     sync.WaitGroup     // read pumps, hook goroutines, reaper
	bgWG   sync.WaitGroup     // publisher and presence goroutines
	bgStop context.CancelFunc // set by Run under life; stops the background goroutines
	pub    *publisher
	pres   *presence
	// maxPublishDelay bounds a message's time from send to broker.
	maxPublishDelay time.Duration
	origins         originStreams // other nodes' broadcast and presence streams
	limiter         logLimiter    // adapter failures and drops
	slowLog         logLimiter    // slow-client disconnects
	utf8Log         logLimiter    // text sends refused as invalid UTF-8
	panics          panicLog
	// maxConns is the connection cap in force: Limits.MaxConnections, or
	// one derived from the open-file limit; 0 means none.
	maxConns int
	inbound  inboundBudget // bytes held by messages still being received

	emptySig chan struct{} // signalled when the last client leaves

	tracer Tracer // nil: no trace points (WithTracer)

	testHookAfterUpgrade func(*Client) // tests only
}

// HandlerFunc handles one inbound message of a client.
type HandlerFunc func(*Client, *Message) error

// NewHub returns a hub configured by opts. It starts nothing: call Run.
func NewHub(opts ...Option) *Hub {
	h := &Hub{
		cfg:          DefaultConfig(),
		logger:       &NoOpLogger{},
		metrics:      &NoOpMetrics{},
		nodeID:       newClientID(),
		drainTimeout: 30 * time.Second,
		hookTimeout:  5 * time.Second,
		rooms:        make(map[string]*Room),

		maxPublishDelay: DefaultMaxPublishDelay,
		runningCh:       make(chan struct{}),
		stopCh:          make(chan struct{}),
		runDone:         make(chan struct{}),
		shutDone:        make(chan struct{}),
		emptySig:        make(chan struct{}, 1),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(h)
		}
	}
	h.cfg = h.cfg.withDefaults()
	h.inbound.max = h.cfg.MaxInboundBytes
	h.qlim = newQueueLimits(&h.cfg, h.dropPolicy)
	size := max(h.cfg.ReadBufferSize, minReadBuffer)
	h.readBufs.New = func() any { b := make([]byte, size); return &b }
	h.maxConns = connectionCap(h.limits.MaxConnections, openFileLimit)
	h.adapterMetrics, _ = h.metrics.(AdapterMetricsCollector)
	h.deliveryMetrics, _ = h.metrics.(DeliveryMetricsCollector)
	h.closeMetrics, _ = h.metrics.(CloseMetricsCollector)
	h.trafficMetrics, _ = h.metrics.(TrafficMetricsCollector)
	h.state.Store(int32(StateCreated))
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: h.cfg.HandshakeTimeout,
		// The hub reads frames itself (inbound.go) from the raw socket;
		// gorilla's reader, which it allocates anyway, gets the smallest
		// buffer it accepts.
		ReadBufferSize:    1,
		WriteBufferSize:   h.cfg.WriteBufferSize,
		WriteBufferPool:   &sync.Pool{},
		Subprotocols:      h.cfg.Subprotocols,
		CheckOrigin:       h.cfg.CheckOrigin,
		EnableCompression: h.cfg.EnableCompression,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			if status == http.StatusForbidden {
				h.metrics.IncrementErrors("origin_rejected")
			}
			http.Error(w, reason.Error(), status)
		},
	}
	h.limiter.every = 10 * time.Second
	h.slowLog.every = 10 * time.Second
	h.utf8Log.every = 10 * time.Second
	h.framer = cmpFramer(h.framer)
	h.ctlSem = make(chan struct{}, maxControlRunning)
	h.histCtx, h.histCancel = context.WithCancel(context.Background())
	switch ha, ok := h.adapter.(HistoryAdapter); {
	case h.roomOpts == nil: // no room can keep history
	case h.adapter == nil:
		h.histMem = NewMemoryHistory()
		h.hist = h.histMem
	case ok:
		h.hist = ha
	}
	switch pa, ok := h.adapter.(PresenceAdapter); {
	case h.roomOpts == nil: // no room can track members
	case h.adapter == nil:
		h.members = newMemberTracker(h, NewMemoryPresence())
	case ok:
		h.members = newMemberTracker(h, pa)
		if h.presenceInterval <= 0 {
			// Member lists on a cluster need heartbeats: they tell which
			// node died, so that its members leave.
			h.presenceInterval = defaultPresenceInterval
		}
	}
	if h.adapter != nil {
		h.pub = newPublisher(h)
		if h.presenceInterval > 0 {
			h.pres = newPresence(h)
		}
	}
	return h
}

// Run marks the hub running, subscribes to the adapter and starts the
// publisher and presence goroutines, then blocks until Shutdown. Calling it
// again, or after Shutdown, returns at once.
func (h *Hub) Run() {
	h.life.Lock()
	if !h.state.CompareAndSwap(int32(StateCreated), int32(StateRunning)) {
		h.life.Unlock()
		return
	}
	h.startedAt.Store(time.Now().UnixNano())
	h.alive.Store(true)
	// The background goroutines outlive every caller, so they get their
	// own context, cancelled by Shutdown.
	ctx, cancel := context.WithCancel(context.Background())
	h.bgStop = cancel
	if h.members != nil {
		h.members.start(ctx)
	}
	if h.adapter != nil {
		h.bgWG.Add(1)
		if h.pres != nil {
			h.bgWG.Add(1)
		}
	}
	h.life.Unlock()
	defer close(h.runDone)
	defer h.alive.Store(false)

	if h.adapter != nil {
		if r, ok := h.adapter.(ErrorReportingAdapter); ok {
			r.SetErrorReporter(h.adapterError)
		}
		go h.pub.run(ctx)
		subCtx := ctx
		if _, ok := h.adapter.(RoomInterestAdapter); ok {
			subCtx = WithRoomInterest(ctx)
		}
		if err := h.adapter.Subscribe(subCtx, h.onAdapterMessage); err != nil {
			h.adapterError(&AdapterError{Op: "subscribe", Err: err})
		}
		if h.pres != nil {
			go h.pres.run(ctx)
		}
	}

	close(h.runningCh)
	<-h.stopCh
}

// WaitRunning blocks until Run is executing (nil), the hub is stopped
// (ErrHubStopped) or ctx ends (its error). Use it after `go hub.Run()` before
// serving upgrades.
func (h *Hub) WaitRunning(ctx context.Context) error {
	select {
	case <-h.runningCh:
		return nil
	case <-h.stopCh:
		return ErrHubStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NodeID returns this hub's node ID.
func (h *Hub) NodeID() string { return h.nodeID }

// Adapter returns the hub's adapter, or nil.
func (h *Hub) Adapter() Adapter { return h.adapter }

// State returns the hub's life-cycle state.
func (h *Hub) State() HubState { return HubState(h.state.Load()) }

// IsRunning reports whether the hub accepts connections.
func (h *Hub) IsRunning() bool { return h.State() == StateRunning }

// IsDraining reports whether the hub is draining.
func (h *Hub) IsDraining() bool { return h.State() == StateDraining }

// MaxConnections returns the connection cap in force: Limits.MaxConnections
// when positive, else the one derived from the open-file limit; 0 means
// none.
func (h *Hub) MaxConnections() int { return h.maxConns }

// ClientCount returns the number of registered clients on this node.
func (h *Hub) ClientCount() int { return int(h.count.Load()) }

// Clients returns a snapshot of the registered clients.
func (h *Hub) Clients() []*Client { return h.clients.all() }

// GetClient returns the local client with the given ID.
func (h *Hub) GetClient(id string) (*Client, bool) { return h.clients.get(id) }

// GetClientByUserID returns one local client of userID.
func (h *Hub) GetClientByUserID(userID string) (*Client, bool) {
	list := h.users.get(userID)
	if len(list) == 0 {
		return nil, false
	}
	return list[0], true
}

// GetClientsByUserID returns the local clients of userID.
func (h *Hub) GetClientsByUserID(userID string) []*Client { return h.users.get(userID) }

// HandleHTTP returns a handler that upgrades requests with UpgradeConnection.
// Refusals are answered with an HTTP status; other failures are logged.
func (h *Hub) HandleHTTP() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := h.UpgradeConnection(w, r); err != nil {
			h.logger.Debug("upgrade refused", "remote", r.RemoteAddr, "error", err)
		}
	}
}

// UpgradeConnection upgrades r to a WebSocket connection and registers the
// client. It answers refusals itself: 503 before Run, while draining, after
// Shutdown or over MaxConnections; 429 over MaxConnectionsPerUser; 403 when
// BeforeConnect fails or the origin is refused; 400 when the RecoverParam
// cursors are malformed (see RecoveryFromQuery). A refusal that can only be
// decided after the upgrade closes the socket with 1001 (going away) or 1013
// (try again later).
func (h *Hub) UpgradeConnection(w http.ResponseWriter, r *http.Request, opts ...UpgradeOption) (_ *Client, err error) {
	if err := h.acceptErr(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return nil, err
	}
	if m := h.maxConns; m > 0 && h.ClientCount() >= m {
		h.metrics.IncrementErrors("max_connections")
		http.Error(w, ErrMaxConnectionsReached.Error(), http.StatusServiceUnavailable)
		return nil, ErrMaxConnectionsReached
	}
	c := &Client{ID: newClientID(), hub: h, req: r}
	if h.tracer != nil {
		ctx, end := h.tracer.StartUpgrade(r.Context(), r)
		c.setBase(ctx)
		defer func() { end(err) }()
	}
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	// Only a hub with room options reads the parameter: an app without
	// history rooms keeps its own meaning of it.
	if c.cursors == nil && h.roomOpts != nil && r.URL != nil && r.URL.RawQuery != "" {
		cursors, err := RecoveryFromQuery(r.URL.Query()) // nil without RecoverParam
		if err != nil {
			h.metrics.IncrementErrors("bad_cursor")
			http.Error(w, err.Error(), http.StatusBadRequest)
			return nil, err
		}
		c.cursors = cursors
	}
	if m := h.limits.MaxConnectionsPerUser; m > 0 && c.userID != "" && h.users.count(c.userID) >= m {
		h.metrics.IncrementErrors("max_user_connections")
		http.Error(w, ErrMaxUserConnectionsReached.Error(), http.StatusTooManyRequests)
		return nil, ErrMaxUserConnectionsReached
	}
	if h.hooks.BeforeConnect != nil {
		if err := h.beforeConnect(r); err != nil {
			http.Error(w, "forbidden", http.StatusForbidden)
			return nil, fmt.Errorf("wshub: connection refused by BeforeConnect: %w", err)
		}
	}
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := h.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		return nil, fmt.Errorf("wshub: upgrade: %w", err)
	}
	c.conn = hw.cc.Conn
	c.raw = rawConnOf(c.conn)
	if hw.cc.deflate {
		// The write pump batches gorilla's compressed frames through cc.
		// Without compression gorilla's Conn is not kept: the hub reads
		// and frames everything itself, and an idle connection is
		// smaller without it.
		c.ws, c.cc = ws, hw.cc
	}
	if h.testHookAfterUpgrade != nil {
		h.testHookAfterUpgrade(c)
	}
	if err := h.register(c); err != nil {
		code := websocket.CloseTryAgainLater
		if errors.Is(err, ErrHubDraining) || errors.Is(err, ErrHubStopped) {
			code = websocket.CloseGoingAway
		}
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, err.Error()),
			time.Now().Add(h.cfg.WriteWait))
		_ = ws.Close()
		if h.closeMetrics != nil {
			h.closeMetrics.IncrementCloseCode(code)
		}
		return nil, err
	}
	if h.hooks.AfterConnect != nil {
		h.goHook("AfterConnect", func() { h.hooks.AfterConnect(c) })
	}
	return c, nil
}

func (h *Hub) acceptErr() error {
	switch h.State() {
	case StateCreated:
		return ErrHubNotStarted
	case StateDraining:
		return ErrHubDraining
	case StateStopped:
		return ErrHubStopped
	}
	return nil
}

func (h *Hub) beforeConnect(r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			h.panicked("BeforeConnect", p)
			err = fmt.Errorf("BeforeConnect panicked: %v", p)
		}
	}()
	return h.hooks.BeforeConnect(r)
}

// register admits c under the limits and starts its read pump.
func (h *Hub) register(c *Client) error {
	h.life.RLock()
	defer h.life.RUnlock()
	if err := h.acceptErr(); err != nil {
		return err
	}
	// Set before the client becomes visible (users.add, clients.add): a
	// send may start its write pump, which writes idleSince, at once.
	now := time.Now()
	c.connectedAt = now
	c.sq.idleSince = now.UnixNano()
	if h.limits.MaxMessageRate > 0 {
		c.limiter = newTokenBucket(h.limits.MaxMessageRate)
	}
	n := h.admitted.Add(1)
	if m := h.maxConns; m > 0 && n > int64(m) {
		h.admitted.Add(-1)
		h.metrics.IncrementErrors("max_connections")
		return ErrMaxConnectionsReached
	}
	if err := h.users.add(c, c.userID, h.limits.MaxConnectionsPerUser); err != nil {
		h.admitted.Add(-1)
		h.metrics.IncrementErrors("max_user_connections")
		return err
	}
	h.clients.add(c)
	h.count.Add(1) // after the add: ClientCount never counts a client a broadcast would miss
	h.metrics.IncrementConnections()
	c.mu.Lock()
	c.pingTimer = time.AfterFunc(h.cfg.PingPeriod, c.ping)
	c.mu.Unlock()
	h.wg.Add(1)
	go c.readPump()
	return nil
}

// goHook runs fn in a tracked goroutine, recovering panics.
func (h *Hub) goHook(name string, fn func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.safeCall(name, fn)
	}()
}

// runWithTimeout runs fn in a tracked goroutine and waits for it at most
// the hook timeout.
func (h *Hub) runWithTimeout(name string, fn func()) {
	done := make(chan struct{})
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(done)
		h.safeCall(name, fn)
	}()
	t := time.NewTimer(h.hookTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		h.metrics.IncrementErrors("hook_timeout")
		h.logger.Warn("hook timed out", "hook", name, "timeout", h.hookTimeout)
	}
}

// dropped reports one message dropped by backpressure.
func (h *Hub) dropped(c *Client, data []byte) {
	h.metrics.IncrementMessagesDropped()
	if h.hooks.OnSendDropped != nil {
		h.safeCall("OnSendDropped", func() { h.hooks.OnSendDropped(c, data) })
	}
}

// logLimiter lets one log line through per interval, every; concurrent
// callers in one interval get one true between them. It stays hand-written
// rather than golang.org/x/time/rate: on the refused path, the one every
// dropped publish takes during a broker outage, rate.Limiter's Allow
// measured 80-100 ns against 25-50 ns here, 0 allocations either way
// (BenchmarkLogLimiter, BenchmarkAdapterDropped).
type logLimiter struct {
	every time.Duration
	last  atomic.Int64
}

func (l *logLimiter) allow() bool {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(l.every) {
		return false
	}
	return l.last.CompareAndSwap(last, now)
}
