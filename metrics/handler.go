package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns an http.Handler that serves the metrics g holds, for
// example the registry returned by NewWithRegistry, in the Prometheus text
// exposition format (gzip-compressed when the scraper asks for it). g must
// not be nil.
//
// A metric that fails to gather does not fail the scrape: the others are
// still served (promhttp.ContinueOnError). OpenMetrics is not offered:
// there, the counter wshub_connections_total and the gauge wshub_connections
// would be two families with the same name.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	})
}
