package metrics

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultNamespace is the namespace (metric name prefix) used unless
// WithNamespace says otherwise.
const DefaultNamespace = "wshub"

// Option configures New and NewWithRegistry.
type Option func(*options)

type options struct {
	namespace      string
	subsystem      string
	constLabels    prometheus.Labels
	latencyBuckets []float64
	sizeBuckets    []float64
}

func defaultOptions() options {
	return options{
		namespace:      DefaultNamespace,
		latencyBuckets: DefaultLatencyBuckets(),
		sizeBuckets:    DefaultSizeBuckets(),
	}
}

// DefaultLatencyBuckets returns the default upper bounds, in seconds, of the
// handler latency and broadcast duration histograms: 100µs to 2.5s, dense
// below 10ms where a healthy hub spends its time. It returns a new slice on
// every call.
func DefaultLatencyBuckets() []float64 {
	return []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
}

// DefaultSizeBuckets returns the default upper bounds, in bytes, of the
// message size histogram: powers of four from 64 B to 1 MiB. It returns a new
// slice on every call.
func DefaultSizeBuckets() []float64 {
	return prometheus.ExponentialBuckets(64, 4, 8)
}

// WithNamespace sets the first part of every metric name. The default is
// DefaultNamespace ("wshub"); an empty namespace leaves the prefix out.
func WithNamespace(ns string) Option {
	return func(o *options) { o.namespace = ns }
}

// WithSubsystem sets the part of every metric name between the namespace and
// the metric's own name, for example "chat" gives wshub_chat_connections.
// There is none by default.
func WithSubsystem(subsystem string) Option {
	return func(o *options) { o.subsystem = subsystem }
}

// WithConstLabels adds labels with fixed values to every metric, for example
// {"hub": "chat"}, so that several hubs can register on one registry. The
// names "le", "type", "op" and "code" are reserved (New returns
// ErrReservedLabel). The map is copied. Successive calls merge their labels.
func WithConstLabels(labels prometheus.Labels) Option {
	labels = maps.Clone(labels)
	return func(o *options) {
		if o.constLabels == nil {
			o.constLabels = make(prometheus.Labels, len(labels))
		}
		maps.Copy(o.constLabels, labels)
	}
}

// WithBuckets sets the upper bounds, in seconds, of the two duration
// histograms (handler latency and broadcast duration). They must be strictly
// increasing (New returns ErrInvalidBuckets otherwise). The default is
// DefaultLatencyBuckets. The slice is copied.
func WithBuckets(buckets []float64) Option {
	buckets = slices.Clone(buckets)
	return func(o *options) { o.latencyBuckets = buckets }
}

// WithSizeBuckets sets the upper bounds, in bytes, of the message size
// histogram. They must be strictly increasing (New returns
// ErrInvalidBuckets otherwise). The default is DefaultSizeBuckets. The slice
// is copied.
func WithSizeBuckets(buckets []float64) Option {
	buckets = slices.Clone(buckets)
	return func(o *options) { o.sizeBuckets = buckets }
}
