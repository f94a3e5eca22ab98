package wshubfx

import (
	"time"

	"github.com/wshub/wshub/core"
)

// Defaults applied to zero fields of Config.
const (
	// DefaultStopTimeout is how long OnStop lets the hub drain before it
	// closes the remaining clients.
	DefaultStopTimeout = 10 * time.Second
	// DefaultAddr is the HTTPModule's listen address.
	DefaultAddr = ":8080"
	// DefaultReadHeaderTimeout bounds reading a request's headers, so a
	// stalled WebSocket handshake cannot hold a connection.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes keep-alive HTTP connections idle this long.
	DefaultIdleTimeout = 60 * time.Second
)

// Config configures the modules of this package. The zero value works: every
// zero field takes the default its comment names. No module provides a
// Config; each takes it as an optional dependency, so an application sets it
// in any of these ways, at the top level of its fx.New:
//
//	fx.Supply(wshubfx.Config{NodeID: "pod-1"})
//	fx.Replace(wshubfx.Config{NodeID: "pod-1"})
//	fx.Decorate(func() wshubfx.Config { return loadConfig() })
//	fx.Provide(func(env Env) wshubfx.Config { ... })
type Config struct {
	// Hub holds the per-connection WebSocket settings; zero fields take
	// core.DefaultConfig's values.
	Hub core.Config
	// Limits bounds what clients may do; the zero value is unlimited but
	// for a connection cap derived from the open-file limit (see
	// core.Limits.MaxConnections).
	Limits core.Limits
	// NodeID names this node on the adapter's bus; empty: random.
	NodeID string
	// Presence is the heartbeat interval of cluster presence
	// (core.WithPresence); zero turns presence off. It needs an adapter.
	// Member lists (Rooms' Presence) need it on a cluster: it tells the
	// nodes which node died, so that its members leave, and which nodes
	// the control plane (core.Hub.DisconnectUser...) waits for.
	Presence time.Duration
	// WithoutClusterControl makes this node ignore other nodes' control
	// requests (core.WithClusterControl(false)).
	WithoutClusterControl bool
	// MaxPublishDelay bounds how late a message may leave this node for the
	// others (core.WithMaxPublishDelay); zero: core's default, 1s.
	MaxPublishDelay time.Duration
	// Rooms gives rooms their options by name prefix
	// (core.RoomOptionsByPrefix): {"chat:": {History: {Size: 100}}} keeps
	// the last 100 messages of every "chat:" room for recovery, and
	// {"lobby:": {Presence: {Enabled: true}}} keeps member lists of the
	// "lobby:" rooms (core.Hub.Presence, Hooks.OnPresenceJoin). An app
	// that decides in code provides a core.RoomOptionsFunc to the graph
	// instead; giving both is an error.
	Rooms map[string]core.RoomOptions
	// DrainTimeout is how long a client's send queue must stay empty during
	// a drain before the hub closes it with 1001 (core.WithDrainTimeout).
	// Zero: half of StopTimeout, so idle clients are closed within the stop
	// timeout. Negative: no idle reaper; the drain waits for clients to
	// leave until StopTimeout.
	DrainTimeout time.Duration
	// HookTimeout bounds BeforeDisconnect hooks (core.WithHookTimeout);
	// zero: the hub's default, 5s.
	HookTimeout time.Duration
	// StopTimeout bounds the drain in OnStop (default DefaultStopTimeout).
	// Clients still connected then are closed with 1001 by Shutdown after
	// their queues are written. Set fx.StopTimeout above it (fx's default is
	// 15s): Shutdown needs time after the drain.
	StopTimeout time.Duration
	// DropPolicy applies to full send queues (default core.DropNewest);
	// core.DisconnectSlow closes clients that cannot keep up, and
	// Hooks.OnSlowClient (AsHooks) hears of it.
	DropPolicy core.DropPolicy
	// WithoutHandlerLatency stops the hub from recording handler latency
	// (core.WithoutHandlerLatency). Set it when a contributed middleware,
	// such as core.MetricsMiddleware, records it already, or each message
	// is counted twice.
	WithoutHandlerLatency bool
	// MetricsNativeHistogramFactor, when above 1, makes the MetricsModule's
	// histograms native histograms as well, with this bucket factor
	// (metrics.WithNativeHistograms; 1.1 is a good start); their classic
	// buckets stay. Zero: classic histograms only. A value that is not
	// zero and not above 1 fails the graph's construction.
	MetricsNativeHistogramFactor float64
	// HealthTimeout is the HealthModule's default per-check timeout; zero:
	// health.DefaultTimeout (800 ms). Readiness answers once its slowest
	// check returned or timed out, so keep it below the readiness probe's
	// timeoutSeconds (kubelet's default is 1 s), or kubelet counts the
	// probe as failed however the checks went.
	HealthTimeout time.Duration
	// HealthAdapterRequired makes the HealthModule's "adapter" check (the
	// adapter's broker link) gate readiness: readiness answers 503 while
	// the link is down (health.WithAdapterRequired). By default the check
	// is reported in the readiness body but does not fail readiness: a
	// node that lost its broker still serves its own clients, and failing
	// readiness on every node at once during a broker outage would take
	// every endpoint out of the Service.
	HealthAdapterRequired bool
	// HTTP configures the HTTPModule.
	HTTP HTTPConfig
}

// HTTPConfig configures the HTTPModule's servers.
type HTTPConfig struct {
	// Addr is the main listen address (default DefaultAddr, ":8080"). Use
	// "127.0.0.1:0" for a free port; Server.Addr reports the bound one.
	Addr string
	// AdminAddr, when set, is a second listen address serving only the
	// probes and metrics. The admin server starts before the hub and stops
	// after it, so probes observe the drain (readiness 503) while the main
	// server has already stopped accepting. Empty: probes and metrics are
	// served on Addr and stop with it.
	AdminAddr string
	// WSPath is where WebSocket upgrades are served (default "/ws").
	WSPath string
	// LivePath serves liveness (default "/healthz").
	LivePath string
	// ReadyPath serves readiness (default "/readyz").
	ReadyPath string
	// MetricsPath serves Prometheus metrics when a Gatherer is available
	// (default "/metrics").
	MetricsPath string
	// ReadHeaderTimeout bounds reading request headers, handshakes included
	// (default DefaultReadHeaderTimeout).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default
	// DefaultIdleTimeout). Hijacked WebSocket connections are not affected.
	IdleTimeout time.Duration
}

// DefaultConfig returns Config{} with the defaults filled in, for reading
// them; the modules do the same with whatever Config they get.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = c.StopTimeout / 2
	}
	h := &c.HTTP
	if h.Addr == "" {
		h.Addr = DefaultAddr
	}
	if h.WSPath == "" {
		h.WSPath = "/ws"
	}
	if h.LivePath == "" {
		h.LivePath = "/healthz"
	}
	if h.ReadyPath == "" {
		h.ReadyPath = "/readyz"
	}
	if h.MetricsPath == "" {
		h.MetricsPath = "/metrics"
	}
	if h.ReadHeaderTimeout <= 0 {
		h.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if h.IdleTimeout <= 0 {
		h.IdleTimeout = DefaultIdleTimeout
	}
	return c
}

// hubOptions turns c into core options.
func (c Config) hubOptions() []core.Option {
	opts := []core.Option{
		core.WithConfig(c.Hub),
		core.WithLimits(c.Limits),
		core.WithNodeID(c.NodeID),
		core.WithDropPolicy(c.DropPolicy),
		// withDefaults left DrainTimeout non-zero; negative means no idle
		// reaper, which core spells 0.
		core.WithDrainTimeout(max(c.DrainTimeout, 0)),
		core.WithHookTimeout(c.HookTimeout),         // zero: core keeps its default
		core.WithMaxPublishDelay(c.MaxPublishDelay), // likewise
	}
	if c.Presence > 0 {
		opts = append(opts, core.WithPresence(c.Presence))
	}
	if c.WithoutClusterControl {
		opts = append(opts, core.WithClusterControl(false))
	}
	if c.WithoutHandlerLatency {
		opts = append(opts, core.WithoutHandlerLatency())
	}
	if len(c.Rooms) > 0 {
		opts = append(opts, core.WithRoomOptions(core.RoomOptionsByPrefix(c.Rooms)))
	}
	return opts
}
