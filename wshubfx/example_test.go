package wshubfx_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/logging"
	"github.com/wshub/wshub/wshubfx"
)

// A top-level fx.Decorate swaps the hub's logger; here zap's example
// logger, which writes JSON without timestamps to stdout.
func ExampleModule_decorateLogger() {
	app := fx.New(
		fx.NopLogger,
		wshubfx.Module,
		fx.Supply(wshubfx.Config{NodeID: "node-1", StopTimeout: time.Second}),
		fx.Decorate(func() core.Logger { return logging.NewZap(zap.NewExample()) }),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := app.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"level":"info","msg":"wshubfx: hub running","node_id":"node-1"}
	// {"level":"info","msg":"wshub: draining","clients":0}
	// {"level":"info","msg":"wshub: shutting down","clients":0}
}

// Routes contributed from anywhere in the graph are registered on the
// hub's router, which names events by the JSON field "type".
func ExampleAsRoute() {
	type greeting struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	var srv *wshubfx.Server
	app := fx.New(
		fx.NopLogger,
		wshubfx.Module,
		wshubfx.HTTPModule,
		fx.Supply(wshubfx.Config{HTTP: wshubfx.HTTPConfig{Addr: "127.0.0.1:0"}}),
		wshubfx.AsRoute("greet", func(c *core.Client, m *core.Message) error {
			var g greeting
			if err := m.JSON(&g); err != nil {
				return err
			}
			return c.SendText("Hello, " + g.Name + "!")
		}),
		fx.Populate(&srv),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer app.Stop(ctx) //nolint:errcheck // example

	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+srv.Addr()+"/ws", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = resp.Body.Close()
	defer func() { _ = conn.Close() }()
	if err := conn.WriteJSON(greeting{Type: "greet", Name: "Ada"}); err != nil {
		fmt.Println(err)
		return
	}
	_, reply, err := conn.ReadMessage()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(reply))
	// Output:
	// Hello, Ada!
}
