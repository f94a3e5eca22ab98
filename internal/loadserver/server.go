package loadserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wshub/wshub/core"
)

// Sentinel errors of the control API.
var (
	// ErrRunActive is returned by Run while another paced run is going on.
	ErrRunActive = errors.New("loadserver: a paced run is already active")
	// ErrClosed is returned by Run once Serve has begun to stop.
	ErrClosed = errors.New("loadserver: server is closed")
	// ErrInvalidSpec is returned by Run for out-of-range parameters.
	ErrInvalidSpec = errors.New("loadserver: invalid run parameters")
	// ErrNoHistory is returned by Run for a history run on a server whose
	// Config.HistorySize is zero.
	ErrNoHistory = errors.New("loadserver: history rooms are off (Config.HistorySize is 0)")
)

// Bounds of a RunSpec, so that one request cannot keep the server busy or
// allocate without end.
const (
	maxRate     = 1_000_000
	maxSize     = 1 << 20
	maxDuration = 10 * time.Minute
	maxRooms    = 100_000
)

// Config configures a Server.
type Config struct {
	// Hub is the hub's connection configuration (write linger, queue size,
	// read buffer, compression, coalescing). Zero fields take core's
	// defaults.
	Hub core.Config
	// DropPolicy is the hub's policy for full client queues.
	DropPolicy core.DropPolicy
	// MaxClients caps the connections the hub accepts (upgrades beyond get
	// HTTP 503); zero means no cap. Set it below the process's open-file
	// limit so that the server refuses connections cleanly instead of
	// failing accept with EMFILE.
	MaxClients int
	// ReadHeaderTimeout bounds reading a request's headers. Default 5s.
	ReadHeaderTimeout time.Duration
	// ShutdownTimeout bounds the hub's shutdown when Serve stops. Default 10s.
	ShutdownTimeout time.Duration
	// HistorySize makes the rooms whose name starts with
	// HistoryRoomPrefix keep their newest HistorySize messages in the
	// hub's memory (core.History), so that a client reconnecting with
	// core.RecoverParam cursors gets what it missed. Zero: no room keeps
	// history, and history runs fail with ErrNoHistory.
	HistorySize int
	// HeapProfile, when set, is a file that each Stats(true) call
	// overwrites with a heap profile taken right after its collection.
	HeapProfile string
}

// Server is a core.Hub with the control API of the load generator. Create it
// with New and run it with Serve.
type Server struct {
	cfg      Config
	hub      *core.Hub
	counters *counters
	mux      *http.ServeMux

	mu        sync.Mutex
	closed    bool
	cancelRun context.CancelFunc // ends the active paced run; nil when none runs
	runs      sync.WaitGroup     // paced runs in progress
}

// counters is the hub's MetricsCollector: it keeps the counts the load
// generator reports and ignores the rest.
type counters struct {
	core.NoOpMetrics
	dropped atomic.Uint64
	errors  atomic.Uint64
	slow    atomic.Uint64
	// History rooms: messages this node gave up waiting for (a gap in a
	// room's offsets), received twice, or dropped before the store.
	histLost    atomic.Uint64
	histDupes   atomic.Uint64
	histDropped atomic.Uint64

	mu     sync.Mutex
	byKind map[string]uint64 // errors by kind
}

var (
	_ core.MetricsCollector         = (*counters)(nil)
	_ core.DeliveryMetricsCollector = (*counters)(nil)
)

// IncrementMessagesDropped counts a message dropped by backpressure.
func (c *counters) IncrementMessagesDropped() { c.dropped.Add(1) }

// IncrementErrors counts an error by kind, and slow-client disconnects
// apart.
func (c *counters) IncrementErrors(kind string) {
	c.errors.Add(1)
	if kind == "slow_client" {
		c.slow.Add(1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKind == nil {
		c.byKind = make(map[string]uint64)
	}
	c.byKind[kind]++
}

func (c *counters) errorsByKind() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byKind) == 0 {
		return nil
	}
	m := make(map[string]uint64, len(c.byKind))
	for k, v := range c.byKind {
		m[k] = v
	}
	return m
}

// IncrementAdapterDroppedReason counts history messages dropped before the
// store (this server has no adapter: only history rooms go there).
func (c *counters) IncrementAdapterDroppedReason(_ string, n int) { c.histDropped.Add(uint64(n)) }

// IncrementAdapterLost counts offsets of history rooms the node gave up
// waiting for.
func (c *counters) IncrementAdapterLost(n int) { c.histLost.Add(uint64(n)) }

// IncrementAdapterReordered does nothing: reordered messages were counted
// lost first.
func (c *counters) IncrementAdapterReordered(int) {}

// IncrementAdapterDuplicates counts history messages the node received
// twice.
func (c *counters) IncrementAdapterDuplicates(n int) { c.histDupes.Add(uint64(n)) }

// New returns a Server configured by cfg. It starts nothing.
func New(cfg Config) *Server {
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 5 * time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, counters: &counters{}}
	var roomOpts core.RoomOptionsFunc
	if cfg.HistorySize > 0 {
		roomOpts = historyRoomOptions(cfg.HistorySize)
	}
	s.hub = core.NewHub(
		core.WithRoomOptions(roomOpts),
		core.WithConfig(cfg.Hub),
		core.WithLimits(core.Limits{MaxConnections: cfg.MaxClients}),
		core.WithDropPolicy(cfg.DropPolicy),
		core.WithMetrics(s.counters),
		core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
			if _, ok := m.RequestID(); ok {
				return nil // a request (Config.Requests): the hub replies null
			}
			// Echo: the message owns its Data, so it can be queued as is.
			return c.SendMessage(m.Type, m.Data)
		}),
	)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /ws", s.serveWS)
	s.mux.HandleFunc("GET /ctl/stats", s.serveStats)
	s.mux.HandleFunc("POST /ctl/fanout", s.serveRun(runFanout))
	s.mux.HandleFunc("POST /ctl/rooms", s.serveRun(runRooms))
	s.mux.HandleFunc("POST /ctl/history", s.serveRun(runHistory))
	return s
}

// Handler returns the server's routes, for tests that serve them with
// httptest. The hub accepts upgrades only while Serve runs.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve runs the hub and serves HTTP on ln until ctx ends, then stops
// every paced run, closes the listener and shuts the hub down (closing all
// connections). It returns nil after a stop through ctx, or the error that
// made the HTTP server fail. Serve may be called once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout}
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		s.hub.Run()
	}()
	err := s.hub.WaitRunning(ctx)
	// serveErr has room for Serve's one result so its goroutine never blocks.
	serveErr := make(chan error, 1)
	if err == nil {
		go func() { serveErr <- srv.Serve(ln) }()
		select {
		case <-ctx.Done():
		case err = <-serveErr:
			serveErr <- err // put it back for the wait below
		}
	} else {
		err = nil // ctx ended before the hub ran: a normal stop
		serveErr <- http.ErrServerClosed
		_ = ln.Close()
	}

	s.mu.Lock()
	s.closed = true
	if s.cancelRun != nil {
		s.cancelRun()
	}
	s.mu.Unlock()
	_ = srv.Close()
	s.runs.Wait()
	if e := <-serveErr; err == nil && !errors.Is(e, http.ErrServerClosed) {
		err = e
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if e := s.hub.Shutdown(sctx); e != nil && err == nil {
		err = fmt.Errorf("hub shutdown: %w", e)
	}
	<-runDone
	return err
}

// serveWS upgrades and joins the client to its room. The hub reads the
// client's core.RecoverParam cursors at the upgrade, and JoinRoom then
// recovers the room from its cursor.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	room := r.URL.Query().Get("room")
	c, err := s.hub.UpgradeConnection(w, r)
	if err != nil {
		return // refused or failed: already answered
	}
	if room != "" {
		if err := s.hub.JoinRoom(c, room); err != nil {
			_ = c.CloseWithCode(1011, "join failed")
		}
	}
}

// Stats returns a snapshot of the process. With gc it first runs a garbage
// collection and returns freed memory to the OS, so RSS reflects live data.
func (s *Server) Stats(gc bool) Stats {
	if gc {
		debug.FreeOSMemory()
		if s.cfg.HeapProfile != "" {
			s.writeHeapProfile()
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var members int64
	for _, name := range s.hub.RoomNames() {
		members += int64(s.hub.RoomCount(name))
	}
	return Stats{
		RSSBytes:    ProcessRSS(),
		Goroutines:  runtime.NumGoroutine(),
		Clients:     s.hub.ClientCount(),
		RoomMembers: members,
		CPUSeconds:  ProcessCPUSeconds(),
		HeapBytes:   int64(ms.HeapAlloc),
		Dropped:     s.counters.dropped.Load(),
		Errors:      s.counters.errors.Load(),
		SlowClosed:  s.counters.slow.Load(),
		MaxClients:  s.cfg.MaxClients,

		ErrorsByKind:      s.counters.errorsByKind(),
		HistoryLost:       s.counters.histLost.Load(),
		HistoryDuplicates: s.counters.histDupes.Load(),
		HistoryDropped:    s.counters.histDropped.Load(),
	}
}

// writeHeapProfile writes the heap profile to cfg.HeapProfile; a failure
// is logged, since stats must not fail for it.
func (s *Server) writeHeapProfile() {
	f, err := os.Create(s.cfg.HeapProfile)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		log.Printf("loadserver: heap profile: %v", err)
	}
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats(r.URL.Query().Get("gc") == "1"))
}

// runKind is what a control route runs.
type runKind int

const (
	runFanout  runKind = iota // to every client
	runRooms                  // round-robin over rooms r0..
	runHistory                // round-robin over history rooms hist-0..
)

func (s *Server) serveRun(kind runKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		spec, err := parseSpec(r, kind)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := s.Run(r.Context(), spec)
		switch {
		case errors.Is(err, ErrRunActive):
			http.Error(w, err.Error(), http.StatusConflict)
		case errors.Is(err, ErrClosed), errors.Is(err, ErrNoHistory):
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			writeJSON(w, http.StatusOK, res)
		}
	}
}

func parseSpec(r *http.Request, kind runKind) (RunSpec, error) {
	q := r.URL.Query()
	var spec RunSpec
	var err error
	if spec.Rate, err = strconv.ParseFloat(q.Get("rate"), 64); err != nil {
		return spec, fmt.Errorf("rate: %w", err)
	}
	spec.Size = HeaderSize
	if v := q.Get("size"); v != "" {
		if spec.Size, err = strconv.Atoi(v); err != nil {
			return spec, fmt.Errorf("size: %w", err)
		}
	}
	if spec.Duration, err = time.ParseDuration(q.Get("duration")); err != nil {
		return spec, fmt.Errorf("duration: %w", err)
	}
	spec.Distinct = q.Get("distinct") == "1"
	spec.History = kind == runHistory
	if kind != runFanout {
		if spec.Rooms, err = strconv.Atoi(q.Get("rooms")); err != nil {
			return spec, fmt.Errorf("rooms: %w", err)
		}
		if spec.Rooms < 1 {
			return spec, fmt.Errorf("rooms must be at least 1: %w", ErrInvalidSpec)
		}
	}
	return spec, spec.validate()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}
