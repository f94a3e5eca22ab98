package core

// ping queues a ping and schedules the next one.
func (c *Client) ping() {
	c.mu.Lock()
	done := c.closing || c.closed
	t := c.pingTimer
	c.mu.Unlock()
	if done {
		return
	}
	c.queuePing()
	t.Reset(c.hub.cfg.PingPeriod)
}
