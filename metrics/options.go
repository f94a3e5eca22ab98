package metrics

import (
	"maps"
	"slices"
	"time"

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
	nativeFactor   float64 // 0: classic histograms only
}

func defaultOptions() options {
	return options{
		namespace:      DefaultNamespace,
		latencyBuckets: DefaultLatencyBuckets(),
		sizeBuckets:    DefaultSizeBuckets(),
	}
}

// DefaultLatencyBuckets returns the default upper bounds, in seconds, of the
// handler and broadcast duration histograms: 100µs to 2.5s, dense
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
// histograms (handler and broadcast durations). They must be strictly
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

// DefaultNativeHistogramBucketFactor is a bucket factor for
// WithNativeHistograms: each bucket at most 10% wider than the one before,
// a relative error of at most 5% on quantiles.
const DefaultNativeHistogramBucketFactor = 1.1

// The bounds of a native histogram's memory (see
// prometheus.HistogramOpts): at most this many buckets; when more are
// needed, the histogram starts over if it last did at least
// nativeHistogramMinReset ago, and otherwise widens its buckets.
const (
	nativeHistogramMaxBuckets = 100
	nativeHistogramMinReset   = time.Hour
)

// WithNativeHistograms makes every histogram (message size, handler and
// broadcast durations) a Prometheus native histogram as well, with
// bucketFactor as its NativeHistogramBucketFactor, for example
// DefaultNativeHistogramBucketFactor (1.1). The classic buckets stay, so
// scrapers that do not ask for native histograms (the text formats, or a
// Prometheus without native histograms enabled) see no change. Each
// histogram keeps at most 100 native buckets. bucketFactor must be above 1
// (New returns ErrInvalidBucketFactor otherwise). Off by default.
func WithNativeHistograms(bucketFactor float64) Option {
	return func(o *options) { o.nativeFactor = bucketFactor }
}
