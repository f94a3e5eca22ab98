// Command sigtermapp is a small wshubfx application run as a separate
// process by wshubfx's SIGTERM test. It serves WebSockets on -addr and
// probes on -admin, prints "LISTENING ws=<addr> admin=<addr>" on stdout once
// both listen, and offers POST /flood?n=N&size=S, which broadcasts N
// numbered messages of S bytes to every client before it answers. fx's Run
// turns SIGTERM into a graceful stop: drain, then shutdown, then exit 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "WebSocket listen address")
	admin := flag.String("admin", "127.0.0.1:0", "probe listen address")
	stop := flag.Duration("stop-timeout", 8*time.Second, "wshubfx Config.StopTimeout")
	drain := flag.Duration("drain-timeout", 2*time.Second, "wshubfx Config.DrainTimeout (idle reaper)")
	queue := flag.Int("queue", 4096, "per-client send queue size")
	flag.Parse()

	logger, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg := wshubfx.Config{
		StopTimeout:  *stop,
		DrainTimeout: *drain,
		Hub:          core.Config{SendChannelSize: *queue},
		HTTP:         wshubfx.HTTPConfig{Addr: *addr, AdminAddr: *admin},
	}
	app := fx.New(
		// Above Config.StopTimeout, so Shutdown has time after the drain.
		fx.StopTimeout(*stop+10*time.Second),
		fx.Supply(logger, cfg),
		wshubfx.FxLogger,
		wshubfx.LoggingModule,
		wshubfx.Module,
		wshubfx.HealthModule,
		wshubfx.HTTPModule,
		wshubfx.ProvideEndpoint(newFlood),
		fx.Invoke(announce),
	)
	// Register fx's signal handling before the app starts, so that a
	// SIGTERM sent as soon as the LISTENING line appears is not lost; Run
	// receives a signal that arrived meanwhile.
	app.Wait()
	app.Run()
}

// newFlood returns the /flood endpoint.
func newFlood(hub *core.Hub) wshubfx.Endpoint {
	return wshubfx.Endpoint{Pattern: "POST /flood", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err1 := strconv.Atoi(r.URL.Query().Get("n"))
		size, err2 := strconv.Atoi(r.URL.Query().Get("size"))
		if err1 != nil || err2 != nil || n < 0 || size < 17 {
			http.Error(w, "need n >= 0 and size >= 17", http.StatusBadRequest)
			return
		}
		// Each message is "seq:<12 digits>|" padded with dots to size bytes.
		pad := strings.Repeat(".", size-17)
		for i := range n {
			hub.BroadcastText(fmt.Sprintf("seq:%012d|", i) + pad)
		}
		_, _ = fmt.Fprintf(w, "%d\n", hub.ClientCount())
	})}
}

// announce prints the bound addresses once the servers listen: its hook is
// appended after the HTTPModule's, so it starts after them.
func announce(lc fx.Lifecycle, srv *wshubfx.Server) {
	lc.Append(fx.Hook{OnStart: func(context.Context) error {
		_, err := fmt.Printf("LISTENING ws=%s admin=%s\n", srv.Addr(), srv.AdminAddr())
		return err
	}})
}
