package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// children tracks the processes the generator started, so the overall
// deadline can kill them all.
type children struct {
	mu   sync.Mutex
	cmds []*exec.Cmd
}

func (k *children) start(cmd *exec.Cmd) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	k.cmds = append(k.cmds, cmd)
	return nil
}

// startSelf re-executes this binary with args as the child named what
// ("server", "worker"), its stderr going to ours, and returns the pipes to
// its stdin and stdout.
func (k *children) startSelf(what string, args ...string) (*exec.Cmd, io.WriteCloser, io.ReadCloser, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := k.start(cmd); err != nil {
		return nil, nil, nil, fmt.Errorf("start %s: %w", what, err)
	}
	return cmd, stdin, stdout, nil
}

// killAll kills every child still running.
func (k *children) killAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.cmds {
		if c.Process != nil && c.ProcessState == nil {
			_ = c.Process.Kill()
		}
	}
}

// serverProc is a server started by the generator.
type serverProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	done  chan struct{} // closed when the process has exited
	err   error         // its exit status, set before done is closed
}

// startServer re-executes this binary with -serve and waits (at most 15 s
// or until ctx ends) for the address it prints.
func startServer(ctx context.Context, o *options, kids *children) (*serverProc, error) {
	args := []string{
		"-serve", "-exit-on-eof", "-addr", "127.0.0.1:0",
		"-linger", o.linger.String(),
		"-queue", strconv.Itoa(o.queue),
		"-readbuf", strconv.Itoa(o.readBuf),
		"-compress=" + strconv.FormatBool(o.compress),
		"-coalesce=" + strconv.FormatBool(o.coalesce),
		"-policy", o.policy,
		"-max-queued", strconv.FormatInt(o.maxQueued, 10),
		"-history", strconv.Itoa(o.historySize()),
	}
	if o.serverProfile != "" {
		args = append(args, "-cpuprofile", o.serverProfile)
	}
	if o.serverMemProf != "" {
		args = append(args, "-memprofile", o.serverMemProf)
	}
	cmd, stdin, stdout, err := kids.startSelf("server", args...)
	if err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	// addrCh holds the one address line so the reader never blocks on it.
	addrCh := make(chan string, 1)
	go func() { // ends at the server's EOF, which stop brings about
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				addrCh <- a
				break
			}
		}
		_, _ = io.Copy(os.Stderr, stdout)
		s.err = cmd.Wait()
	}()
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case s.addr = <-addrCh:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("server exited before listening: %w", s.err)
	case <-t.C:
		err = errors.New("server did not report its address within 15s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = cmd.Process.Kill()
	<-s.done
	return nil, err
}

// stop closes the server's stdin, which makes it shut down, and waits up to
// timeout before killing it.
func (s *serverProc) stop(timeout time.Duration) error {
	_ = s.stdin.Close()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.done:
		return s.err
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("server did not stop within %v; killed", timeout)
	}
}
