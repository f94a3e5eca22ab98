package wshubfx_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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
	// {"level":"info","logger":"wshub.fx","msg":"hub running","node_id":"node-1"}
	// {"level":"info","logger":"wshub","msg":"draining","clients":0}
	// {"level":"info","logger":"wshub","msg":"shutting down","clients":0}
}

// LoggingModule takes the application's *slog.Logger when the graph has
// no *zap.Logger. slog has no logger names: each line says which part
// wrote it in the attribute "logger" (the hub "wshub", this package
// "wshub.fx").
func ExampleLoggingModule_slog() {
	// A JSON handler that drops the time attribute, so the output is the
	// same each run.
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	app := fx.New(
		fx.NopLogger,
		wshubfx.LoggingModule,
		wshubfx.Module,
		fx.Supply(slog.New(h), wshubfx.Config{NodeID: "node-1", StopTimeout: time.Second}),
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
	// {"level":"INFO","msg":"hub running","logger":"wshub.fx","node_id":"node-1"}
	// {"level":"INFO","msg":"draining","logger":"wshub","clients":0}
	// {"level":"INFO","msg":"shutting down","logger":"wshub","clients":0}
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
