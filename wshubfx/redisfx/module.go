package redisfx

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	redisadapter "github.com/wshub/wshub/adapters/redis"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubfx/internal/lazy"
)

// DefaultURL is the Redis server Module uses when neither the graph holds
// a client nor Config.URL is set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Config configures Module. Its zero value uses DefaultURL. Supply it like
// wshubfx.Config (fx.Supply, fx.Replace or fx.Decorate at the top level);
// it is optional.
type Config struct {
	// URL, when set, is the redis:// or rediss:// URL of the server that
	// Module's own client talks to, even when the graph holds a client (an
	// app's cache client is not taken for pub/sub then). Empty: the graph's
	// goredis.UniversalClient, else its *goredis.Client, else a client of
	// DefaultURL.
	URL string
	// AdapterOptions configure the adapter (channel prefix, health timeout,
	// error handler).
	AdapterOptions []redisadapter.Option
}

// Module provides the Redis adapter as wshubfx.Module's default
// core.Adapter.
var Module = fx.Module("wshub.redis", fx.Provide(newAdapter))

type params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Client    goredis.UniversalClient `optional:"true"`
	// Concrete is a *goredis.Client the app provides as such rather than
	// as a UniversalClient; it is used the same way.
	Concrete *goredis.Client `optional:"true"`
	Config   Config          `optional:"true"`
}

// ErrNotConnected is returned by the adapter of a client Module makes
// itself, for calls before OnStart made that client. The hub makes none.
var ErrNotConnected = errors.New("redisfx: no client yet (before OnStart)")

func newAdapter(p params) (wshubfx.AdapterResult, error) {
	var client goredis.UniversalClient
	if p.Config.URL == "" {
		client = p.Client
		if client == nil && p.Concrete != nil {
			client = p.Concrete
		}
	}
	if client != nil {
		a, err := redisadapter.New(client, p.Config.AdapterOptions...)
		if err != nil {
			return wshubfx.AdapterResult{}, fmt.Errorf("redisfx: %w", err)
		}
		return wshubfx.AdapterResult{Adapter: a}, nil
	}
	url := p.Config.URL
	if url == "" {
		url = DefaultURL
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return wshubfx.AdapterResult{}, fmt.Errorf("redisfx: %w", err)
	}
	// The client is made in OnStart: go-redis starts goroutines in
	// NewClient, which would leak if the graph failed to build.
	o := &owner{opts: opts, adapterOpts: p.Config.AdapterOptions, lazy: lazy.New(ErrNotConnected)}
	// Registered before the hub's hook: starts first, stops after the hub
	// closed the adapter.
	p.Lifecycle.Append(fx.Hook{OnStart: o.start, OnStop: o.stop})
	return wshubfx.AdapterResult{Adapter: o.lazy}, nil
}

// owner owns the client Module made.
type owner struct {
	opts        *goredis.Options
	adapterOpts []redisadapter.Option
	lazy        *lazy.Adapter
	client      *goredis.Client
}

func (o *owner) start(context.Context) error {
	client := goredis.NewClient(o.opts) // connects on first use
	a, err := redisadapter.New(client, o.adapterOpts...)
	if err != nil {
		_ = client.Close()
		return fmt.Errorf("redisfx: %w", err)
	}
	o.client = client
	o.lazy.Set(a)
	return nil
}

func (o *owner) stop(context.Context) error {
	if err := o.client.Close(); err != nil {
		return fmt.Errorf("redisfx: close client: %w", err)
	}
	return nil
}
