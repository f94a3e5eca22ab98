package core

import "github.com/gorilla/websocket"

// teardown runs the disconnect path once, from the read pump.
func (c *Client) teardown() {
	h := c.hub
	c.mu.Lock()
	c.beginCloseLocked()
	c.closed = true
	if c.sq.closeFrame == nil {
		// With our close frame still pending (a handler panic, an oversized
		// message, Close racing the reader's end), the write pump writes
		// the messages queued before it first, as Close promises.
		c.sq.release()
	}
	graceful := c.sq.closeFrame != nil || c.sq.closeSent
	t := c.pingTimer
	c.mu.Unlock()
	t.Stop()
	if !graceful {
		_ = c.conn.Close()
	}
	c.waitWriter()
	_ = c.conn.Close() // again if not graceful: the error says only that
	c.endContext()

	c.mu.Lock()
	code := c.closeCode
	c.mu.Unlock()
	if code == 0 {
		code = websocket.CloseAbnormalClosure
	}
	if h.closeMetrics != nil {
		h.closeMetrics.IncrementCloseCode(code)
	}

	if h.hooks.BeforeDisconnect != nil {
		h.runWithTimeout("BeforeDisconnect", func() { h.hooks.BeforeDisconnect(c) })
	}
	c.state.Lock()
	c.gone = true
	c.state.Unlock()
	h.LeaveAllRooms(c)
	c.state.Lock()
	h.users.remove(c, c.userID)
	var cbs []func(*Client)
	if c.cb != nil {
		cbs = c.cb.onClose
	}
	c.state.Unlock()
	if h.clients.remove(c) {
		h.metrics.DecrementConnections()
		h.admitted.Add(-1)
		if h.count.Add(-1) == 0 {
			select {
			case h.emptySig <- struct{}{}:
			default:
			}
		}
	}
	for _, fn := range cbs {
		h.safeCall("OnClose", func() { fn(c) })
	}
	if h.hooks.AfterDisconnect != nil {
		h.goHook("AfterDisconnect", func() { h.hooks.AfterDisconnect(c) })
	}
}
