package wshubfx

import (
	"encoding/json"
	"sync/atomic"

	"github.com/wshub/wshub/core"
)

// JSONTypeEvent is the default Router's event extractor: it reads the
// string field "type" of a JSON object message, so {"type":"chat","text":"hi"}
// is the event "chat". A message that is not a JSON object, or has no string
// "type", yields "" (which no route matches unless one is registered for "").
func JSONTypeEvent(msg *core.Message) string {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(msg.Data, &head) != nil {
		return ""
	}
	return head.Type
}

// NewJSONRouter returns the Module's default router: events named by
// JSONTypeEvent. Messages without a matching route yield
// core.ErrInvalidMessage (delivered to the OnError and AfterMessage hooks);
// the connection stays open.
func NewJSONRouter() *core.Router { return core.NewRouter(JSONTypeEvent) }

// dispatcher is the hub's message handler. The hub is built before the
// routes and middleware (so their constructors may depend on the hub); the
// Module's invoke installs the finished chain before the app starts.
type dispatcher struct {
	router  *core.Router
	handler atomic.Pointer[core.HandlerFunc]
}

func newDispatcher(router *core.Router) *dispatcher {
	d := &dispatcher{router: router}
	h := core.HandlerFunc(router.Handle)
	d.handler.Store(&h)
	return d
}

func (d *dispatcher) set(h core.HandlerFunc) { d.handler.Store(&h) }

func (d *dispatcher) handle(c *core.Client, msg *core.Message) error {
	return (*d.handler.Load())(c, msg)
}
