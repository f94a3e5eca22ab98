package wshubfx

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/health"
	"github.com/wshub/wshub/metrics"
)

// HTTPModule serves the hub over HTTP and provides the *Server. On
// Config.HTTP.Addr (default ":8080") it serves WebSocket upgrades at
// WSPath ("/ws") and the endpoints of HTTPHandlersGroup; liveness at
// LivePath ("/healthz"), readiness at ReadyPath ("/readyz") and, when a
// prometheus.Gatherer is available (see MetricsModule), metrics at
// MetricsPath ("/metrics") are served there too, or on Config.HTTP.AdminAddr
// when that is set. The probes come from the HealthModule's
// *health.Checker when present (it checks the adapter's link), else from
// the hub itself. An endpoint may not take one of the module's own paths,
// with or without a method or host in its pattern.
//
// The listeners are opened in OnStart, so an address in use fails start-up.
// The main server starts after the hub runs. On stop it first turns
// readiness to 503 (the hub starts draining), then closes its listener and
// gives running plain requests a fifth of the remaining stop time, before
// the hub's own hook drains (http.Server.Shutdown leaves the hijacked
// WebSocket connections to the hub). The admin server starts before the
// hub and stops after it, so probes see the drain.
var HTTPModule = fx.Module("wshub.http",
	fx.Provide(newAdminServer, newServer),
	fx.Invoke(func(*Server) {}),
)

// Server is the HTTPModule's HTTP front end. Its methods are safe for
// concurrent use.
type Server struct {
	main  *listener
	admin *listener
}

// Addr returns the address the main server listens on, with the port
// bound (useful with port 0), or "" before start and after stop.
func (s *Server) Addr() string { return s.main.addr() }

// AdminAddr returns the address the admin server listens on, or "" when
// there is none (Config.HTTP.AdminAddr unset), before start and after stop.
func (s *Server) AdminAddr() string { return s.admin.addr() }

// listener runs one http.Server on one address: it listens in start, serves
// in a goroutine it owns, and stops it and waits for it in stop.
type listener struct {
	name     string
	address  string
	srv      *http.Server
	logger   core.Logger
	shutdown fx.Shutdowner
	// beforeStop runs first in stop; the main server uses it to turn
	// readiness to 503 before its listener closes.
	beforeStop func()

	mu    sync.Mutex
	bound string
	done  chan struct{} // closed when Serve returned

	// fresh holds the connections that have not sent a request yet, with
	// when they were accepted: a browser opens spare ones ahead of need.
	// http.Server.Shutdown counts them as busy for their first 5 s, so
	// stop closes them itself; stopping makes connState close those that
	// arrive after that. A stopped listener cannot start again (its
	// http.Server is spent).
	connMu   sync.Mutex
	fresh    map[net.Conn]time.Time
	stopping bool
}

// freshGrace is how long a new connection may take to send its first
// request before stop may close it: enough for any client that is sending
// one, a blink next to the 5 s http.Server.Shutdown would wait.
const freshGrace = 250 * time.Millisecond

func newListener(name, address string, cfg HTTPConfig, handler http.Handler, logger core.Logger, sd fx.Shutdowner) *listener {
	logger = core.Named(logger, fxLoggerName)
	l := &listener{
		name:     name,
		address:  address,
		logger:   logger,
		shutdown: sd,
		fresh:    make(map[net.Conn]time.Time),
	}
	l.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          log.New(logWriter{logger: logger, server: name}, "", 0),
		ConnState:         l.connState,
	}
	return l
}

// connState keeps l.fresh: a connection is in it from its accept until its
// first request starts (or it closes).
func (l *listener) connState(c net.Conn, st http.ConnState) {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if st != http.StateNew {
		delete(l.fresh, c)
		return
	}
	l.fresh[c] = time.Now()
	if l.stopping {
		l.closeFreshLocked(c, time.Now())
	}
}

// closeFresh closes the connections that have not sent a request, from now
// on: at once those accepted more than freshGrace ago, the others when
// they reach that age without a request.
func (l *listener) closeFresh() {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	l.stopping = true
	now := time.Now()
	for c := range l.fresh {
		l.closeFreshLocked(c, now)
	}
}

// closeFreshLocked closes c, or schedules its close, by the rule of
// closeFresh; l.connMu must be held.
func (l *listener) closeFreshLocked(c net.Conn, now time.Time) {
	wait := freshGrace - now.Sub(l.fresh[c])
	if wait <= 0 {
		delete(l.fresh, c)
		_ = c.Close()
		return
	}
	time.AfterFunc(wait, func() {
		l.connMu.Lock()
		defer l.connMu.Unlock()
		if _, ok := l.fresh[c]; ok { // still no request
			delete(l.fresh, c)
			_ = c.Close()
		}
	})
}

func (l *listener) addr() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bound
}

func (l *listener) start(context.Context) error {
	l.connMu.Lock()
	stopped := l.stopping
	l.connMu.Unlock()
	if stopped {
		return fmt.Errorf("wshubfx: %s server: %w", l.name, errRestart)
	}
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return fmt.Errorf("wshubfx: %s server: %w", l.name, err)
	}
	l.mu.Lock()
	l.bound = ln.Addr().String()
	l.done = make(chan struct{})
	l.mu.Unlock()
	l.logger.Info("listening", "server", l.name, "addr", ln.Addr().String())
	go l.serve(ln)
	return nil
}

func (l *listener) serve(ln net.Listener) {
	defer close(l.done)
	err := l.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return
	}
	// The listener broke on its own: the app can no longer serve, so stop it.
	l.logger.Error("server stopped serving", "server", l.name, "error", err)
	_ = l.shutdown.Shutdown(fx.ExitCode(1))
}

// stop closes the listener, the idle connections and those that never sent
// a request, and waits for running requests (hijacked WebSockets excluded)
// for at most a fifth of the time left in ctx, so that a streaming or
// long-poll request cannot use up the time the hooks after this one (the
// hub's drain and shutdown) need. Then it closes what still runs and logs a
// warning; that is not an error.
func (l *listener) stop(ctx context.Context) error {
	if l.beforeStop != nil {
		l.beforeStop()
	}
	l.closeFresh()
	sctx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		sctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/5))
		defer cancel()
	}
	if err := l.srv.Shutdown(sctx); err != nil {
		_ = l.srv.Close()
		l.logger.Warn("requests still running at stop; closed them", "server", l.name, "error", err)
	}
	<-l.done
	l.mu.Lock()
	l.bound = ""
	l.mu.Unlock()
	l.logger.Info("stopped listening", "server", l.name)
	return nil
}

// errRestart refuses to start a listener again after its stop: an
// http.Server serves nothing after Shutdown, and the hub cannot run twice.
var errRestart = errors.New("cannot start again after stop; build a new fx.App")

// logWriter turns http.Server's error log lines into warnings.
type logWriter struct {
	logger core.Logger
	server string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.logger.Warn("http server", "server", w.server, "error", strings.TrimSpace(string(p)))
	return len(p), nil
}

// adminServer is the admin listener, or nil fields when there is none. Its
// mux is filled by newServer before the app starts.
type adminServer struct {
	l   *listener
	mux *http.ServeMux
}

type adminParams struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Config     Config `optional:"true"`
	Logger     core.Logger
}

type adminResult struct {
	fx.Out

	Admin *adminServer
	// Token makes the hub's constructor wait for this one, so the admin
	// hook starts before the hub's and stops after it.
	Token stopAfterHub `group:"wshub.internal.stop_after_hub"`
}

func newAdminServer(p adminParams) adminResult {
	cfg := p.Config.withDefaults().HTTP
	if cfg.AdminAddr == "" {
		return adminResult{Admin: &adminServer{}}
	}
	mux := http.NewServeMux()
	l := newListener("admin", cfg.AdminAddr, cfg, mux, p.Logger, p.Shutdowner)
	p.Lifecycle.Append(fx.Hook{OnStart: l.start, OnStop: l.stop})
	return adminResult{Admin: &adminServer{l: l, mux: mux}}
}

type serverParams struct {
	fx.In

	Lifecycle      fx.Lifecycle
	Shutdowner     fx.Shutdowner
	Config         Config `optional:"true"`
	Hub            *core.Hub
	Logger         core.Logger
	Admin          *adminServer
	Checker        *health.Checker     `optional:"true"`
	Gatherer       prometheus.Gatherer `optional:"true"`
	ModuleGatherer prometheus.Gatherer `name:"wshub.module.metrics" optional:"true"`
	Endpoints      []Endpoint          `group:"wshub.http_handlers"`
}

func newServer(p serverParams) (*Server, error) {
	cfg := p.Config.withDefaults().HTTP
	endpoints, err := sortEndpoints(p.Endpoints)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	if err := handle(mux, cfg.WSPath, p.Hub.HandleHTTP()); err != nil {
		return nil, err
	}
	probes := mux
	if p.Admin.mux != nil {
		probes = p.Admin.mux
	}
	// Without the HealthModule, the hub's own probes: they do not check the
	// adapter's link, so a broker outage does not take every node out of
	// its Service at once. The HealthModule adds that check.
	var live, ready http.Handler = p.Hub.HealthHandler(), p.Hub.ReadyHandler()
	if p.Checker != nil {
		live, ready = p.Checker.LiveHandler(), p.Checker.ReadyHandler()
	}
	if err := handle(probes, cfg.LivePath, live); err != nil {
		return nil, err
	}
	if err := handle(probes, cfg.ReadyPath, ready); err != nil {
		return nil, err
	}
	// The MetricsModule's Gatherer is the one holding its collector (it
	// includes the app's when the app gave one); without the module, the
	// app's.
	g := p.ModuleGatherer
	if isNil(g) {
		g = p.Gatherer
	}
	if !isNil(g) {
		if err := handle(probes, cfg.MetricsPath, metrics.Handler(g)); err != nil {
			return nil, err
		}
	}
	own := []string{cfg.WSPath}
	if probes == mux {
		own = append(own, cfg.LivePath, cfg.ReadyPath)
		if !isNil(g) {
			own = append(own, cfg.MetricsPath)
		}
	}
	for _, e := range endpoints {
		// A pattern with a method ("GET /ws") or a host does not conflict
		// with the module's plain one in ServeMux; it would silently take
		// those requests.
		if path := patternPath(e.Pattern); slices.Contains(own, path) || slices.Contains(own, unescaped(path)) {
			return nil, fmt.Errorf("%w: pattern %q: %s is the module's own path", ErrInvalidContribution, e.Pattern, path)
		}
		if err := handle(mux, e.Pattern, e.Handler); err != nil {
			return nil, err
		}
	}
	// What the text check may still miss: ask the mux who answers a GET of
	// each own path that is a plain path (one given with a method or host
	// in the config is left to the text check).
	for _, path := range own {
		if !strings.HasPrefix(path, "/") {
			continue
		}
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}, Host: "localhost"}
		if _, pattern := mux.Handler(req); pattern != path {
			return nil, fmt.Errorf("%w: pattern %q takes the module's own path %s", ErrInvalidContribution, pattern, path)
		}
	}
	l := newListener("main", cfg.Addr, cfg, mux, p.Logger, p.Shutdowner)
	hub := p.Hub
	l.beforeStop = func() {
		// Start the hub's drain without waiting for it: readiness turns 503
		// and upgrades are refused from now on, while the listener closes.
		// The hub's own stop hook drains for real.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = hub.Drain(ctx) // returns ctx's error at once
	}
	p.Lifecycle.Append(fx.Hook{OnStart: l.start, OnStop: l.stop})
	return &Server{main: l, admin: p.Admin.l}, nil
}

// patternPath returns the path of a ServeMux pattern "[METHOD ][HOST]/PATH".
func patternPath(pattern string) string {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // drop the host
	}
	return pattern
}

// unescaped is path with its %XX escapes decoded, as ServeMux reads a
// pattern; path itself when it holds an invalid escape.
func unescaped(path string) string {
	if u, err := url.PathUnescape(path); err == nil {
		return u
	}
	return path
}

// handle registers h at pattern, turning ServeMux's panic on a bad or
// conflicting pattern into an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: pattern %q: %v", ErrInvalidContribution, pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}
