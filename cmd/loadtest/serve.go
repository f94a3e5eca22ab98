package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/loadserver"
)

// runServe runs the server side until ctx ends (or stdin reaches EOF with
// -exit-on-eof). It prints "LISTEN host:port" on stdout once it accepts
// connections; the generator reads that line.
func runServe(ctx context.Context, o *options, stdin io.Reader, stdout, stderr io.Writer) error {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if err := checkLoopbackHost(host); err != nil {
		return err
	}
	if o.memProfile != "" {
		// Record every allocation, so that the profile's bytes per
		// connection are exact rather than sampled.
		runtime.MemProfileRate = 1
	}
	limit, err := raiseNofile()
	if err != nil {
		return err
	}
	capacity := serverCapacity(limit)
	cfg := core.DefaultConfig()
	cfg.WriteLinger = o.linger
	cfg.Requests = true // the request scenario's; echo's frames are binary, so it costs them nothing
	if o.queue > 0 {
		cfg.SendChannelSize = o.queue
	}
	cfg.ReadBufferSize = o.readBuf
	cfg.EnableCompression = o.compress
	cfg.CoalesceWrites = o.coalesce
	if o.maxQueued > 0 {
		cfg.MaxQueuedBytes = o.maxQueued
	}
	policy, err := dropPolicy(o.policy)
	if err != nil {
		return err
	}
	history := o.history
	if history < 0 || history > maxHistory {
		return fmt.Errorf("%w: -history must be in [0, %d]", errUsage, maxHistory)
	}
	if history == 0 {
		history = loadserver.DefaultHistorySize
	}
	srv := loadserver.New(loadserver.Config{Hub: cfg, MaxClients: capacity, DropPolicy: policy, HistorySize: history, HeapProfile: o.memProfile})

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	stopProfile, err := startProfile(o.cpuProfile, stderr)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopProfile()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.exitOnEOF {
		// This goroutine ends when the parent closes our stdin (or dies);
		// if it is still blocked when Serve returns, process exit ends it.
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	sayf(stderr, "loadtest server: listening on %s, at most %d clients (open-file limit %d), linger=%v queue=%d max-queued=%d readbuf=%d compress=%v coalesce=%v policy=%v history=%d\n",
		ln.Addr(), capacity, limit, cfg.WriteLinger, cfg.SendChannelSize, cfg.MaxQueuedBytes, cfg.ReadBufferSize, cfg.EnableCompression, cfg.CoalesceWrites, policy, history)
	if _, err := fmt.Fprintf(stdout, "LISTEN %s\n", ln.Addr()); err != nil {
		_ = ln.Close()
		return err
	}
	return srv.Serve(ctx, ln)
}

// startProfile starts a CPU profile into path (nothing when path is empty)
// and returns the function that stops it.
func startProfile(path string, stderr io.Writer) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			sayln(stderr, "loadtest: cpuprofile:", err)
		}
	}, nil
}
