package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// sayf writes a diagnostic line; there is nothing to do if that fails.
func sayf(w io.Writer, format string, a ...any) { _, _ = fmt.Fprintf(w, format, a...) }

// sayln is sayf with fmt.Fprintln's formatting.
func sayln(w io.Writer, a ...any) { _, _ = fmt.Fprintln(w, a...) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one of the three modes and returns the exit code: 0 on
// success, 1 when the run failed, 2 for bad flags.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		sayln(stderr, "loadtest:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case o.serve:
		err = runServe(ctx, o, stdin, stdout, stderr)
	case o.worker:
		err = runWorker(ctx, o, stdin, stdout)
	default:
		err = runGenerator(ctx, o, stdout, stderr)
	}
	if err != nil {
		sayln(stderr, "loadtest:", err)
		return 1
	}
	return 0
}
