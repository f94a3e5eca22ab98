package metrics

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wshub/wshub/core"
)

// Collector is a Prometheus-backed [core.MetricsCollector] that also
// implements [core.AdapterMetricsCollector],
// [core.DeliveryMetricsCollector], [core.CloseMetricsCollector] and
// [core.TrafficMetricsCollector]. Build one with New or NewWithRegistry. It
// is safe for concurrent use.
type Collector struct {
	reg        prometheus.Registerer
	all        []namedCollector // every metric, in registration order
	registered []prometheus.Collector

	connectionsOpen prometheus.Gauge
	rooms           prometheus.Gauge
	clusterNodes    prometheus.Gauge

	connectionsAccepted prometheus.Counter
	bytesSent           prometheus.Counter
	bytesReceived       prometheus.Counter
	messagesReceived    prometheus.Counter
	messagesSent        prometheus.Counter
	messagesDropped     prometheus.Counter
	roomJoins           prometheus.Counter
	roomLeaves          prometheus.Counter

	adapterPublished prometheus.Counter
	adapterReceived  prometheus.Counter
	adapterDropped   *prometheus.CounterVec
	adapterLost      prometheus.Counter
	adapterReordered prometheus.Counter
	adapterDups      prometheus.Counter

	errors        *prometheus.CounterVec
	adapterErrors *prometheus.CounterVec
	closeCodes    *prometheus.CounterVec

	// Children of the labelled counters, resolved once per label value so
	// the hot path is a lock-free map load instead of CounterVec's hashing
	// of the label values.
	errorChildren        childCache[string]
	adapterErrorChildren childCache[string]
	droppedChildren      childCache[string]
	closeCodeChildren    childCache[string]
	// closeCodeLabels maps a code outside 1000-1015 to its label, or to
	// "other" past maxPrivateCloseCodes; closeCodesMu serialises deciding.
	closeCodeLabels   sync.Map // int -> string
	closeCodesMu      sync.Mutex
	privateCloseCodes int

	messageSize       prometheus.Histogram
	handlerDuration   prometheus.Histogram
	broadcastDuration prometheus.Histogram
}

var (
	_ core.MetricsCollector         = (*Collector)(nil)
	_ core.AdapterMetricsCollector  = (*Collector)(nil)
	_ core.DeliveryMetricsCollector = (*Collector)(nil)
	_ core.CloseMetricsCollector    = (*Collector)(nil)
	_ core.TrafficMetricsCollector  = (*Collector)(nil)
)

// New builds a Collector and registers its metrics on reg, all of them or,
// when one fails, none: the ones already registered are unregistered again.
//
// It returns ErrNilRegisterer for a nil reg, ErrInvalidBuckets,
// ErrInvalidBucketFactor or ErrReservedLabel for bad options, and otherwise the registry's error,
// wrapped: registering twice with the same namespace, subsystem and constant
// labels wraps a prometheus.AlreadyRegisteredError (match it with
// errors.As). Use WithConstLabels to put several hubs on one registry.
func New(reg prometheus.Registerer, opts ...Option) (*Collector, error) {
	if reg == nil {
		return nil, ErrNilRegisterer
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}

	c := &Collector{reg: reg}
	c.build(o)
	if err := c.register(); err != nil {
		return nil, err
	}
	return c, nil
}

// NewWithRegistry builds a Collector on a new prometheus.Registry of its own
// and returns both; serve the registry with Handler. The registry holds
// only the hub's metrics: register Go runtime or process collectors on it
// yourself if you want them. It returns the same option errors as New.
func NewWithRegistry(opts ...Option) (*Collector, *prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	c, err := New(reg, opts...)
	if err != nil {
		return nil, nil, err
	}
	return c, reg, nil
}

// Unregister removes the Collector's metrics from the Registerer it was
// registered on, so that a new Collector with the same names can take its
// place. The Collector keeps counting, but nothing exports it any more.
// Call it once, when the hub is done with the Collector; it is not safe to
// call concurrently with itself.
func (c *Collector) Unregister() {
	for _, m := range c.registered {
		c.reg.Unregister(m)
	}
	c.registered = nil
}

func (o *options) validate() error {
	for _, b := range [][]float64{o.latencyBuckets, o.sizeBuckets} {
		if !validBuckets(b) {
			return fmt.Errorf("%w: %v", ErrInvalidBuckets, b)
		}
	}
	if o.nativeFactor != 0 && !(o.nativeFactor > 1) { // also true for NaN
		return fmt.Errorf("%w: %v", ErrInvalidBucketFactor, o.nativeFactor)
	}
	for name := range o.constLabels {
		switch name {
		case "le", "type", "op", "code":
			return fmt.Errorf("%w: %q", ErrReservedLabel, name)
		}
	}
	return nil
}

// validBuckets rejects what would make prometheus.NewHistogram panic.
func validBuckets(b []float64) bool {
	if len(b) == 0 || math.IsNaN(b[0]) {
		return false
	}
	for i := 1; i < len(b); i++ {
		if !(b[i] > b[i-1]) { // also false for NaN
			return false
		}
	}
	return true
}

func (c *Collector) build(o options) {
	add := func(name string, m prometheus.Collector) {
		c.all = append(c.all, namedCollector{prometheus.BuildFQName(o.namespace, o.subsystem, name), m})
	}
	counter := func(name, help string) prometheus.Counter {
		m := prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: o.namespace, Subsystem: o.subsystem, Name: name,
			Help: help, ConstLabels: o.constLabels,
		})
		add(name, m)
		return m
	}
	gauge := func(name, help string) prometheus.Gauge {
		m := prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: o.namespace, Subsystem: o.subsystem, Name: name,
			Help: help, ConstLabels: o.constLabels,
		})
		add(name, m)
		return m
	}
	counterVec := func(name, help, label string) *prometheus.CounterVec {
		m := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: o.namespace, Subsystem: o.subsystem, Name: name,
			Help: help, ConstLabels: o.constLabels,
		}, []string{label})
		add(name, m)
		return m
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		opts := prometheus.HistogramOpts{
			Namespace: o.namespace, Subsystem: o.subsystem, Name: name,
			Help: help, ConstLabels: o.constLabels, Buckets: buckets,
		}
		if o.nativeFactor > 1 {
			// The classic buckets stay, for scrapers that cannot take
			// native histograms; the bounds keep a histogram's memory
			// fixed whatever it observes.
			opts.NativeHistogramBucketFactor = o.nativeFactor
			opts.NativeHistogramMaxBucketNumber = nativeHistogramMaxBuckets
			opts.NativeHistogramMinResetDuration = nativeHistogramMinReset
		}
		m := prometheus.NewHistogram(opts)
		add(name, m)
		return m
	}

	// No gauge is named like a counter without its _total (wshub_x next to
	// wshub_x_total), and no name ends in _created, _bucket, _count, _sum
	// or _info: OpenMetrics would read either as one family.
	c.connectionsOpen = gauge("connections_open", "WebSocket connections open now.")
	c.rooms = gauge("rooms", "Rooms that exist on this node now.")
	c.clusterNodes = gauge("cluster_nodes", "Nodes of the cluster this node knows to be alive, itself included (1 without presence).")
	c.clusterNodes.Set(1)

	c.connectionsAccepted = counter("connections_accepted_total", "WebSocket connections accepted since start.")
	c.bytesSent = counter("bytes_sent_total", "Bytes written to client sockets: WebSocket frames as sent, headers and control frames included.")
	c.bytesReceived = counter("bytes_received_total", "Bytes read from client sockets: WebSocket frames as received, headers and control frames included.")
	c.messagesReceived = counter("messages_received_total", "Inbound messages accepted from clients.")
	c.messagesSent = counter("messages_sent_total", "Messages written to client sockets.")
	c.messagesDropped = counter("messages_dropped_total", "Outbound messages dropped because a client's send queue was full.")
	c.roomJoins = counter("room_joins_total", "Successful room joins.")
	c.roomLeaves = counter("room_leaves_total", "Room leaves.")
	c.errors = counterVec("errors_total", "Errors counted by the hub, by kind.", "type")

	c.adapterPublished = counter("adapter_published_total", "Messages numbered and handed to the multi-node adapter's broker.")
	c.adapterReceived = counter("adapter_received_total", "Messages received from other nodes through the broker.")
	c.adapterErrors = counterVec("adapter_errors_total", "Failed adapter operations and rejected bus messages, by operation.", "op")
	c.adapterDropped = counterVec("adapter_dropped_total", "Messages dropped before reaching the broker, by reason (queue_full, link_down, stale, stopped, store_failed).", "reason")
	// The reasons the hub uses exist from the start, so rate() and
	// increase() see their first drop.
	for _, r := range []string{core.DropQueueFull, core.DropLinkDown, core.DropStale, core.DropStopped, core.DropStoreFailed} {
		c.adapterDropped.WithLabelValues(r)
	}
	c.adapterLost = counter("adapter_lost_total", "Messages of other nodes that never arrived: gaps in their sequence numbers.")
	c.adapterReordered = counter("adapter_reordered_total", "Messages of other nodes that arrived after a later one of the same stream (counted lost before).")
	c.adapterDups = counter("adapter_duplicates_total", "Messages of other nodes that arrived twice.")

	c.closeCodes = counterVec("close_codes_total", "Closed connections by WebSocket close code.", "code")

	c.messageSize = histogram("message_size_bytes", "Size of inbound messages in bytes.", o.sizeBuckets)
	c.handlerDuration = histogram("handler_duration_seconds", "Time the message handler took, in seconds.", o.latencyBuckets)
	c.broadcastDuration = histogram("broadcast_duration_seconds", "Time one local fan-out took, in seconds.", o.latencyBuckets)
}

// register registers every metric, or none.
func (c *Collector) register() error {
	for _, m := range c.all {
		if err := c.reg.Register(m.c); err != nil {
			c.Unregister()
			return fmt.Errorf("metrics: register %s: %w", m.name, err)
		}
		c.registered = append(c.registered, m.c)
	}
	return nil
}

// IncrementConnections counts a new open connection: the gauge
// connections_open goes up and connections_accepted_total counts it.
func (c *Collector) IncrementConnections() {
	c.connectionsOpen.Inc()
	c.connectionsAccepted.Inc()
}

// DecrementConnections lowers the gauge connections_open.
func (c *Collector) DecrementConnections() { c.connectionsOpen.Dec() }

// AddBytesSent counts n bytes written to client sockets under
// bytes_sent_total. A count of zero or less is ignored.
func (c *Collector) AddBytesSent(n int) { addCount(c.bytesSent, n) }

// AddBytesReceived counts n bytes read from client sockets under
// bytes_received_total. A count of zero or less is ignored.
func (c *Collector) AddBytesReceived(n int) { addCount(c.bytesReceived, n) }

// SetClusterNodes sets the gauge cluster_nodes, which starts at 1 (this
// node alone, as without presence).
func (c *Collector) SetClusterNodes(n int) { c.clusterNodes.Set(float64(n)) }

// IncrementMessagesReceived counts one inbound message.
func (c *Collector) IncrementMessagesReceived() { c.messagesReceived.Inc() }

// IncrementMessagesSent counts count messages written to sockets. A count of
// zero or less is ignored.
func (c *Collector) IncrementMessagesSent(count int) { addCount(c.messagesSent, count) }

// IncrementMessagesDropped counts one message dropped by backpressure.
func (c *Collector) IncrementMessagesDropped() { c.messagesDropped.Inc() }

// RecordMessageSize observes the size of an inbound message in bytes.
func (c *Collector) RecordMessageSize(size int) { c.messageSize.Observe(float64(size)) }

// RecordLatency observes how long a message handler took, under
// handler_duration_seconds.
func (c *Collector) RecordLatency(d time.Duration) { c.handlerDuration.Observe(d.Seconds()) }

// RecordBroadcastDuration observes how long one local fan-out took.
func (c *Collector) RecordBroadcastDuration(d time.Duration) {
	c.broadcastDuration.Observe(d.Seconds())
}

// IncrementRoomJoins counts one room join.
func (c *Collector) IncrementRoomJoins() { c.roomJoins.Inc() }

// IncrementRoomLeaves counts one room leave.
func (c *Collector) IncrementRoomLeaves() { c.roomLeaves.Inc() }

// IncrementRooms raises the rooms gauge.
func (c *Collector) IncrementRooms() { c.rooms.Inc() }

// DecrementRooms lowers the rooms gauge.
func (c *Collector) DecrementRooms() { c.rooms.Dec() }

// IncrementErrors counts one error of the given kind under errors_total with
// the label type=errorType. After the first call for a kind it does not
// allocate. Each distinct kind is a time series: pass a fixed set of kinds,
// never data from clients.
func (c *Collector) IncrementErrors(errorType string) {
	c.errorChildren.get(c.errors, errorType).Inc()
}

// IncrementAdapterPublished counts count messages handed to the broker. A
// count of zero or less is ignored.
func (c *Collector) IncrementAdapterPublished(count int) { addCount(c.adapterPublished, count) }

// IncrementAdapterReceived counts count messages received from the broker.
// A count of zero or less is ignored.
func (c *Collector) IncrementAdapterReceived(count int) { addCount(c.adapterReceived, count) }

// IncrementAdapterErrors counts one failed adapter operation under
// adapter_errors_total with the label op=op.
func (c *Collector) IncrementAdapterErrors(op string) {
	c.adapterErrorChildren.get(c.adapterErrors, op).Inc()
}

// IncrementAdapterDropped counts count messages dropped before reaching the
// broker, with the reason "unknown": the hub itself calls
// IncrementAdapterDroppedReason. A count of zero or less is ignored.
func (c *Collector) IncrementAdapterDropped(count int) {
	c.IncrementAdapterDroppedReason("unknown", count)
}

// IncrementAdapterDroppedReason counts count messages dropped before
// reaching the broker under adapter_dropped_total{reason}. reason must come
// from a fixed set (the core.Drop* constants). A count of zero or less is
// ignored.
func (c *Collector) IncrementAdapterDroppedReason(reason string, count int) {
	addCount(c.droppedChildren.get(c.adapterDropped, reason), count)
}

// IncrementAdapterLost counts count messages of other nodes that never
// arrived. A count of zero or less is ignored.
func (c *Collector) IncrementAdapterLost(count int) { addCount(c.adapterLost, count) }

// IncrementAdapterReordered counts count messages that arrived after a
// later one of their stream. A count of zero or less is ignored.
func (c *Collector) IncrementAdapterReordered(count int) { addCount(c.adapterReordered, count) }

// IncrementAdapterDuplicates counts count messages that arrived twice. A
// count of zero or less is ignored.
func (c *Collector) IncrementAdapterDuplicates(count int) { addCount(c.adapterDups, count) }

// maxPrivateCloseCodes bounds the close_codes_total series for codes
// outside the protocol's 1000-1015: a peer may close with any code from
// 3000 to 4999, and each would otherwise become a series of its own.
const maxPrivateCloseCodes = 64

// standardCloseCodes are the labels of the codes 1000 to 1015.
var standardCloseCodes = func() (l [16]string) {
	for i := range l {
		l[i] = strconv.Itoa(1000 + i)
	}
	return l
}()

// IncrementCloseCode counts one closed connection under close_codes_total
// with the label code set to the decimal close code, for example "1001".
// Codes 1000-1015 always get their own label; of the others (application
// codes, or whatever a peer sends), the first 64 distinct ones do and the
// rest are counted as "other", so peers cannot grow the series without
// bound.
func (c *Collector) IncrementCloseCode(code int) {
	c.closeCodeChildren.get(c.closeCodes, c.closeCodeLabel(code)).Inc()
}

func (c *Collector) closeCodeLabel(code int) string {
	if code >= 1000 && code < 1000+len(standardCloseCodes) {
		return standardCloseCodes[code-1000]
	}
	if label, ok := c.knownCloseCode(code); ok {
		return label
	}
	c.closeCodesMu.Lock()
	defer c.closeCodesMu.Unlock()
	if label, ok := c.knownCloseCode(code); ok {
		return label // decided meanwhile
	}
	label := "other"
	if c.privateCloseCodes < maxPrivateCloseCodes {
		c.privateCloseCodes++
		label = strconv.Itoa(code)
	}
	// A peer can only send codes in 3000-4999 (gorilla refuses the rest),
	// so the map stays small.
	c.closeCodeLabels.Store(code, label)
	return label
}

func (c *Collector) knownCloseCode(code int) (string, bool) {
	v, ok := c.closeCodeLabels.Load(code)
	if !ok {
		return "", false
	}
	label, ok := v.(string)
	return label, ok
}

// namedCollector is one of a Collector's metrics with its full name, for
// error messages.
type namedCollector struct {
	name string
	c    prometheus.Collector
}

// childCache maps a label value (a string, or an int close code) to the
// child counter of a one-label CounterVec. The label sets are small and, in
// practice, fixed (the hub's error kinds, adapter operations, WebSocket
// close codes): written once per value, then only read, the case sync.Map
// is built for. Its Load does not allocate.
type childCache[K string | int] struct {
	m sync.Map // K -> prometheus.Counter
}

// get returns the child of vec for key, resolving it on first use.
func (cc *childCache[K]) get(vec *prometheus.CounterVec, key K) prometheus.Counter {
	if v, ok := cc.m.Load(key); ok {
		if ctr, ok := v.(prometheus.Counter); ok {
			return ctr
		}
	}
	return cc.resolve(vec, key)
}

// resolve is get's slow path, kept apart so that boxing the key for
// LoadOrStore (which keeps it) does not make get allocate.
func (cc *childCache[K]) resolve(vec *prometheus.CounterVec, key K) prometheus.Counter {
	ctr := vec.WithLabelValues(labelValue(key))
	if v, loaded := cc.m.LoadOrStore(key, ctr); loaded {
		if existing, ok := v.(prometheus.Counter); ok {
			return existing
		}
	}
	return ctr
}

func labelValue[K string | int](key K) string {
	switch k := any(key).(type) {
	case string:
		return k
	case int:
		return strconv.Itoa(k)
	}
	return fmt.Sprint(key)
}

// addCount adds a positive count; prometheus.Counter.Add panics on a
// negative value.
func addCount(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}
