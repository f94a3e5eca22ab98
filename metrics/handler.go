package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns an http.Handler that serves the metrics g holds, for
// example the registry returned by NewWithRegistry, in the format the
// scraper negotiates with its Accept header: OpenMetrics text when it asks
// for it (as Prometheus does), the Prometheus protobuf format (the only one
// that carries native histograms, see WithNativeHistograms) or else the
// Prometheus text format; gzip-compressed when the scraper asks for it. g
// must not be nil.
//
// A metric that fails to gather does not fail the scrape: the others are
// still served (promhttp.ContinueOnError). OpenMetrics is served without
// the optional _created samples.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}
