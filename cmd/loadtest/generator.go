package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wshub/wshub/internal/loadserver"
)

// runner drives one generator run.
type runner struct {
	o         *options
	stderr    io.Writer
	ctl       *ctlClient
	haveStats bool
	groups    []group
	phase     atomic.Value // string shown in progress lines
}

// runGenerator starts the server (unless -url), the client groups and the
// scenario, and prints the result.
func runGenerator(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	limit, err := raiseNofile()
	if err != nil {
		return err
	}
	if err := checkGeneratorCapacity(o.clients, o.procs, limit); err != nil {
		return err
	}
	stopProfile, err := startProfile(o.cpuProfile, stderr)
	if err != nil {
		return err
	}
	defer stopProfile()
	kids := &children{}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	// The last resort when something ignores ctx (a hung server or worker):
	// kill the children and exit.
	watchdog := time.AfterFunc(o.timeout+15*time.Second, func() {
		sayf(stderr, "loadtest: the run did not stop within its deadline (%v); killing child processes\n", o.timeout)
		kids.killAll()
		os.Exit(3)
	})
	defer watchdog.Stop()

	wsURL := o.url
	if wsURL == "" {
		srv, err := startServer(ctx, o, kids)
		if err != nil {
			return err
		}
		defer func() {
			if err := srv.stop(30 * time.Second); err != nil {
				sayln(stderr, "loadtest: server:", err)
			}
		}()
		wsURL = "ws://" + srv.addr + "/ws"
	}
	ctl, err := newCtlClient(wsURL)
	if err != nil {
		return err
	}
	r := &runner{o: o, stderr: stderr, ctl: ctl}
	r.phase.Store("setup")
	res, err := r.run(ctx, wsURL, kids)
	if err != nil {
		return err
	}
	if err := printTable(stdout, res); err != nil {
		return err
	}
	return printJSON(stdout, res)
}

func (r *runner) run(ctx context.Context, wsURL string, kids *children) (*result, error) {
	o := r.o
	base, err := r.ctl.stats(ctx, true)
	r.haveStats = err == nil
	if !r.haveStats {
		if o.scenario == scFanout || o.scenario == scRooms || o.scenario == scRecovery {
			return nil, fmt.Errorf("the server at %s has no control API (%w); fanout, rooms and recovery need a server started with 'loadtest -serve'", wsURL, err)
		}
		sayf(r.stderr, "loadtest: no server statistics (%v); server figures will be missing\n", err)
	} else if base.MaxClients > 0 && o.clients > base.MaxClients-base.Clients {
		return nil, fmt.Errorf("the server process can hold at most %d connections (its open-file limit minus a margin) and has %d; "+
			"this machine cannot take %d clients on one server", base.MaxClients, base.Clients, o.clients)
	}

	if err := r.startGroups(wsURL, kids); err != nil {
		r.closeGroups()
		return nil, err
	}
	defer r.closeGroups()

	stopProgress := r.startProgress()
	defer stopProgress()

	res := &result{
		Scenario: o.scenario, Clients: o.clients, Procs: o.procs, Rate: o.rate, Size: o.size,
		Duration: o.duration.Seconds(), Linger: o.linger.String(),
	}
	if o.scenario == scRooms || o.scenario == scRecovery {
		res.Rooms = o.rooms
	}
	if o.scenario == scEcho || o.scenario == scRequest || o.scenario == scConnect {
		res.Rate = 0 // not a parameter of these scenarios
	}
	if o.url != "" {
		res.Linger = "" // the server's own configuration is not known
	}

	// Connect.
	r.phase.Store("connect")
	conn, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	res.Connected = conn.Connected
	res.ConnPerSec = float64(conn.Connected) / time.Duration(conn.ElapsedNs).Seconds()
	if conn.Connected == 0 && o.scenario != scChurn {
		return nil, fmt.Errorf("no client could connect; first errors: %v", conn.ErrorSamples)
	}
	var idle loadserver.Stats
	if r.haveStats && o.scenario != scChurn {
		r.waitServer(ctx, "registered clients", func(s loadserver.Stats) bool {
			return s.Clients >= base.Clients+conn.Connected &&
				(!inRooms(o.scenario) || s.RoomMembers >= base.RoomMembers+int64(conn.Connected))
		})
		if o.scenario == scConnect {
			r.phase.Store("hold")
			if err := sleepCtx(ctx, o.hold); err != nil {
				return nil, err
			}
		}
		if idle, err = r.ctl.stats(ctx, true); err != nil {
			return nil, fmt.Errorf("server stats: %w", err)
		}
		n := float64(conn.Connected)
		res.Server.RSSBytesPerConn = float64(idle.RSSBytes-base.RSSBytes) / n
		res.Server.HeapBytesPerConn = float64(idle.HeapBytes-base.HeapBytes) / n
		res.Server.GoroutinesPerConn = float64(idle.Goroutines-base.Goroutines) / n
		res.Server.RSSBytes = idle.RSSBytes
		res.Server.Goroutines = idle.Goroutines
	}

	// Run.
	before := idle
	if o.scenario == scChurn || !r.haveStats {
		before = base
	}
	if r.haveStats && o.scenario != scConnect {
		if before, err = r.ctl.stats(ctx, false); err != nil {
			return nil, fmt.Errorf("server stats: %w", err)
		}
	}
	parentCPU := loadserver.ProcessCPUSeconds()
	r.phase.Store("run")
	if err := forEach(ctx, r.groups, func(ctx context.Context, g group) error { return g.Start(ctx) }); err != nil {
		return nil, err
	}
	runStart := time.Now()
	args := finishArgs{GraceNs: int64(o.grace)}
	switch o.scenario {
	case scFanout, scRooms, scRecovery:
		rr, err := r.ctl.run(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("paced run: %w", err)
		}
		if rr.Interrupted {
			return nil, errors.New("the server's paced run was interrupted")
		}
		args.SentPerRoom = rr.SentPerRoom
		args.History = rr.History
		res.Sent = rr.Sent
		res.PacerMaxLagMs = float64(rr.MaxLagNs) / 1e6
		res.Server.MaxHeapInuseBytes = rr.MaxHeapInuseBytes
		if live, err := r.ctl.stats(ctx, true); err == nil {
			res.Server.LiveHeapBytes = live.HeapBytes // queues still full: what they hold
		}
	case scEcho, scRequest, scChurn:
		if err := sleepCtx(ctx, o.duration); err != nil {
			return nil, err
		}
	}
	r.phase.Store("drain")
	results := make([]groupResult, len(r.groups))
	err = forEachIndexed(ctx, r.groups, func(ctx context.Context, i int, g group) error {
		var err error
		results[i], err = g.Finish(ctx, args)
		return err
	})
	if err != nil {
		return nil, err
	}
	runEnd := time.Now()
	genCPU := 0.0
	for _, gr := range results {
		genCPU += gr.CPUSeconds
	}
	if len(r.groups) > 1 {
		genCPU += loadserver.ProcessCPUSeconds() - parentCPU
	}
	res.merge(results, conn)
	if res.Recovery != nil {
		res.Recovery.Gap = o.gap.String()
		res.Recovery.DropEvery = o.dropEvery.String()
		if o.url == "" {
			res.Recovery.HistorySize = o.historySize()
		}
	}

	var after loadserver.Stats
	if r.haveStats {
		if o.scenario == scChurn {
			r.phase.Store("settle")
			r.waitServer(ctx, "disconnected churn clients", func(s loadserver.Stats) bool { return s.Clients <= base.Clients })
			after, err = r.ctl.stats(ctx, true)
		} else {
			after, err = r.ctl.stats(ctx, false)
		}
		if err != nil {
			return nil, fmt.Errorf("server stats: %w", err)
		}
		res.Server.Dropped = after.Dropped - before.Dropped
		res.Server.Errors = after.Errors - before.Errors
		res.Server.ErrorsByKind = countsSince(after.ErrorsByKind, before.ErrorsByKind)
		res.Server.HistoryLost = after.HistoryLost - before.HistoryLost
		res.Server.HistoryDuplicates = after.HistoryDuplicates - before.HistoryDuplicates
		res.Server.HistoryDropped = after.HistoryDropped - before.HistoryDropped
		if res.Slow != nil {
			res.Slow.ServerClosed = after.SlowClosed - before.SlowClosed
		}
	}

	// Rates and costs.
	window := runEnd.Sub(runStart)
	if res.lastRecvNs > runStart.UnixNano() {
		window = time.Duration(res.lastRecvNs - runStart.UnixNano())
	}
	switch o.scenario {
	case scConnect:
		res.Delivered = uint64(conn.Connected)
		res.Expected = uint64(o.clients)
		res.DeliveredPerSec = res.ConnPerSec
		if r.haveStats {
			res.Server.CPUUsPerDelivery = (idle.CPUSeconds - base.CPUSeconds) * 1e6 / float64(max(conn.Connected, 1))
		}
	case scChurn:
		res.DeliveredPerSec = float64(res.Delivered) / o.duration.Seconds()
		res.Churn = &churnResult{
			Connects:         res.Delivered,
			ConnectsPerSec:   res.DeliveredPerSec,
			Skipped:          res.churnSkipped,
			GoroutinesBefore: base.Goroutines, GoroutinesAfter: after.Goroutines,
			RSSBefore: base.RSSBytes, RSSAfter: after.RSSBytes,
			ClientsAfter: after.Clients,
		}
	default:
		res.DeliveredPerSec = float64(res.Delivered) / window.Seconds()
	}
	if r.haveStats && o.scenario != scConnect && res.Delivered > 0 {
		res.Server.CPUUsPerDelivery = (after.CPUSeconds - before.CPUSeconds) * 1e6 / float64(res.Delivered)
	}
	if res.Delivered > 0 && o.scenario != scConnect {
		res.Generator.CPUUsPerMsg = genCPU * 1e6 / float64(res.Delivered)
	}
	res.Generator.CPUSeconds = genCPU
	res.Server.Available = r.haveStats
	return res, nil
}

func (r *runner) startGroups(wsURL string, kids *children) error {
	o := r.o
	per := o.clients / o.procs
	extra := o.clients % o.procs
	offset := 0
	for p := 0; p < o.procs; p++ {
		n := per
		if p < extra {
			n++
		}
		spec := groupSpec{
			Scenario: o.scenario, URL: wsURL, Clients: n, Offset: offset, Rooms: o.rooms,
			Size: o.size, DialConcurrency: o.dialConcurrency, ReadBufferSize: o.clientReadBuf,
			ChurnRate: o.rate * float64(n) / float64(o.clients),
			Slow:      o.slow, SlowReadNs: int64(o.slowRead), SlowClosed: o.policy == "disconnect",
			GapNs: int64(o.gap), DropEveryNs: int64(o.dropEvery),
		}
		offset += n
		if o.procs == 1 {
			r.groups = append(r.groups, newGroup(spec))
			continue
		}
		g, err := startWorker(spec, kids)
		if err != nil {
			return err
		}
		r.groups = append(r.groups, g)
	}
	return nil
}

func (r *runner) closeGroups() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := forEach(ctx, r.groups, func(ctx context.Context, g group) error { return g.Close(ctx) }); err != nil {
		sayln(r.stderr, "loadtest: closing clients:", err)
	}
	r.groups = nil
}

func (r *runner) connect(ctx context.Context) (connectResult, error) {
	start := time.Now()
	results := make([]connectResult, len(r.groups))
	err := forEachIndexed(ctx, r.groups, func(ctx context.Context, i int, g group) error {
		var err error
		results[i], err = g.Connect(ctx)
		return err
	})
	total := connectResult{ElapsedNs: int64(time.Since(start))}
	for _, c := range results {
		total.Connected += c.Connected
		total.Errors += c.Errors
		total.ErrorSamples = appendSamples(total.ErrorSamples, c.ErrorSamples)
	}
	if total.Errors > 0 {
		sayf(r.stderr, "loadtest: %d clients failed to connect; first errors: %v\n", total.Errors, total.ErrorSamples)
	}
	return total, err
}

// waitServer polls the server's stats until ok or 15 s pass (then it warns
// and goes on: the result will show what is missing).
func (r *runner) waitServer(ctx context.Context, what string, ok func(loadserver.Stats) bool) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := r.ctl.stats(ctx, false)
		if err == nil && ok(s) {
			return
		}
		if time.Now().After(deadline) || sleepCtx(ctx, 20*time.Millisecond) != nil {
			sayf(r.stderr, "loadtest: gave up waiting for the server's %s (last: %+v, %v)\n", what, s, err)
			return
		}
	}
}

// startProgress prints a progress line on stderr every second until the
// returned function is called.
func (r *runner) startProgress() (stop func()) {
	if !r.o.progress {
		return func() {}
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		var prevDone uint64
		var prevHist counts
		for {
			select {
			case <-t.C:
			case <-quit:
				return
			}
			var p progress
			var h counts
			for _, g := range r.groups {
				g.Progress(&p, &h)
			}
			cur := h
			h.sub(&prevHist)
			prevHist = cur
			sayf(r.stderr, "[%3.0fs] %-7s connected=%d %s=%d p99(last 1s)=%.1fms errors=%d\n",
				time.Since(start).Seconds(), r.phase.Load(), p.Connected, rateLabel(r.o.scenario),
				p.Done-prevDone, float64(h.quantile(0.99))/1000, p.Errors)
			prevDone = p.Done
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// countsSince returns the counts of after that grew since before.
func countsSince(after, before map[string]uint64) map[string]uint64 {
	var d map[string]uint64
	for k, v := range after {
		if v > before[k] {
			if d == nil {
				d = make(map[string]uint64)
			}
			d[k] = v - before[k]
		}
	}
	return d
}

// inRooms reports whether the clients of scenario join a room on connect.
func inRooms(scenario string) bool { return scenario == scRooms || scenario == scRecovery }

func rateLabel(scenario string) string {
	switch scenario {
	case scEcho, scRequest:
		return "rt/s"
	case scConnect, scChurn:
		return "conn/s"
	}
	return "msgs/s"
}

// forEach runs fn for every group in parallel and joins the errors.
func forEach(ctx context.Context, groups []group, fn func(context.Context, group) error) error {
	return forEachIndexed(ctx, groups, func(ctx context.Context, _ int, g group) error { return fn(ctx, g) })
}

func forEachIndexed(ctx context.Context, groups []group, fn func(context.Context, int, group) error) error {
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(ctx, i, g)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// appendSamples appends the error messages of src that dst lacks, keeping
// at most maxErrorSamples.
func appendSamples(dst, src []string) []string {
	for _, s := range src {
		if len(dst) >= maxErrorSamples {
			return dst
		}
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}
