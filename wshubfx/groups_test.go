package wshubfx_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
)

// trace records names in call order, safely across goroutines.
type trace struct {
	mu    sync.Mutex
	names []string
}

func (tr *trace) add(name string) {
	tr.mu.Lock()
	tr.names = append(tr.names, name)
	tr.mu.Unlock()
}

func (tr *trace) get() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.names...)
}

// Group values reach the hub sorted, whatever order they were provided in:
// middleware and hook sets by Order then Name.
func TestGroupOrderIsDeterministic(t *testing.T) {
	type contrib struct {
		name  string
		order int
	}
	contribs := []contrib{{"b", 2}, {"z", 1}, {"a", 1}, {"m", 0}, {"late", 10}, {"early", -5}}
	want := []string{"early", "m", "a", "z", "b", "late"}

	for round := range 5 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			shuffled := append([]contrib(nil), contribs...)
			rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

			var mw, hooks trace
			connected := make(chan struct{})
			var opts []fx.Option
			for _, c := range shuffled {
				opts = append(opts,
					wshubfx.AsMiddleware(c.name, c.order, func(next core.HandlerFunc) core.HandlerFunc {
						return func(cl *core.Client, m *core.Message) error {
							mw.add(c.name)
							return next(cl, m)
						}
					}),
					wshubfx.AsHooks(c.name, c.order, core.Hooks{AfterConnect: func(*core.Client) {
						hooks.add(c.name)
					}}),
				)
			}
			// The core.Hooks value in the graph runs before every HookSet.
			opts = append(opts, fx.Decorate(func() core.Hooks {
				return core.Hooks{AfterConnect: func(*core.Client) { hooks.add("base") }}
			}))
			// A last hook set signals that AfterConnect ran through.
			opts = append(opts, wshubfx.AsHooks("zz-done", 100, core.Hooks{AfterConnect: func(*core.Client) { close(connected) }}))

			var hub *core.Hub
			startApp(t, wshubfx.Module,
				wshubfx.AsRoute("go", func(c *core.Client, _ *core.Message) error { return c.SendText("done") }),
				fx.Options(opts...), fx.Populate(&hub))
			conn := dialHub(t, hub, serveHub(t, hub))
			select {
			case <-connected:
			case <-time.After(waitFor):
				t.Fatal("AfterConnect did not run")
			}
			assert.Equal(t, append([]string{"base"}, want...), hooks.get())

			require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"go"}`)))
			assert.Equal(t, "done", readText(t, conn))
			assert.Equal(t, want, mw.get(), "lowest Order is the outermost middleware")
		})
	}
}

// Routes provided through constructors join the group as AsRoute's do.
func TestProvideHelpers(t *testing.T) {
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		wshubfx.ProvideRoute(func() (wshubfx.Route, error) {
			return wshubfx.Route{Event: "hello", Handler: func(c *core.Client, _ *core.Message) error {
				return c.SendText("world")
			}}, nil
		}),
		wshubfx.ProvideMiddleware(func() wshubfx.Middleware {
			return wshubfx.Middleware{Name: "prefix", Middleware: func(next core.HandlerFunc) core.HandlerFunc {
				return func(c *core.Client, m *core.Message) error {
					if err := c.SendText("via middleware"); err != nil {
						return err
					}
					return next(c, m)
				}
			}}
		}),
		wshubfx.ProvideHooks(func() wshubfx.HookSet {
			return wshubfx.HookSet{Name: "greet", Hooks: core.Hooks{AfterConnect: func(c *core.Client) {
				_ = c.SendText("welcome")
			}}}
		}),
		fx.Populate(&hub))
	conn := dialHub(t, hub, serveHub(t, hub))
	assert.Equal(t, "welcome", readText(t, conn))
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello"}`)))
	assert.Equal(t, "via middleware", readText(t, conn))
	assert.Equal(t, "world", readText(t, conn))
}
