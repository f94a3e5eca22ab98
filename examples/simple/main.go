// Command simple is the smallest complete wshub server without fx: every
// message a client sends comes back to it, and SIGINT or SIGTERM drains
// the clients and exits. The README shows this file whole.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wshub/wshub/core"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	flag.Usage = func() {
		_, _ = fmt.Fprint(flag.CommandLine.Output(), "simple: the smallest wshub server, an echo over WebSocket without fx.\n\n"+
			"Connect to ws://localhost:8080/ws and send any message, e.g. hello: it comes back.\n\n"+
			"Usage: simple [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	// ctx ends on the first SIGINT or SIGTERM; stop then restores the
	// default handling, so a second signal kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	if err := run(ctx, *addr); err != nil {
		log.Fatal(err)
	}
}

// The timeouts nest: a client idle for drainIdle is closed during the
// drain, which lasts at most drainFor; shutdownFor then bounds the close
// of the rest (their queues are written first).
const (
	drainIdle   = 2 * time.Second
	drainFor    = 10 * time.Second
	shutdownFor = 5 * time.Second
)

// run serves until ctx ends, then drains and stops.
func run(ctx context.Context, addr string) error {
	hub := core.NewHub(
		core.WithDrainTimeout(drainIdle),
		core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
			return c.SendMessage(m.Type, m.Data) // echo
		}),
	)
	go hub.Run() // returns once Shutdown is called below
	if err := hub.WaitRunning(ctx); err != nil {
		return errors.Join(err, hub.Shutdown(context.Background()))
	}

	mux := http.NewServeMux()
	mux.Handle("/ws", hub.HandleHTTP())
	mux.Handle("/healthz", hub.HealthHandler())
	mux.Handle("/readyz", hub.ReadyHandler())
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	log.Printf("listening on %s, WebSocket at /ws", addr)

	var err error
	select {
	case <-ctx.Done():
		log.Print("draining")
	case err = <-serveErr: // the port is taken, or the listener broke
	}

	// Readiness turns 503 and upgrades are refused; idle clients are closed
	// with 1001 (going away). Running out of time is normal, not a failure:
	// Shutdown closes the rest.
	drainCtx, cancel := context.WithTimeout(context.Background(), drainFor)
	if derr := hub.Drain(drainCtx); derr != nil {
		log.Printf("drain: %v; closing the remaining clients", derr)
	}
	cancel()
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownFor)
	defer cancel()
	err = errors.Join(err, hub.Shutdown(shutCtx), stopHTTP(srv))
	if err == nil {
		err = <-serveErr // http.ErrServerClosed after Shutdown
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// stopHTTP gives plain requests (probes) a second to finish, then closes
// what is left, such as a connection a browser opened and never used,
// which Shutdown alone would wait for up to 5 s.
func stopHTTP(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if srv.Shutdown(ctx) == nil {
		return nil
	}
	return srv.Close()
}
