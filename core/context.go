package core

import "context"

// clientCtx is a client's context state. It is allocated only when
// needed (Context is called, or a Tracer traces the upgrade), so a client
// that never asks costs one pointer; guarded by the client's state lock.
type clientCtx struct {
	base   context.Context //nolint:containedctx // the upgrade's values (a Tracer's span), nil: the request's
	ctx    context.Context //nolint:containedctx // Context's, made on first use
	cancel context.CancelFunc
	ended  bool // the connection ended: ctx is (or is made) done
	// msg is the message being dispatched, msgCtx the context the Tracer
	// gave its dispatch (see Message.Context).
	msg    *Message
	msgCtx context.Context //nolint:containedctx // the dispatch's, see Message.Context
}

// endedCtx marks a client whose connection ended before anything needed
// its clientCtx; it is never modified.
var endedCtx = &clientCtx{ended: true}

// Context returns the connection's context: it carries the values of the
// upgrade request's context (and, with a Tracer, the upgrade's trace), and
// it is cancelled when the connection ends, once its socket is closed;
// the BeforeDisconnect and OnClose hooks that run after that see it done,
// with its values still readable. Work a handler starts for the client
// (a database call, a goroutine) can stop with it.
//
// It is made on the first call, so a client that never asks costs
// nothing; after the connection ended it returns a done context. Safe for
// concurrent use.
func (c *Client) Context() context.Context {
	c.state.Lock()
	defer c.state.Unlock()
	cx := c.cx
	switch cx {
	case nil:
		cx = &clientCtx{}
		c.cx = cx
	case endedCtx:
		cx = &clientCtx{ended: true}
		c.cx = cx
	}
	if cx.ctx == nil {
		base := cx.base
		if base == nil {
			base = context.Background()
			if c.req != nil {
				base = c.req.Context()
			}
		}
		cx.ctx, cx.cancel = context.WithCancel(context.WithoutCancel(base))
		if cx.ended {
			cx.cancel()
		}
	}
	return cx.ctx
}

// endContext cancels the client's context, now or at its making.
func (c *Client) endContext() {
	c.state.Lock()
	defer c.state.Unlock()
	switch {
	case c.cx == nil:
		c.cx = endedCtx
	case c.cx != endedCtx:
		c.cx.ended = true
		if c.cx.cancel != nil {
			c.cx.cancel()
		}
	}
}

// setBase records the Tracer's upgrade context, before the client runs.
func (c *Client) setBase(ctx context.Context) {
	c.state.Lock()
	defer c.state.Unlock()
	c.cx = &clientCtx{base: ctx}
}

// dispatching records msg as the message being dispatched with ctx, or,
// with a nil msg, that the dispatch is over.
func (c *Client) dispatching(msg *Message, ctx context.Context) { //nolint:revive // ctx describes msg
	c.state.Lock()
	defer c.state.Unlock()
	if c.cx == nil || c.cx == endedCtx {
		return // the dispatch calls Context first, which makes it
	}
	c.cx.msg, c.cx.msgCtx = msg, ctx
}

// Context returns the message's context. For a message a client sent,
// while the hub dispatches it (hooks, middleware, handler), that is the
// context the hub's Tracer gave the dispatch (carrying the message's
// span), or without a Tracer its client's Context; after the dispatch, the
// client's Context. For a message the application built,
// context.Background(). Pass it to the sends a handler makes
// (BroadcastToRoomWithContext, ...) so that a trace follows the message to
// the other nodes.
func (m *Message) Context() context.Context {
	c := m.client
	if c == nil {
		return context.Background()
	}
	c.state.RLock()
	if cx := c.cx; cx != nil && cx.msg == m && cx.msgCtx != nil {
		ctx := cx.msgCtx
		c.state.RUnlock()
		return ctx
	}
	c.state.RUnlock()
	return c.Context()
}
