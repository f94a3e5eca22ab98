package tracing

import (
	"go.opentelemetry.io/otel/trace"
)

// appendContext appends sc's bus encoding (see the package documentation)
// to dst. A tracestate that does not fit is left out.
func appendContext(dst []byte, sc trace.SpanContext) []byte {
	tid, sid := sc.TraceID(), sc.SpanID()
	dst = append(dst, ctxVersion)
	dst = append(dst, tid[:]...)
	dst = append(dst, sid[:]...)
	dst = append(dst, byte(sc.TraceFlags()))
	if st := sc.TraceState().String(); st != "" && len(st) <= maxState {
		dst = append(dst, st...)
	}
	return dst
}

// decodeContext decodes a bus trace context. It treats b as untrusted: it
// never panics, and it reports false for anything that is not a valid
// context of version 1 (a tracestate that does not parse is dropped, the
// rest kept).
func decodeContext(b []byte) (trace.SpanContext, bool) {
	if len(b) < ctxHeader || b[0] != ctxVersion {
		return trace.SpanContext{}, false
	}
	var cfg trace.SpanContextConfig
	copy(cfg.TraceID[:], b[1:17])
	copy(cfg.SpanID[:], b[17:25])
	cfg.TraceFlags = trace.TraceFlags(b[25]) & trace.FlagsSampled
	cfg.Remote = true
	if len(b) > ctxHeader {
		if st, err := trace.ParseTraceState(string(b[ctxHeader:])); err == nil {
			cfg.TraceState = st
		}
	}
	sc := trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}
