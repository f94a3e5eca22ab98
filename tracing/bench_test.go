package tracing_test

import (
	"context"
	"testing"

	"github.com/gorilla/websocket"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/tracing"
	"github.com/wshub/wshub/wshubtest"
)

// benchTracers are the setups compared: no Tracer (the default), and the
// SDK sampling every span into a discarding exporter (the most a tracer
// costs here: sampled-out spans cost less).
func benchTracers(b *testing.B) map[string][]core.Option {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return map[string][]core.Option{
		"tracer=off": nil,
		"tracer=on":  {core.WithTracer(tracing.New(tp))},
	}
}

// BenchmarkMessage is a client's message round trip over a real socket:
// the handler answers each message, and the client waits for the answer.
//
//	go test -run '^$' -bench BenchmarkMessage -benchmem ./tracing/
func BenchmarkMessage(b *testing.B) {
	for name, opts := range benchTracers(b) {
		b.Run(name, func(b *testing.B) {
			n := wshubtest.StartHub(b, append(opts, core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
				return c.SendWithContext(m.Context(), m.Data)
			}))...)
			conn, resp, err := websocket.DefaultDialer.Dial(n.URL("/"), nil)
			if err != nil {
				b.Fatal(err)
			}
			_ = resp.Body.Close()
			b.Cleanup(func() { _ = conn.Close() })
			msg := []byte(`{"type":"echo"}`)
			b.ReportAllocs()
			for b.Loop() {
				if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := conn.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPublish is a send to the other nodes (a room with no member
// here, over the in-memory bus) with a context that carries a span, as a
// traced handler's send has: with a Tracer it records a wshub.publish span
// and stamps the message with its context.
//
//	go test -run '^$' -bench BenchmarkPublish -benchmem ./tracing/
func BenchmarkPublish(b *testing.B) {
	for name, opts := range benchTracers(b) {
		b.Run(name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider()
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			ctx, span := tp.Tracer("bench").Start(context.Background(), "handler")
			defer span.End()
			n := wshubtest.StartHub(b, append(opts, core.WithAdapter(memory.NewBus().NewAdapter()))...)
			msg := make([]byte, 128)
			b.ReportAllocs()
			for b.Loop() {
				_ = n.Hub.BroadcastToRoomWithContext(ctx, "elsewhere", msg)
			}
		})
	}
}
