// Command multinode shows hubs on several nodes acting as one: a message
// sent to any node reaches the clients of every node, and each node counts
// the whole cluster's clients through presence heartbeats.
//
// One node per process, over a broker (run each line in its own terminal,
// in the examples directory, the module of the examples):
//
//	go run ./multinode -node a -port 8081 -nats nats://127.0.0.1:4222
//	go run ./multinode -node b -port 8082 -nats nats://127.0.0.1:4222
//	go run ./multinode -node c -port 8083 -nats nats://127.0.0.1:4222
//
// (or -redis redis://127.0.0.1:6379 instead of -nats). Without a broker
// flag, three nodes run in this one process over an in-memory bus, on
// -port, -port+1 and -port+2. Open http://localhost:PORT on two of them.
package main

import (
	"context"
	"encoding/json"
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

	natsgo "github.com/nats-io/nats.go"
	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/adapters/memory"
	wsnats "github.com/wshub/wshub/adapters/nats"
	wsredis "github.com/wshub/wshub/adapters/redis"
	"github.com/wshub/wshub/core"
)

func main() {
	nodeID := flag.String("node", "", "node ID (default: hostname-port)")
	port := flag.Int("port", 8081, "HTTP port (the first of three without a broker)")
	natsURL := flag.String("nats", "", "NATS URL, e.g. nats://127.0.0.1:4222")
	redisURL := flag.String("redis", "", "Redis URL, e.g. redis://127.0.0.1:6379")
	flag.Usage = func() {
		_, _ = fmt.Fprint(flag.CommandLine.Output(), "multinode: hubs on several nodes acting as one, in one process over an in-memory bus or one per process over NATS or Redis.\n\n"+
			"Connect to ws://localhost:8081/ws and ws://localhost:8082/ws and send e.g. hello to either: both receive it.\n\n"+
			"Usage: multinode [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case *natsURL != "" && *redisURL != "":
		err = errors.New("give -nats or -redis, not both")
	case *natsURL != "":
		err = runNATS(ctx, *natsURL, *nodeID, *port)
	case *redisURL != "":
		err = runRedis(ctx, *redisURL, *nodeID, *port)
	default:
		err = runInProcess(ctx, *port)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func runNATS(ctx context.Context, url, nodeID string, port int) error {
	nc, err := natsgo.Connect(url, natsgo.Name("wshub-multinode"), natsgo.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close() // the adapter borrows the connection; we own it
	adapter, err := wsnats.New(nc, wsnats.WithSubjectPrefix("wshub.multinode"))
	if err != nil {
		return err
	}
	return serve(ctx, nodeName(nodeID, port), port, adapter)
}

func runRedis(ctx context.Context, url, nodeID string, port int) error {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("redis URL: %w", err)
	}
	rdb := goredis.NewClient(opts)
	defer func() { _ = rdb.Close() }() // the adapter borrows the client; we own it
	adapter, err := wsredis.New(rdb, wsredis.WithChannelPrefix("wshub:multinode"))
	if err != nil {
		return err
	}
	return serve(ctx, nodeName(nodeID, port), port, adapter)
}

// runInProcess runs three nodes over one in-memory bus until ctx ends.
func runInProcess(ctx context.Context, port int) error {
	bus := memory.NewBus()
	errs := make(chan error, 3) // one result per node
	var wg sync.WaitGroup
	for i, name := range []string{"a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- serve(ctx, name, port+i, bus.NewAdapter())
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func nodeName(id string, port int) string {
	if id != "" {
		return id
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, port)
}

// serve runs one node: a hub on adapter behind an HTTP server on port,
// until ctx ends.
func serve(ctx context.Context, node string, port int, adapter core.Adapter) error {
	var hub *core.Hub
	hub = core.NewHub(
		core.WithNodeID(node),
		core.WithAdapter(adapter),
		core.WithPresence(2*time.Second),
		core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
			// Broadcast delivers here and publishes to the other nodes.
			hub.Broadcast([]byte(fmt.Sprintf("[%s] %s", node, m.Data)))
			return nil
		}),
	)
	go hub.Run() // returns after Shutdown
	if err := hub.WaitRunning(ctx); err != nil {
		_ = hub.Shutdown(context.Background())
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprintf(w, page, node)
	})
	mux.Handle("/ws", hub.HandleHTTP())
	mux.Handle("/healthz", hub.HealthHandler())
	mux.Handle("/readyz", hub.ReadyHandler())
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"node":           hub.NodeID(),
			"local_clients":  hub.ClientCount(),
			"global_clients": hub.GlobalClientCount(),
		})
	})
	srv := &http.Server{Addr: fmt.Sprintf(":%d", port), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	// One value: the result of ListenAndServe.
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	log.Printf("node %s on http://localhost:%d (ws /ws, /stats)", node, port)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if derr := hub.Drain(drainCtx); derr != nil {
		log.Printf("node %s: drain: %v", node, derr)
	}
	cancel()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hub.Shutdown(shutCtx) // also sends the presence goodbye and closes the adapter
	_ = srv.Shutdown(shutCtx)
	if err == nil {
		err = <-serveErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("node %s: %w", node, err)
}

// page is a minimal client: what you type goes to every node's clients.
const page = `<!doctype html><meta charset="utf-8"><title>node %[1]s</title>
<body style="font:15px system-ui;max-width:40rem;margin:2rem auto">
<h1>node %[1]s</h1><form id="f"><input id="t" autofocus style="width:80%%"> <button>send</button></form>
<pre id="log"></pre><script>
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
ws.onmessage = (e) => { document.getElementById("log").textContent += e.data + "\n"; };
ws.onclose = (e) => { document.getElementById("log").textContent += "closed " + e.code + "\n"; };
document.getElementById("f").onsubmit = (e) => { e.preventDefault(); const t = document.getElementById("t"); ws.send(t.value); t.value = ""; };
</script>`
