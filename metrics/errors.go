package metrics

import "errors"

var (
	// ErrNilRegisterer is returned by New when it is given no Registerer.
	// Pass a registry of your own, or use NewWithRegistry.
	ErrNilRegisterer = errors.New("metrics: nil prometheus.Registerer")

	// ErrInvalidBuckets is returned by New when histogram buckets given with
	// WithBuckets or WithSizeBuckets are empty or not strictly increasing.
	ErrInvalidBuckets = errors.New("metrics: histogram buckets must be non-empty and strictly increasing")

	// ErrInvalidBucketFactor is returned by New when WithNativeHistograms
	// is given a factor that is not above 1.
	ErrInvalidBucketFactor = errors.New("metrics: native histogram bucket factor must be above 1")

	// ErrReservedLabel is returned by New when WithConstLabels names a label
	// the collector needs for itself: "le", "type", "op" or "code".
	ErrReservedLabel = errors.New("metrics: constant label name is reserved")
)
