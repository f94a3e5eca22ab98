// Command plain shows the option-function API of package core in depth,
// without fx: Config and Limits builders, Hooks, a Router that picks
// handlers by the JSON "type" field, a middleware chain, rooms, per-user
// sends, health probes, and DebugMetrics printed on exit.
//
//	cd examples && go run ./plain -addr :8080
//
// Connect with a user name, e.g. ws://localhost:8080/ws?user=ann, and send
// JSON messages:
//
//	{"type":"join","room":"go"}
//	{"type":"say","room":"go","text":"hello"}
//	{"type":"whisper","to":"bob","text":"psst"}
//	{"type":"leave","room":"go"}
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/logging"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	verbose := flag.Bool("v", false, "log every message (debug level)")
	flag.Usage = func() {
		_, _ = fmt.Fprint(flag.CommandLine.Output(), "plain: package core's option-function API in depth (Config, Limits, Hooks, Router, middleware, rooms), without fx.\n\n"+
			`Connect to ws://localhost:8080/ws?user=ann and send e.g. {"type":"join","room":"go"} then {"type":"say","room":"go","text":"hello"}.`+"\n\n"+
			"Usage: plain [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	slogger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(*addr, slogger); err != nil {
		slogger.Error("exit", "error", err)
		os.Exit(1)
	}
}

// envelope is every message of this example's protocol; which fields count
// depends on Type.
type envelope struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	To   string `json:"to,omitempty"`
	From string `json:"from,omitempty"`
	Text string `json:"text,omitempty"`
}

// eventType reads the "type" field of a JSON message for the Router.
func eventType(m *core.Message) string {
	var e struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(m.Data, &e) != nil {
		return ""
	}
	return e.Type
}

// app holds what the handlers need.
type app struct {
	hub     *core.Hub
	dropped atomic.Int64
}

func run(addr string, slogger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := logging.NewSlog(slogger)
	debug := core.NewDebugMetrics()
	a := &app{}

	// Config and Limits: start from the defaults and change what matters.
	cfg := core.DefaultConfig().
		WithMaxMessageSize(16*1024).
		WithSendChannelSize(64).
		WithTimeouts(5*time.Second, 30*time.Second, 25*time.Second).
		WithCheckOrigin(core.AllowAllOrigins) // a demo: accept pages from anywhere
	limits := core.DefaultLimits().
		WithMaxConnections(1000).
		WithMaxConnectionsPerUser(3).
		WithMaxRoomsPerClient(5).
		WithMaxClientsPerRoom(100).
		WithMaxMessageRate(20)

	hooks := core.Hooks{
		AfterConnect: func(c *core.Client) {
			_ = c.SendJSON(envelope{Type: "welcome", Text: "hello " + c.GetUserID()})
		},
		AfterDisconnect: func(c *core.Client) {
			slogger.Info("client left", "client", c.ID, "user", c.GetUserID(),
				"connected_for", time.Since(c.ConnectedAt()).Round(time.Millisecond))
		},
		BeforeRoomJoin: func(_ *core.Client, room string) error {
			if strings.HasPrefix(room, "_") {
				return errors.New("rooms starting with _ are reserved")
			}
			return nil
		},
		OnSendDropped: func(*core.Client, []byte) { a.dropped.Add(1) },
		OnError: func(c *core.Client, err error) {
			_ = c.SendJSON(envelope{Type: "error", Text: err.Error()})
		},
	}

	router := core.NewRouter(eventType).
		On("join", a.join).
		On("leave", a.leave).
		On("say", a.say).
		On("whisper", a.whisper).
		OnNotFound(func(*core.Client, *core.Message) error {
			return errors.New(`unknown "type"; use join, leave, say or whisper`)
		})

	// Outermost first: recovery wraps logging wraps the router.
	chain := core.NewMiddlewareChain(router.Handle).
		Use(core.RecoveryMiddleware(logger)).
		Use(core.LoggingMiddleware(logger)).
		Build()

	a.hub = core.NewHub(
		core.WithConfig(cfg),
		core.WithLimits(limits),
		core.WithLogger(logger),
		core.WithMetrics(debug),
		core.WithHooks(hooks),
		core.WithMessageHandler(chain.Handler()),
		core.WithDropPolicy(core.DropOldest),
		core.WithDrainTimeout(5*time.Second),
		core.WithNodeID("plain-1"),
	)
	go a.hub.Run() // returns after Shutdown
	if err := a.hub.WaitRunning(ctx); err != nil {
		_ = a.hub.Shutdown(context.Background())
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/ws", a.upgrade)
	mux.Handle("/healthz", a.hub.HealthHandler())
	mux.Handle("/readyz", a.hub.ReadyHandler())
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	// One value: the result of ListenAndServe.
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	slogger.Info("listening", "addr", addr, "ws", "/ws?user=NAME", "node", a.hub.NodeID())

	var err error
	select {
	case <-ctx.Done():
		stop()
	case err = <-serveErr:
	}

	drainCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if derr := a.hub.Drain(drainCtx); derr != nil {
		slogger.Warn("drain ran out of time", "error", derr, "clients", a.hub.ClientCount())
	}
	cancel()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.hub.Shutdown(shutCtx)
	_ = srv.Shutdown(shutCtx)
	if err == nil {
		err = <-serveErr
	}

	fmt.Fprintf(os.Stderr, "debug metrics at exit (%d dropped by backpressure):\n%s\n", a.dropped.Load(), debug)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// upgrade binds the user named in ?user= to the connection. A real server
// takes the user from authentication; see examples/auth.
func (a *app) upgrade(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		http.Error(w, "add ?user=NAME", http.StatusBadRequest)
		return
	}
	// Refusals (503, 429, 403) are already answered by UpgradeConnection.
	_, _ = a.hub.UpgradeConnection(w, r, core.WithUserID(user))
}

func decode(m *core.Message) (envelope, error) {
	var e envelope
	if err := m.JSON(&e); err != nil {
		return e, fmt.Errorf("bad JSON: %w", err)
	}
	return e, nil
}

func (a *app) join(c *core.Client, m *core.Message) error {
	e, err := decode(m)
	if err != nil {
		return err
	}
	if err := a.hub.JoinRoom(c, e.Room); err != nil {
		return fmt.Errorf("join %q: %w", e.Room, err)
	}
	return a.hub.BroadcastToRoom(e.Room, mustJSON(envelope{Type: "joined", Room: e.Room, From: c.GetUserID()}))
}

func (a *app) leave(c *core.Client, m *core.Message) error {
	e, err := decode(m)
	if err != nil {
		return err
	}
	if err := a.hub.LeaveRoom(c, e.Room); err != nil {
		return fmt.Errorf("leave %q: %w", e.Room, err)
	}
	return c.SendJSON(envelope{Type: "left", Room: e.Room})
}

func (a *app) say(c *core.Client, m *core.Message) error {
	e, err := decode(m)
	if err != nil {
		return err
	}
	if !c.InRoom(e.Room) {
		return fmt.Errorf("say: %w: %q", core.ErrNotInRoom, e.Room)
	}
	return a.hub.BroadcastToRoom(e.Room, mustJSON(envelope{Type: "said", Room: e.Room, From: c.GetUserID(), Text: e.Text}))
}

// whisper reaches every connection of the target user on this hub (and,
// with an adapter, on the other nodes).
func (a *app) whisper(c *core.Client, m *core.Message) error {
	e, err := decode(m)
	if err != nil {
		return err
	}
	if e.To == "" {
		return errors.New(`whisper needs "to"`)
	}
	a.hub.SendToUser(e.To, mustJSON(envelope{Type: "whisper", From: c.GetUserID(), Text: e.Text}))
	return nil
}

// mustJSON encodes an envelope, which cannot fail (strings only).
func mustJSON(e envelope) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return b
}
