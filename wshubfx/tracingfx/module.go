package tracingfx

import (
	"errors"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/tracing"
)

// Module traces the hub with OpenTelemetry (see the tracing package). Add
// it next to wshubfx.Module. It needs a trace.TracerProvider in the graph (the SDK's
// *sdktrace.TracerProvider, provided as the interface:
// fx.Annotate(tp, fx.As(new(trace.TracerProvider)))); without one, the app
// fails to start and says so. Message spans are named after the graph's
// *core.Router's events, and an optional propagation.TextMapPropagator in
// the graph reads the trace headers of upgrade requests. It provides the
// core.Tracer that Module gives the hub (a top-level fx.Decorate of
// core.Tracer still wins); without it the hub has no Tracer and pays
// nothing for tracing.
var Module = fx.Module("wshub.tracing", fx.Provide(newTracer))

type tracingParams struct {
	fx.In

	TracerProvider trace.TracerProvider          `optional:"true"`
	Propagator     propagation.TextMapPropagator `optional:"true"`
	Router         *core.Router                  `optional:"true"`
}

// errNoTracerProvider is Module's start-up failure without a provider.
var errNoTracerProvider = errors.New("tracingfx: Module needs a trace.TracerProvider in the graph; " +
	"provide the OpenTelemetry SDK's provider as one: fx.Supply(fx.Annotate(tp, fx.As(new(trace.TracerProvider))))")

func newTracer(p tracingParams) (core.Tracer, error) {
	if p.TracerProvider == nil {
		return nil, errNoTracerProvider
	}
	opts := []tracing.Option{tracing.WithRouter(p.Router)}
	if p.Propagator != nil {
		opts = append(opts, tracing.WithPropagator(p.Propagator))
	}
	return tracing.New(p.TracerProvider, opts...), nil
}
