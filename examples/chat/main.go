// Command chat is wshub's main example: a chat with rooms and nicknames,
// built as an fx application, serving its own web page.
//
//	make run                          # or, in examples/: go run ./chat
//	open http://localhost:8080
//	curl localhost:8080/readyz
//
// One node by default. Several nodes share their rooms through a broker:
//
//	go run ./chat -addr :8081 -node a -nats nats://127.0.0.1:4222
//	go run ./chat -addr :8082 -node b -nats nats://127.0.0.1:4222
//
// (or -redis redis://127.0.0.1:6379). Each page shows, next to every
// message, the node its author is connected to, and beside the messages
// who is online in its room, on every node (see members.go).
//
// Rooms keep their last 200 messages for an hour (see chatRooms): a page
// that reconnects or is reloaded gets what it missed. With one node the
// hub keeps that history in memory; with several, the broker does (NATS
// needs JetStream: nats-server -js), so a page recovers on any node.
//
// The server serves the page at /, WebSocket upgrades at /ws, liveness at
// /healthz, readiness at /readyz and Prometheus metrics at /metrics.
// SIGINT or SIGTERM drains the clients and exits 0.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	natsgo "github.com/nats-io/nats.go"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	wsnats "github.com/wshub/wshub/adapters/nats"
	wsredis "github.com/wshub/wshub/adapters/redis"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubfx/natsfx"
	"github.com/wshub/wshub/wshubfx/redisfx"
)

// settings are the command line's choices.
type settings struct {
	addr     string
	admin    string
	nodeID   string
	natsURL  string
	redisURL string
}

func main() {
	var s settings
	verbose := defineFlags(flag.CommandLine, &s)
	flag.Usage = func() { usage(flag.CommandLine) }
	flag.Parse()

	level := zapcore.InfoLevel
	if *verbose {
		level = zapcore.DebugLevel
	}
	zcfg := zap.NewDevelopmentConfig()
	zcfg.Level = zap.NewAtomicLevelAt(level)
	// Stack traces on errors only: a warning (a client that went away, a
	// broker that reconnects) is not a bug to locate.
	logger, err := zcfg.Build(zap.AddStacktrace(zapcore.ErrorLevel))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat: logger:", err)
		os.Exit(1)
	}
	opts, err := appOptions(s, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(2)
	}
	fxLog := fx.NopLogger
	if *verbose {
		fxLog = wshubfx.FxLogger
	}
	// Run starts the app, blocks until SIGINT or SIGTERM, stops it (the hub
	// drains its clients) and exits non-zero only if start or stop failed.
	fx.New(opts, fxLog).Run()
}

// defineFlags defines the command line's flags on fs, filling s, and
// returns the -v flag.
func defineFlags(fs *flag.FlagSet, s *settings) (verbose *bool) {
	fs.StringVar(&s.addr, "addr", ":8080", "listen address")
	fs.StringVar(&s.admin, "admin", "", "admin listen address for /healthz, /readyz and /metrics, e.g. :9090 (default: on -addr)")
	fs.StringVar(&s.nodeID, "node", "", "node ID shown next to messages (default: random)")
	fs.StringVar(&s.natsURL, "nats", "", "NATS URL for a multi-node chat, e.g. nats://127.0.0.1:4222")
	fs.StringVar(&s.redisURL, "redis", "", "Redis URL for a multi-node chat, e.g. redis://127.0.0.1:6379")
	return fs.Bool("v", false, "debug logs, fx's own events included")
}

// usageHeader leads the -h text: what the program is, how to use it, then
// the flags. The name is fixed: go run names its binary at random.
const usageHeader = `chat: wshub's example chat server, rooms and nicknames, one node or several over NATS/Redis.

Open http://localhost:8080 (or -addr), or send over WebSocket at ws://localhost:8080/ws:
  {"type":"join","room":"lobby","nick":"ann"}
  {"type":"say","text":"hi"}
examples/chat/README.md describes every frame.

Usage: chat [flags]
`

// usage writes the -h text to fs's output: usageHeader, then fs's flags.
func usage(fs *flag.FlagSet) {
	_, _ = io.WriteString(fs.Output(), usageHeader)
	fs.PrintDefaults()
}

// chatConfig is the chat's wshubfx.Config for s (without its broker's
// presence interval, which appOptions sets).
func chatConfig(s settings) wshubfx.Config {
	return wshubfx.Config{
		NodeID: s.nodeID,
		// Requests: the page's client package sends its joins, messages
		// and leaves as requests, and shows each refusal where it belongs.
		Hub: core.DefaultConfig().WithMaxMessageSize(4 << 10).WithRequests(true),
		// One room at a time (join leaves the previous one) and a
		// friendly rate limit per client.
		Limits:      core.DefaultLimits().WithMaxRoomsPerClient(1).WithMaxMessageRate(20),
		StopTimeout: 10 * time.Second,
		// Pages recover what they missed on any node, so a drain need not
		// wait for anyone: a page whose queue has been empty for 100 ms is
		// closed with 1001 at once and reconnects elsewhere; busier ones
		// follow as their queues empty, and Shutdown closes the rest at
		// StopTimeout. Ctrl-C with idle tabs open exits in a fraction of a
		// second.
		DrainTimeout: 100 * time.Millisecond,
		HTTP:         wshubfx.HTTPConfig{Addr: s.addr, AdminAddr: s.admin},
		// Every room keeps history, so pages recover what they missed,
		// and tracks its members for the pages' "Online" lists.
		Rooms: chatRooms(presenceLinger),
	}
}

// appOptions assembles the application: the wshubfx modules, the chat's
// routes and page, and a broker module when s asks for one.
func appOptions(s settings, logger *zap.Logger) (fx.Option, error) {
	cfg := chatConfig(s)
	broker := fx.Options()
	switch {
	case s.natsURL != "" && s.redisURL != "":
		return nil, errors.New("use -nats or -redis, not both")
	case s.natsURL != "":
		// Heartbeats tell the nodes which node died, so that its
		// members leave the lists (within three intervals).
		cfg.Presence = 5 * time.Second
		broker = fx.Options(natsfx.Module, fx.Supply(natsfx.Config{
			URL:            s.natsURL,
			ConnectOptions: []natsgo.Option{natsgo.Name("wshub-chat")}, // natsfx already retries and reconnects forever
			AdapterOptions: []wsnats.Option{wsnats.WithSubjectPrefix("wshub.chat")},
		}))
	case s.redisURL != "":
		cfg.Presence = 5 * time.Second
		broker = fx.Options(redisfx.Module, fx.Supply(redisfx.Config{
			URL:            s.redisURL,
			AdapterOptions: []wsredis.Option{wsredis.WithChannelPrefix("wshub:chat")},
		}),
			// go-redis logs (dial failures while Redis is away) go to zap
			// instead of stderr; the setting is process-wide, so the app makes it.
			fx.Invoke(func(l core.Logger) { goredis.SetLogger(wsredis.GoRedisLogger{Logger: l}) }))
	}

	return fx.Options(
		wshubfx.Module,
		wshubfx.HTTPModule,
		wshubfx.LoggingModule,
		wshubfx.MetricsModule,
		wshubfx.HealthModule,
		broker,
		fx.Supply(cfg, logger),

		// The Module's router names events by the JSON "type" field; the
		// chat adds an answer for unknown types by decorating it.
		fx.Decorate(func(r *core.Router) *core.Router { return r.OnNotFound(unknownEvent) }),
		// The Chat exists before the hub, since the hub is built with its
		// presence hooks; it is bound to the hub once both exist, before
		// the hub runs (fx runs invokes before start).
		fx.Provide(NewChat),
		fx.Invoke(func(ch *Chat, hub *core.Hub, l core.Logger) {
			ch.Bind(hub)
			ch.SetLogger(l)
		}),
		chatRoutes(),
		wshubfx.ProvideHooks(func(l core.Logger) wshubfx.HookSet {
			return wshubfx.HookSet{Name: "chat.recovery", Hooks: core.Hooks{OnRecovery: recoveryLogger(l)}}
		}),
		wshubfx.ProvideHooks(func(ch *Chat) wshubfx.HookSet {
			return wshubfx.HookSet{Name: "chat.presence", Hooks: ch.Hooks()}
		}),
		wshubfx.AsEndpoint("/", pageHandler()),
	), nil
}

// chatRoutes contributes one wshubfx.Route per chat event.
func chatRoutes() fx.Option {
	var opts []fx.Option
	for _, event := range []string{"join", "leave", "say"} {
		opts = append(opts, wshubfx.ProvideRoute(func(ch *Chat) wshubfx.Route {
			return wshubfx.Route{Event: event, Handler: ch.Handlers()[event]}
		}))
	}
	return fx.Options(opts...)
}
