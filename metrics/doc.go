// Package metrics exports the hub's counters and observations to Prometheus.
//
// New builds a Collector, which implements [core.MetricsCollector] and its
// optional extensions [core.AdapterMetricsCollector],
// [core.DeliveryMetricsCollector], [core.CloseMetricsCollector] and
// [core.TrafficMetricsCollector], and registers its metrics on the
// Registerer it is given; hand the Collector to the hub with
// core.WithMetrics. Nothing is ever registered on
// prometheus.DefaultRegisterer. Handler serves what a Gatherer holds, in
// OpenMetrics when the scraper asks for it and in the Prometheus formats
// otherwise.
//
// Metric names are <namespace>_<subsystem>_<name>, with namespace "wshub" by
// default and no subsystem:
//
//	wshub_connections_open               gauge      connections open now
//	wshub_rooms                          gauge      rooms that exist now
//	wshub_cluster_nodes                  gauge      live nodes, this one included (1 without presence)
//	wshub_connections_accepted_total     counter    connections accepted
//	wshub_bytes_sent_total               counter    bytes written to client sockets
//	wshub_bytes_received_total           counter    bytes read from client sockets
//	wshub_messages_received_total        counter    inbound messages accepted
//	wshub_messages_sent_total            counter    messages written to sockets
//	wshub_messages_dropped_total         counter    messages dropped by backpressure
//	wshub_room_joins_total               counter    room joins
//	wshub_room_leaves_total              counter    room leaves
//	wshub_errors_total{type}             counter    errors by kind
//	wshub_adapter_published_total        counter    messages numbered and handed to the broker
//	wshub_adapter_received_total         counter    messages received from other nodes
//	wshub_adapter_errors_total{op}       counter    failed broker operations
//	wshub_adapter_dropped_total{reason}  counter    messages dropped before the broker
//	wshub_adapter_lost_total             counter    other nodes' messages that never arrived
//	wshub_adapter_reordered_total        counter    other nodes' messages that arrived late
//	wshub_adapter_duplicates_total       counter    other nodes' messages that arrived twice
//	wshub_close_codes_total{code}        counter    closed connections by close code
//	wshub_message_size_bytes             histogram  inbound message sizes
//	wshub_handler_duration_seconds       histogram  message handler run time
//	wshub_broadcast_duration_seconds     histogram  local fan-out time
//
// Every name is its own family in OpenMetrics too: no gauge shares a name
// with a counter less its _total. No metric has a label per client or per
// room, so the series stay few whatever the traffic. WithNativeHistograms
// adds native buckets to the three histograms.
//
// Several hubs may share one registry when each Collector carries distinct
// constant labels (WithConstLabels) or a distinct namespace or subsystem;
// registering a second Collector with the same names and labels fails with an
// error that wraps prometheus.AlreadyRegisteredError and leaves the registry
// as it was.
//
// The package starts no goroutines. A Collector is safe for concurrent use;
// its methods do not allocate (the labelled ones, after the first call for
// a label value).
package metrics
