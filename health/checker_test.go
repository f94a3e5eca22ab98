package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/health"
)

// runHub starts hub.Run and waits until it executes; cleanup shuts it down.
func runHub(t *testing.T, hub *core.Hub) {
	t.Helper()
	go hub.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, hub.WaitRunning(ctx))
	t.Cleanup(func() { shutdown(t, hub) })
}

func shutdown(t *testing.T, hub *core.Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, hub.Shutdown(ctx))
}

// probe is a decoded probe response.
type probe struct {
	code int
	body map[string]any
}

func (p probe) check(name string) map[string]any {
	checks, _ := p.body["checks"].(map[string]any)
	c, _ := checks[name].(map[string]any)
	return c
}

func get(t *testing.T, h http.Handler) probe {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return probe{code: resp.StatusCode, body: body}
}

func TestHubStates(t *testing.T) {
	hub := core.NewHub()
	c := health.New(hub)

	ready, live := get(t, c.ReadyHandler()), get(t, c.LiveHandler())
	assert.Equal(t, http.StatusServiceUnavailable, ready.code, "ready before Run")
	assert.Equal(t, "created", ready.body["state"])
	assert.Equal(t, "unavailable", ready.body["status"])
	assert.Equal(t, http.StatusServiceUnavailable, live.code, "live before Run")

	runHub(t, hub)
	ready, live = get(t, c.ReadyHandler()), get(t, c.LiveHandler())
	assert.Equal(t, http.StatusOK, ready.code, "ready while running")
	assert.Equal(t, http.StatusOK, live.code, "live while running")
	for _, key := range []string{"status", "alive", "ready", "state", "uptime_ns", "clients"} {
		assert.Contains(t, ready.body, key)
		assert.Contains(t, live.body, key)
	}
	assert.Equal(t, "ok", ready.body["status"])
	assert.Equal(t, true, ready.body["ready"])
	assert.Equal(t, "running", ready.body["state"])
	assert.NotContains(t, ready.body, "checks", "no checks registered")

	// Without clients Drain returns at once; the state stays draining.
	require.NoError(t, hub.Drain(context.Background()))
	ready, live = get(t, c.ReadyHandler()), get(t, c.LiveHandler())
	assert.Equal(t, http.StatusServiceUnavailable, ready.code, "ready while draining")
	assert.Equal(t, "draining", ready.body["state"])
	assert.Equal(t, false, ready.body["ready"])
	assert.Equal(t, http.StatusOK, live.code, "live while draining")

	shutdown(t, hub)
	ready, live = get(t, c.ReadyHandler()), get(t, c.LiveHandler())
	assert.Equal(t, http.StatusServiceUnavailable, ready.code, "ready after Shutdown")
	assert.Equal(t, "stopped", ready.body["state"])
	assert.Equal(t, http.StatusServiceUnavailable, live.code, "live after Shutdown")
}

func TestFailingCheck(t *testing.T) {
	hub := core.NewHub()
	runHub(t, hub)
	var fail atomic.Bool
	c := health.New(hub,
		health.WithCheckFunc("db", func(context.Context) error {
			if fail.Load() {
				return errors.New("db: connection refused")
			}
			return nil
		}),
		health.WithCheckFunc("cache", func(context.Context) error { return nil }),
	)

	p := get(t, c.ReadyHandler())
	require.Equal(t, http.StatusOK, p.code)
	assert.Equal(t, true, p.check("db")["ok"])
	assert.Equal(t, true, p.check("cache")["ok"])

	fail.Store(true)
	p = get(t, c.ReadyHandler())
	require.Equal(t, http.StatusServiceUnavailable, p.code)
	assert.Equal(t, "unavailable", p.body["status"])
	assert.Equal(t, false, p.body["ready"], "ready is the overall verdict")
	assert.Equal(t, "running", p.body["state"])
	assert.Equal(t, false, p.check("db")["ok"])
	assert.Equal(t, "db: connection refused", p.check("db")["error"])
	assert.Equal(t, true, p.check("cache")["ok"], "other checks still reported")
}

func TestSlowCheckTimesOut(t *testing.T) {
	hub := core.NewHub()
	runHub(t, hub)
	c := health.New(hub,
		health.WithTimeout(50*time.Millisecond),
		health.WithCheckFunc("slow", func(ctx context.Context) error {
			<-ctx.Done() // never answers by itself
			return ctx.Err()
		}),
		health.WithCheck(health.Check{Name: "own-timeout", Timeout: 30 * time.Second, Func: func(context.Context) error { return nil }}),
	)
	start := time.Now()
	p := get(t, c.ReadyHandler())
	assert.Less(t, time.Since(start), 5*time.Second, "the probe answers after the check's timeout")
	require.Equal(t, http.StatusServiceUnavailable, p.code)
	assert.Equal(t, false, p.check("slow")["ok"])
	assert.Contains(t, p.check("slow")["error"], "timed out")
	assert.Equal(t, true, p.check("own-timeout")["ok"])

	r, ok := c.Ready(context.Background())
	require.False(t, ok)
	require.ErrorIs(t, r.Checks["slow"].Err, health.ErrCheckTimeout)
}

func TestCheckIgnoringItsContextDoesNotHoldTheProbe(t *testing.T) {
	hub := core.NewHub()
	runHub(t, hub)
	release := make(chan struct{})
	returned := make(chan struct{})
	c := health.New(hub,
		health.WithTimeout(50*time.Millisecond),
		health.WithCheckFunc("stuck", func(context.Context) error {
			defer close(returned)
			<-release
			return nil
		}),
	)
	r, ok := c.Ready(context.Background())
	assert.False(t, ok)
	require.ErrorIs(t, r.Checks["stuck"].Err, health.ErrCheckTimeout)
	close(release)
	<-returned // its goroutine ends once the check returns (goleak checks)
}

func TestRequestContextBoundsChecks(t *testing.T) {
	hub := core.NewHub()
	runHub(t, hub)
	c := health.New(hub, health.WithCheckFunc("slow", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, ok := c.Ready(ctx)
	assert.False(t, ok)
	require.ErrorIs(t, r.Checks["slow"].Err, context.Canceled)
}

func TestChecksRunConcurrently(t *testing.T) {
	hub := core.NewHub()
	runHub(t, hub)
	// Each check waits until both have started: that can only pass when
	// they run at the same time.
	var started sync.WaitGroup
	started.Add(2)
	both := func(ctx context.Context) error {
		started.Done()
		done := make(chan struct{})
		go func() { started.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := health.New(hub, health.WithTimeout(5*time.Second),
		health.WithCheckFunc("a", both), health.WithCheckFunc("b", both))
	r, ok := c.Ready(context.Background())
	assert.True(t, ok, "%+v", r.Checks)
}

func TestPanickingCheck(t *testing.T) {
	hub := core.NewHub()
	runHub(t, hub)
	c := health.New(hub, health.WithCheckFunc("boom", func(context.Context) error { panic("kaput") }))
	r, ok := c.Ready(context.Background())
	assert.False(t, ok)
	require.ErrorIs(t, r.Checks["boom"].Err, health.ErrCheckPanicked)
	assert.Contains(t, r.Checks["boom"].Error, "kaput")
}

func TestLivenessRunsNoChecks(t *testing.T) {
	hub := core.NewHub()
	runHub(t, hub)
	var calls atomic.Int32
	c := health.New(hub, health.WithCheckFunc("counted", func(context.Context) error {
		calls.Add(1)
		return errors.New("down")
	}))
	p := get(t, c.LiveHandler())
	assert.Equal(t, http.StatusOK, p.code)
	assert.NotContains(t, p.body, "checks")
	assert.Zero(t, calls.Load())
	assert.Equal(t, http.StatusServiceUnavailable, get(t, c.ReadyHandler()).code)
	assert.Equal(t, int32(1), calls.Load())
}

func TestCheckNames(t *testing.T) {
	hub := core.NewHub()
	tests := []struct {
		name string
		give []health.Check
		want []string
	}{
		{name: "none", want: []string{}},
		{
			name: "sorted",
			give: []health.Check{{Name: "b", Func: okCheck}, {Name: "a", Func: okCheck}},
			want: []string{"a", "b"},
		},
		{
			name: "nil func ignored",
			give: []health.Check{{Name: "a"}, {Name: "b", Func: okCheck}},
			want: []string{"b"},
		},
		{
			name: "duplicate replaced",
			give: []health.Check{{Name: "a", Func: okCheck}, {Name: "a", Func: okCheck}},
			want: []string{"a"},
		},
		{
			name: "empty name",
			give: []health.Check{{Func: okCheck}},
			want: []string{"check0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, health.New(hub, health.WithCheck(tt.give...)).CheckNames())
		})
	}
}

func okCheck(context.Context) error { return nil }

func TestNilHubPanics(t *testing.T) {
	assert.Panics(t, func() { health.New(nil) })
}

// A ReportOnly check an application registers is run and reported but does
// not fail readiness; the report says "degraded".
func TestReportOnlyCheck(t *testing.T) {
	hub := core.NewHub()
	runHub(t, hub)
	c := health.New(hub,
		health.WithCheck(health.Check{Name: "search", ReportOnly: true, Func: func(context.Context) error {
			return errors.New("search: 502")
		}}),
		health.WithCheckFunc("db", okCheck),
	)
	p := get(t, c.ReadyHandler())
	require.Equal(t, http.StatusOK, p.code)
	assert.Equal(t, health.StatusDegraded, p.body["status"])
	assert.Equal(t, true, p.body["ready"])
	assert.Equal(t, map[string]any{"ok": false, "error": "search: 502", "report_only": true,
		"duration_ns": p.check("search")["duration_ns"]}, p.check("search"))
	assert.NotContains(t, p.check("db"), "report_only", "omitted for checks that gate")
}

// kubelet's default probe timeout is one second: the default per-check
// timeout must let the probe answer within it.
func TestDefaultTimeoutFitsKubeletProbe(t *testing.T) {
	assert.Less(t, health.DefaultTimeout, time.Second)

	hub := core.NewHub()
	runHub(t, hub)
	var left atomic.Int64 // the time the hanging check was given
	c := health.New(hub, health.WithCheckFunc("hangs", func(ctx context.Context) error {
		dl, _ := ctx.Deadline()
		left.Store(int64(time.Until(dl)))
		<-ctx.Done()
		return ctx.Err()
	}))
	start := time.Now()
	r, ok := c.Ready(context.Background())
	assert.Less(t, time.Since(start), 5*time.Second, "readiness answered once the check timed out")
	assert.False(t, ok)
	require.ErrorIs(t, r.Checks["hangs"].Err, health.ErrCheckTimeout)
	assert.LessOrEqual(t, time.Duration(left.Load()), health.DefaultTimeout, "the check's deadline is the default timeout")
}
