package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/loadserver"
)

// Scenario names.
const (
	scConnect = "connect"
	scFanout  = "fanout"
	scRooms   = "rooms"
	scEcho    = "echo"
	// scRequest: echo's loop with requests and replies (core's
	// Config.Requests); see request.go.
	scRequest = "request"
	scChurn   = "churn"
	// scRecovery: clients of history rooms drop and reconnect with their
	// cursor; see recovery.go.
	scRecovery = "recovery"
)

// Bounds that keep a run finite.
const (
	maxClients  = 200_000
	maxDuration = 10 * time.Minute
	maxProcs    = 32
	maxHistory  = 1_000_000
)

var errUsage = errors.New("loadtest: invalid flags")

// options holds every flag of the three modes (generator, -serve, -worker).
type options struct {
	// generator
	scenario        string
	clients         int
	rate            float64
	size            int
	duration        time.Duration
	rooms           int
	procs           int
	url             string
	grace           time.Duration
	hold            time.Duration
	dialConcurrency int
	clientReadBuf   int
	timeout         time.Duration
	progress        bool
	serverProfile   string
	serverMemProf   string
	slow            int
	slowRead        time.Duration
	distinct        bool
	gap             time.Duration
	dropEvery       time.Duration

	// server (in -serve mode, and passed to the server the generator starts)
	serve      bool
	addr       string
	linger     time.Duration
	queue      int
	readBuf    int
	compress   bool
	coalesce   bool
	cpuProfile string
	memProfile string
	exitOnEOF  bool
	policy     string
	maxQueued  int64
	history    int

	// worker
	worker     bool
	workerSpec string
}

// internalFlags are set by a generator for the processes it starts; -h
// leaves them out.
var internalFlags = map[string]bool{"worker": true, "worker-spec": true, "exit-on-eof": true}

// usage prints what loadtest is, an example, and the flags a person sets.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	sayf(w, "loadtest: measures a wshub server on this machine end to end (scenarios connect, fanout, rooms,\n"+
		"echo, request, churn, recovery), with the server and the clients in separate processes.\n\n"+
		"Example: loadtest -scenario fanout -clients 1000 -rate 100 -duration 10s\n\n"+
		"Usage: loadtest [flags]\n")
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shown.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if !internalFlags[f.Name] {
			shown.Var(f.Value, f.Name, f.Usage)
			shown.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	shown.PrintDefaults()
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenario, "scenario", scFanout, "connect, fanout, rooms, echo, request, churn or recovery")
	fs.IntVar(&o.clients, "clients", 1000, "number of clients (churn: concurrent connection slots)")
	fs.Float64Var(&o.rate, "rate", 0, "fanout/rooms: messages per second in total (default 100); recovery: messages per second per room (default 10); churn: connects per second (default 500)")
	fs.IntVar(&o.size, "size", 128, "message size in bytes (at least 16)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of the measured phase (max 10m)")
	fs.IntVar(&o.rooms, "rooms", 100, "rooms and recovery scenarios: number of rooms")
	fs.IntVar(&o.procs, "procs", 1, "generator processes to spread the clients over")
	fs.StringVar(&o.url, "url", "", "target a running server (ws://127.0.0.1:PORT/ws) instead of starting one")
	fs.DurationVar(&o.grace, "grace", 2*time.Second, "how long to wait for in-flight messages after the server stopped sending")
	fs.DurationVar(&o.hold, "hold", 2*time.Second, "connect scenario: how long to hold the clients idle before measuring")
	fs.IntVar(&o.dialConcurrency, "dial-concurrency", 64, "parallel dials per generator process")
	fs.IntVar(&o.clientReadBuf, "client-readbuf", 4096, "read buffer per client connection in bytes; frames that arrive together are read with one syscall only if they fit")
	fs.DurationVar(&o.timeout, "timeout", 0, "overall deadline of the run (0: derived from -duration and -clients)")
	fs.BoolVar(&o.progress, "progress", true, "print progress on stderr once per second")
	fs.StringVar(&o.serverProfile, "server-cpuprofile", "", "write a CPU profile of the started server to this file")
	fs.StringVar(&o.serverMemProf, "server-memprofile", "", "write a heap profile of the started server to this file, taken after a collection when the clients are connected (connect: idle)")
	fs.IntVar(&o.slow, "slow", 0, "fanout: how many of the clients read slowly (one message per -slow-read); they are left out of latency and loss")
	fs.DurationVar(&o.slowRead, "slow-read", 200*time.Millisecond, "fanout: the slow clients' pause between two messages")
	fs.BoolVar(&o.distinct, "distinct", false, "fanout: the server sends each client its own copy of each message instead of one shared broadcast")
	fs.DurationVar(&o.gap, "gap", 2*time.Second, "recovery: a client that dropped its connection dials again after a random pause of up to this")
	fs.DurationVar(&o.dropEvery, "drop-every", 5*time.Second, "recovery: how long a client keeps a connection before it drops it (uniform in [0.5, 1.5] times this)")

	fs.BoolVar(&o.serve, "serve", false, "run the server side (hub plus control API) instead of the generator")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "-serve: listen address (loopback only)")
	fs.DurationVar(&o.linger, "linger", 0, "server: core.Config.WriteLinger")
	fs.IntVar(&o.queue, "queue", 0, "server: core.Config.SendChannelSize (0: core's default)")
	fs.IntVar(&o.readBuf, "readbuf", 512, "server: core.Config.ReadBufferSize")
	fs.BoolVar(&o.compress, "compress", false, "server: core.Config.EnableCompression")
	fs.BoolVar(&o.coalesce, "coalesce", false, "server: core.Config.CoalesceWrites")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (generator or -serve) to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "-serve: overwrite this file with a heap profile at each collected stats request")
	fs.BoolVar(&o.exitOnEOF, "exit-on-eof", false, "-serve: stop when stdin reaches EOF (set by the generator)")
	fs.StringVar(&o.policy, "policy", "newest", "server: drop policy for full client queues: newest, oldest or disconnect")
	fs.Int64Var(&o.maxQueued, "max-queued", 0, "server: core.Config.MaxQueuedBytes (0: core's default)")
	fs.IntVar(&o.history, "history", 0, "server: messages each history room (hist-*, the recovery scenario's) keeps; 0: 4096 for -serve, and for a generator enough for 2 x -rate x (-gap + 10s)")

	fs.BoolVar(&o.worker, "worker", false, "internal: run as a client worker of a generator")
	fs.StringVar(&o.workerSpec, "worker-spec", "", "internal: the worker's group spec (JSON)")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if o.serve || o.worker {
		return o, nil
	}
	return o, o.validate()
}

func (o *options) validate() error {
	switch o.scenario {
	case scConnect, scFanout, scRooms, scEcho, scRequest, scChurn, scRecovery:
	default:
		return fmt.Errorf("%w: unknown -scenario %q", errUsage, o.scenario)
	}
	if o.rate == 0 {
		switch o.scenario {
		case scChurn:
			o.rate = 500
		case scRecovery:
			o.rate = 10
		default:
			o.rate = 100
		}
	}
	switch {
	case o.clients < 1 || o.clients > maxClients:
		return fmt.Errorf("%w: -clients must be in [1, %d]", errUsage, maxClients)
	case o.rate <= 0 || o.rate > 1_000_000:
		return fmt.Errorf("%w: -rate must be in (0, 1e6]", errUsage)
	case o.size < 16 || o.size > 1<<20:
		return fmt.Errorf("%w: -size must be in [16, 1MiB]", errUsage)
	case o.duration <= 0 || o.duration > maxDuration:
		return fmt.Errorf("%w: -duration must be in (0, %v]", errUsage, maxDuration)
	case o.hold < 0 || o.hold > maxDuration:
		return fmt.Errorf("%w: -hold must be in [0, %v]", errUsage, maxDuration)
	case o.grace < 0 || o.grace > time.Minute:
		return fmt.Errorf("%w: -grace must be in [0, 1m]", errUsage)
	case o.rooms < 1 || o.rooms > 100_000:
		return fmt.Errorf("%w: -rooms must be in [1, 100000]", errUsage)
	case o.procs < 1 || o.procs > maxProcs:
		return fmt.Errorf("%w: -procs must be in [1, %d]", errUsage, maxProcs)
	case o.procs > o.clients:
		return fmt.Errorf("%w: -procs %d exceeds -clients %d", errUsage, o.procs, o.clients)
	case o.clientReadBuf < 128 || o.clientReadBuf > 1<<20:
		return fmt.Errorf("%w: -client-readbuf must be in [128, 1MiB]", errUsage)
	case o.dialConcurrency < 1 || o.dialConcurrency > 4096:
		return fmt.Errorf("%w: -dial-concurrency must be in [1, 4096]", errUsage)
	case o.timeout < 0:
		return fmt.Errorf("%w: -timeout must not be negative", errUsage)
	case o.slow < 0 || o.slow > o.clients:
		return fmt.Errorf("%w: -slow must be in [0, -clients]", errUsage)
	case (o.slow > 0 || o.distinct) && o.scenario != scFanout:
		return fmt.Errorf("%w: -slow and -distinct apply to the fanout scenario", errUsage)
	case o.slowRead <= 0 || o.slowRead > time.Minute:
		return fmt.Errorf("%w: -slow-read must be in (0, 1m]", errUsage)
	case o.gap < 0 || o.gap > time.Minute:
		return fmt.Errorf("%w: -gap must be in [0, 1m]", errUsage)
	case o.dropEvery < time.Millisecond || o.dropEvery > maxDuration:
		return fmt.Errorf("%w: -drop-every must be in [1ms, %v]", errUsage, maxDuration)
	case o.history < 0 || o.history > maxHistory:
		return fmt.Errorf("%w: -history must be in [0, %d]", errUsage, maxHistory)
	case o.scenario == scRecovery && o.rate*float64(o.rooms) > 1_000_000:
		return fmt.Errorf("%w: -rate x -rooms must be at most 1e6 msg/s", errUsage)
	case o.scenario == scRecovery && o.size < loadserver.TextHeaderSize:
		return fmt.Errorf("%w: -size must be at least %d for recovery (its text header)", errUsage, loadserver.TextHeaderSize)
	}
	if _, err := dropPolicy(o.policy); err != nil {
		return err
	}
	if o.url != "" {
		if err := checkLoopbackURL(o.url); err != nil {
			return err
		}
	}
	if o.timeout == 0 {
		o.timeout = o.duration + o.hold + o.grace + time.Minute + time.Duration(o.clients)*2*time.Millisecond
	}
	return nil
}

// historySize is the history size of the server: -history when given;
// else, for a server the generator starts, enough for what a room
// receives while a client is away for -gap plus 10 s of dialling and
// recovering, twice over, and at least loadserver.DefaultHistorySize.
func (o *options) historySize() int {
	if o.history > 0 {
		return o.history
	}
	need := int(2 * o.rate * (o.gap + 10*time.Second).Seconds())
	return min(maxHistory, max(need, loadserver.DefaultHistorySize))
}

// checkLoopbackURL accepts only ws:// URLs whose host is a loopback IP or
// "localhost": this tool generates load, and load goes to this machine only.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: -url: %w", errUsage, err)
	}
	if u.Scheme != "ws" {
		return fmt.Errorf("%w: -url must start with ws://", errUsage)
	}
	return checkLoopbackHost(u.Hostname())
}

func checkLoopbackHost(host string) error {
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q is not a loopback address; loadtest only targets this machine (127.0.0.0/8, ::1)", errUsage, host)
}

// dropPolicy parses -policy.
func dropPolicy(name string) (core.DropPolicy, error) {
	switch name {
	case "newest":
		return core.DropNewest, nil
	case "oldest":
		return core.DropOldest, nil
	case "disconnect":
		return core.DisconnectSlow, nil
	}
	return 0, fmt.Errorf("%w: -policy must be newest, oldest or disconnect, not %q", errUsage, name)
}
