package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// The worker protocol: the parent writes one command per line on the
// worker's stdin ("connect", "start", "finish <json finishArgs>", "close");
// the worker answers each with one line on stdout ("CONNECTED <json>",
// "STARTED", "RESULT <json groupResult>", "CLOSED") and, in between, writes
// "PROGRESS <json progress>" lines twice a second. EOF on stdin makes the
// worker close its clients and exit.

const progressEvery = 500 * time.Millisecond

// runWorker serves the worker protocol for one group of clients.
func runWorker(ctx context.Context, o *options, stdin io.Reader, stdout io.Writer) error {
	var spec groupSpec
	if err := json.Unmarshal([]byte(o.workerSpec), &spec); err != nil {
		return fmt.Errorf("-worker-spec: %w", err)
	}
	limit, err := raiseNofile()
	if err != nil {
		return err
	}
	if err := checkGeneratorCapacity(spec.Clients, 1, limit); err != nil {
		return err
	}
	g := newGroup(spec)
	out := &lineWriter{w: stdout}

	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-stopProgress:
				return
			}
			var p progress
			var h counts
			g.Progress(&p, &h)
			p.Hist = h.sparse()
			out.send("PROGRESS", p)
		}
	}()
	defer func() {
		close(stopProgress)
		<-progressDone
	}()

	closeCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "connect":
			res, err := g.Connect(ctx)
			if err != nil {
				return err
			}
			out.send("CONNECTED", res)
		case "start":
			if err := g.Start(ctx); err != nil {
				return err
			}
			out.send("STARTED", nil)
		case "finish":
			var args finishArgs
			if err := json.Unmarshal([]byte(arg), &args); err != nil {
				return fmt.Errorf("finish: %w", err)
			}
			res, err := g.Finish(ctx, args)
			if err != nil {
				return err
			}
			out.send("RESULT", res)
		case "close":
			cctx, cancel := closeCtx()
			err := g.Close(cctx)
			cancel()
			if err != nil {
				return err
			}
			out.send("CLOSED", nil)
			return nil
		default:
			return fmt.Errorf("worker: unknown command %q", cmd)
		}
	}
	cctx, cancel := closeCtx()
	defer cancel()
	return errors.Join(sc.Err(), g.Close(cctx))
}

// lineWriter writes whole protocol lines from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) send(kind string, v any) {
	line := kind
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("marshal %s: %v", kind, err)) // our own types always marshal
		}
		line += " " + string(b)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line+"\n") // the parent is gone: it will close our stdin
}

// remoteGroup is the parent's handle on a worker process.
type remoteGroup struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan string   // answers to commands, one at a time
	eof     chan struct{} // closed when the worker's stdout ends
	quit    chan struct{} // closed by Close: the reader stops delivering replies
	waitErr error         // set before eof is closed

	mu   sync.Mutex
	last progress
}

var _ group = (*remoteGroup)(nil)

// startWorker starts a worker process for spec; its stderr goes to ours.
func startWorker(spec groupSpec, kids *children) (*remoteGroup, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd, stdin, stdout, err := kids.startSelf("worker", "-worker", "-worker-spec", string(b))
	if err != nil {
		return nil, err
	}
	r := &remoteGroup{
		cmd:   cmd,
		stdin: stdin,
		// replies holds one answer: the parent sends one command at a time
		// and waits for its answer, so there is never more than one.
		replies: make(chan string, 1),
		eof:     make(chan struct{}),
		quit:    make(chan struct{}),
	}
	go r.read(stdout) // ends at the worker's EOF, which Close brings about
	return r, nil
}

func (r *remoteGroup) read(stdout io.Reader) {
	defer close(r.eof)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "PROGRESS "); ok {
			var p progress
			if json.Unmarshal([]byte(rest), &p) == nil {
				r.mu.Lock()
				r.last = p
				r.mu.Unlock()
			}
			continue
		}
		select {
		case r.replies <- line:
		case <-r.quit:
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	r.waitErr = r.cmd.Wait()
}

// call sends cmd and returns the payload of the answer with prefix want.
func (r *remoteGroup) call(ctx context.Context, cmd, want string) (string, error) {
	if _, err := io.WriteString(r.stdin, cmd+"\n"); err != nil {
		return "", fmt.Errorf("worker %d: %w", r.cmd.Process.Pid, err)
	}
	select {
	case line := <-r.replies:
		kind, payload, _ := strings.Cut(line, " ")
		if kind != want {
			return "", fmt.Errorf("worker %d: expected %s, got %q", r.cmd.Process.Pid, want, line)
		}
		return payload, nil
	case <-r.eof:
		return "", fmt.Errorf("worker %d exited during %q: %w", r.cmd.Process.Pid, strings.Fields(cmd)[0], r.waitErr)
	case <-ctx.Done():
		return "", fmt.Errorf("worker %d: %q: %w", r.cmd.Process.Pid, strings.Fields(cmd)[0], ctx.Err())
	}
}

func (r *remoteGroup) Connect(ctx context.Context) (connectResult, error) {
	var res connectResult
	payload, err := r.call(ctx, "connect", "CONNECTED")
	if err == nil {
		err = json.Unmarshal([]byte(payload), &res)
	}
	return res, err
}

func (r *remoteGroup) Start(ctx context.Context) error {
	_, err := r.call(ctx, "start", "STARTED")
	return err
}

func (r *remoteGroup) Finish(ctx context.Context, args finishArgs) (groupResult, error) {
	var res groupResult
	b, err := json.Marshal(args)
	if err != nil {
		return res, err
	}
	payload, err := r.call(ctx, "finish "+string(b), "RESULT")
	if err == nil {
		err = json.Unmarshal([]byte(payload), &res)
	}
	return res, err
}

func (r *remoteGroup) Progress(p *progress, h *counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.Connected += r.last.Connected
	p.Done += r.last.Done
	p.Errors += r.last.Errors
	h.addSparse(r.last.Hist)
}

// Close asks the worker to close its clients and exit, and waits for it
// (killing it if ctx ends first).
func (r *remoteGroup) Close(ctx context.Context) error {
	_, err := r.call(ctx, "close", "CLOSED")
	close(r.quit)
	_ = r.stdin.Close()
	select {
	case <-r.eof:
	case <-ctx.Done():
		_ = r.cmd.Process.Kill()
		<-r.eof
	}
	if err != nil {
		return err
	}
	return r.waitErr
}
