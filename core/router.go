package core

// Router dispatches messages to handlers by an event name that a
// caller-supplied extractor reads from each message, so it works with any
// message format (JSON, binary with a type byte, ...). Register handlers
// before the hub runs; Handle is then safe for concurrent use.
type Router struct {
	extract  func(*Message) string
	handlers map[string]HandlerFunc
	notFound HandlerFunc
}

// NewRouter returns a Router that names events with extractor.
func NewRouter(extractor func(*Message) string) *Router {
	return &Router{extract: extractor, handlers: make(map[string]HandlerFunc)}
}

// On registers handler for event, replacing any previous one, and returns r.
func (r *Router) On(event string, handler HandlerFunc) *Router {
	r.handlers[event] = handler
	return r
}

// OnNotFound sets the handler for events without one and returns r. Without
// it such messages yield ErrInvalidMessage.
func (r *Router) OnNotFound(handler HandlerFunc) *Router {
	r.notFound = handler
	return r
}

// Event returns the event name r's extractor reads from msg, and whether r
// has a handler for it. Names a client makes up come back with ok false:
// where a name becomes a label (a metric, a span attribute), use it only
// when ok, so the labels stay as few as the registered events.
func (r *Router) Event(msg *Message) (event string, ok bool) {
	if r.extract == nil || msg == nil {
		return "", false
	}
	event = r.extract(msg)
	h, ok := r.handlers[event]
	return event, ok && h != nil
}

// Events returns the number of registered events.
func (r *Router) Events() int { return len(r.handlers) }

// Handle dispatches msg. Pass it to WithMessageHandler or use it as a
// HandlerFunc. A nil extractor or a message without a matching handler (and
// no OnNotFound) yields ErrInvalidMessage.
func (r *Router) Handle(c *Client, msg *Message) error {
	if r.extract == nil || msg == nil {
		return ErrInvalidMessage
	}
	if h, ok := r.handlers[r.extract(msg)]; ok && h != nil {
		return h(c, msg)
	}
	if r.notFound != nil {
		return r.notFound(c, msg)
	}
	return ErrInvalidMessage
}
