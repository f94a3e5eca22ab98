package natsfx

import (
	"context"
	"errors"
	"fmt"

	natsgo "github.com/nats-io/nats.go"
	"go.uber.org/fx"

	natsadapter "github.com/wshub/wshub/adapters/nats"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubfx/internal/lazy"
)

// Config configures Module. Its zero value connects to natsgo.DefaultURL.
// Supply it like wshubfx.Config (fx.Supply, fx.Replace or fx.Decorate at
// the top level); it is optional.
type Config struct {
	// URL is the server list Module connects to when the graph has no
	// *nats.Conn (default natsgo.DefaultURL, nats://127.0.0.1:4222).
	URL string
	// ConnectOptions are passed to natsgo.Connect, after Module's own:
	// natsgo.Name("wshub"), natsgo.RetryOnFailedConnect(true) and the
	// adapter's natsadapter.ConnectOptions (unlimited reconnects every
	// 250-500 ms, no reconnect buffer). So by default the application starts while
	// the broker is down, serves its local clients, reports the adapter
	// down in readiness and links up when the broker comes; add
	// natsgo.RetryOnFailedConnect(false) to fail start-up instead.
	ConnectOptions []natsgo.Option
	// AdapterOptions configure the adapter (subject prefix, health timeout,
	// error handler).
	AdapterOptions []natsadapter.Option
}

// ErrNotConnected is returned by the adapter of a connection Module dials
// itself before OnStart has created that connection. From OnStart on the
// NATS adapter answers, also while the broker is still unreachable.
var ErrNotConnected = errors.New("natsfx: not connected yet")

// Module provides the NATS adapter as wshubfx.Module's default
// core.Adapter.
var Module = fx.Module("wshub.nats", fx.Provide(newAdapter))

type params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Conn      *natsgo.Conn `optional:"true"`
	Config    Config       `optional:"true"`
	Logger    core.Logger
}

func newAdapter(p params) (wshubfx.AdapterResult, error) {
	if p.Conn != nil {
		a, err := natsadapter.New(p.Conn, p.Config.AdapterOptions...)
		if err != nil {
			return wshubfx.AdapterResult{}, fmt.Errorf("natsfx: %w", err)
		}
		return wshubfx.AdapterResult{Adapter: a}, nil
	}
	d := &dialer{cfg: p.Config, logger: core.Named(p.Logger, "wshub.nats"), lazy: lazy.New(ErrNotConnected)}
	p.Lifecycle.Append(fx.Hook{OnStart: d.start, OnStop: d.stop})
	return wshubfx.AdapterResult{Adapter: d.lazy}, nil
}

// dialer owns the connection Module made.
type dialer struct {
	cfg    Config
	logger core.Logger
	lazy   *lazy.Adapter
	nc     *natsgo.Conn
}

func (d *dialer) start(context.Context) error {
	url := d.cfg.URL
	if url == "" {
		url = natsgo.DefaultURL
	}
	opts := append([]natsgo.Option{
		natsgo.Name("wshub"),
		natsgo.RetryOnFailedConnect(true),
	}, natsadapter.ConnectOptions()...)
	opts = append(opts, d.cfg.ConnectOptions...)
	nc, err := natsgo.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("natsfx: connect %s: %w", url, err)
	}
	a, err := natsadapter.New(nc, d.cfg.AdapterOptions...)
	if err != nil {
		nc.Close()
		return fmt.Errorf("natsfx: %w", err)
	}
	d.nc = nc
	d.lazy.Set(a)
	if nc.IsConnected() {
		d.logger.Info("connected", "url", nc.ConnectedUrlRedacted())
	} else {
		d.logger.Warn("broker unreachable; serving local clients and retrying", "url", url)
	}
	return nil
}

// stop runs after the hub's Shutdown closed the adapter: it flushes what
// the connection still buffers and closes it.
func (d *dialer) stop(ctx context.Context) error {
	var err error
	if d.nc.IsConnected() {
		err = d.nc.FlushWithContext(ctx)
	}
	d.nc.Close()
	if err != nil && !errors.Is(err, natsgo.ErrConnectionClosed) {
		d.logger.Warn("flush before close failed", "error", err)
	}
	return nil
}
