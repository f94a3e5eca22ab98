// Command metrics exports a hub's metrics to Prometheus with the plain API:
// a Collector on a fresh registry (never the global one), served at
// /metrics, and a ticker that broadcasts the time to every client so the
// counters move.
//
//	cd examples && go run ./metrics -addr :8080
//	curl -s localhost:8080/metrics | grep '^wshub_'
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
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/metrics"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	every := flag.Duration("tick", time.Second, "broadcast interval")
	flag.Usage = func() {
		_, _ = fmt.Fprint(flag.CommandLine.Output(), "metrics: a hub exporting Prometheus metrics with the plain API, broadcasting the time every -tick.\n\n"+
			"Connect to ws://localhost:8080/ws (the time arrives every second), then open http://localhost:8080/metrics.\n\n"+
			"Usage: metrics [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*addr, *every); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, every time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := prometheus.NewRegistry()
	// The process and Go runtime collectors sit next to the hub's own.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	collector, err := metrics.New(reg)
	if err != nil {
		return err
	}

	hub := core.NewHub(
		core.WithMetrics(collector),
		core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
			return c.SendMessage(m.Type, m.Data) // echo, so inbound counters move too
		}),
	)
	go hub.Run() // returns after Shutdown
	if err := hub.WaitRunning(ctx); err != nil {
		_ = hub.Shutdown(context.Background())
		return err
	}

	// The ticker goroutine belongs to run: tickCtx stops it and wg waits
	// for it before the hub shuts down.
	tickCtx, stopTicker := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick(tickCtx, hub, every)
	}()

	mux := http.NewServeMux()
	mux.Handle("/ws", hub.HandleHTTP())
	mux.Handle("/metrics", metrics.Handler(reg))
	mux.Handle("/healthz", hub.HealthHandler())
	mux.Handle("/readyz", hub.ReadyHandler())
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	// One value: the result of ListenAndServe.
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	log.Printf("listening on %s: /ws, /metrics", addr)

	select {
	case <-ctx.Done():
		stop()
	case err = <-serveErr:
	}
	stopTicker()
	wg.Wait()

	drainCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if derr := hub.Drain(drainCtx); derr != nil {
		log.Printf("drain: %v", derr)
	}
	cancel()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hub.Shutdown(shutCtx)
	_ = srv.Shutdown(shutCtx)
	if err == nil {
		err = <-serveErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// tick broadcasts the time every interval until ctx ends.
func tick(ctx context.Context, hub *core.Hub, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			hub.BroadcastText(now.UTC().Format(time.RFC3339))
		}
	}
}
