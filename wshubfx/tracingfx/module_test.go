package tracingfx_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/tracing"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubfx/tracingfx"
	"github.com/wshub/wshub/wshubtest"
)

// With Module and a TracerProvider in the graph, the hub traces each
// message, named after the wshubfx router's events.
func TestModuleTracesMessages(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var hub *core.Hub
	app := fxtest.New(t, fx.NopLogger, wshubfx.Module, tracingfx.Module,
		fx.Supply(fx.Annotate(tp, fx.As(new(oteltrace.TracerProvider)))),
		wshubfx.AsRoute("ping", func(c *core.Client, _ *core.Message) error { return c.Send([]byte("pong")) }),
		fx.Populate(&hub))
	app.RequireStart()
	t.Cleanup(app.RequireStop)

	s := wshubtest.ServeHub(t, hub).Dial(t)
	require.NoError(t, s.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)))
	require.True(t, s.Await("pong", 10*time.Second))
	require.Eventually(t, func() bool {
		for _, span := range exp.GetSpans() {
			for _, kv := range span.Attributes {
				if span.Name == tracing.SpanMessage && kv.Key == tracing.AttrEvent && kv.Value.AsString() == "ping" {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, "no wshub.message span for ping")
}

// Without a TracerProvider the app refuses to start, saying what to
// provide.
func TestModuleNeedsAProvider(t *testing.T) {
	app := fx.New(fx.NopLogger, wshubfx.Module, tracingfx.Module, fx.Invoke(func(*core.Hub) {}))
	require.Error(t, app.Err())
	assert.Contains(t, app.Err().Error(), "tracingfx: Module needs a trace.TracerProvider")
}
