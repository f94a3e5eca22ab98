// Package tracingfx provides Module, which traces a wshubfx application's
// hub with OpenTelemetry through the tracing package. It is a package of
// its own so that applications that do not trace do not link the
// OpenTelemetry API. It starts no goroutines.
package tracingfx
