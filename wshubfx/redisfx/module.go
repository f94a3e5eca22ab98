package redisfx

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	redisadapter "github.com/wshub/wshub/adapters/redis"
	"github.com/wshub/wshub/wshubfx"
)

// DefaultURL is the Redis server Module uses when neither the graph holds
// a client nor Config.URL is set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Config configures Module. Its zero value uses DefaultURL. Supply it like
// wshubfx.Config (fx.Supply, fx.Replace or fx.Decorate at the top level);
// it is optional.
type Config struct {
	// URL is the redis:// or rediss:// URL of the server Module's own
	// client talks to when the graph has no goredis.UniversalClient
	// (default DefaultURL).
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
	Config    Config                  `optional:"true"`
}

func newAdapter(p params) (wshubfx.AdapterResult, error) {
	if p.Client != nil {
		a, err := redisadapter.New(p.Client, p.Config.AdapterOptions...)
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
	client := goredis.NewClient(opts) // connects on first use
	a, err := redisadapter.New(client, p.Config.AdapterOptions...)
	if err != nil {
		_ = client.Close()
		return wshubfx.AdapterResult{}, fmt.Errorf("redisfx: %w", err)
	}
	// Registered before the hub's hook, so it runs after the hub closed
	// the adapter.
	p.Lifecycle.Append(fx.Hook{OnStop: func(context.Context) error {
		if err := client.Close(); err != nil {
			return fmt.Errorf("redisfx: close client: %w", err)
		}
		return nil
	}})
	return wshubfx.AdapterResult{Adapter: a}, nil
}
