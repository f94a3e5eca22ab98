package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wshub/wshub/internal/loadserver"
)

// ctlClient talks to a server's control API.
type ctlClient struct {
	base string // http://host:port
	http *http.Client
}

func newCtlClient(wsURL string) (*ctlClient, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	return &ctlClient{base: "http://" + u.Host, http: &http.Client{}}, nil
}

// statusError is a control request that got an HTTP error status.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.status, http.StatusText(e.status), e.body)
}

func (c *ctlClient) do(ctx context.Context, method, path string, q url.Values, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // read fully below; nothing to report
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{status: resp.StatusCode, body: string(body)}
	}
	return json.Unmarshal(body, out)
}

// stats reads /ctl/stats; with gc the server collects garbage first.
func (c *ctlClient) stats(ctx context.Context, gc bool) (loadserver.Stats, error) {
	var s loadserver.Stats
	q := url.Values{}
	if gc {
		q.Set("gc", "1")
	}
	err := c.do(ctx, http.MethodGet, "/ctl/stats", q, 30*time.Second, &s)
	return s, err
}

// run starts a paced broadcast and waits for its end.
func (c *ctlClient) run(ctx context.Context, o *options) (loadserver.RunResult, error) {
	var res loadserver.RunResult
	q := url.Values{}
	q.Set("rate", strconv.FormatFloat(o.rate, 'f', -1, 64))
	q.Set("size", strconv.Itoa(o.size))
	q.Set("duration", o.duration.String())
	path := "/ctl/fanout"
	if o.distinct {
		q.Set("distinct", "1")
	}
	switch o.scenario {
	case scRooms:
		path = "/ctl/rooms"
		q.Set("rooms", strconv.Itoa(o.rooms))
	case scRecovery:
		path = "/ctl/history"
		q.Set("rooms", strconv.Itoa(o.rooms))
		// -rate is per room here; the server's is over all rooms.
		q.Set("rate", strconv.FormatFloat(o.rate*float64(o.rooms), 'f', -1, 64))
	}
	err := c.do(ctx, http.MethodPost, path, q, o.duration+time.Minute, &res)
	return res, err
}
