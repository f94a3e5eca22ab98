// Command simple is the smallest useful wshub server: every text message a
// client sends comes back to it. It uses the plain API (no fx) and shuts
// down gracefully on SIGINT or SIGTERM.
//
//	go run ./examples/simple -addr :8080
package main

import (
	"context"
	"errors"
	"flag"
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
	drain := flag.Duration("drain", 10*time.Second, "how long to wait for clients to leave on shutdown")
	flag.Parse()
	if err := run(*addr, *drain); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, drainTimeout time.Duration) error {
	// ctx ends on the first SIGINT or SIGTERM; a second one kills the
	// process the usual way because stop restores the default handling.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	hub := core.NewHub(core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
		return c.SendMessage(m.Type, m.Data) // echo
	}))
	go hub.Run() // returns once Shutdown is called below

	if err := hub.WaitRunning(ctx); err != nil {
		_ = hub.Shutdown(context.Background())
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/ws", hub.HandleHTTP())
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	// One value: the result of ListenAndServe, read once below.
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	log.Printf("echo server listening on %s, WebSocket at /ws", addr)

	var err error
	select {
	case <-ctx.Done():
		stop()
		log.Print("signal received, draining")
	case err = <-serveErr:
		// The listener failed (port taken, ...): stop the hub and report it.
	}

	// Drain: new upgrades get 503 and idle clients are closed with 1001;
	// running out of time is normal during a deploy, not a failure.
	drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	if derr := hub.Drain(drainCtx); derr != nil {
		log.Printf("drain: %v (closing the remaining clients)", derr)
	}
	cancel()

	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := hub.Shutdown(shutCtx); serr != nil {
		log.Printf("hub shutdown: %v", serr)
	}
	if serr := srv.Shutdown(shutCtx); serr != nil {
		log.Printf("http shutdown: %v", serr)
	}
	if err == nil {
		err = <-serveErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
