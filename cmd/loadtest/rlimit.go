package main

import (
	"fmt"
	"syscall"
)

// File descriptors a process needs besides its sockets (stdio, pipes to
// children, epoll, listener, profile file, ...).
const (
	generatorFDMargin = 64
	serverFDMargin    = 100
)

// raiseNofile raises the soft open-file limit to the hard one and returns
// the limit now in force.
func raiseNofile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("setrlimit to the hard limit %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

// checkGeneratorCapacity says whether clients spread over procs processes
// fit the per-process open-file limit, and if not which -procs would do.
func checkGeneratorCapacity(clients, procs int, limit uint64) error {
	perProc := (clients + procs - 1) / procs
	need := uint64(perProc + generatorFDMargin)
	if need <= limit {
		return nil
	}
	fit := int(limit) - generatorFDMargin
	if fit < 1 {
		return fmt.Errorf("open-file limit %d leaves no room for clients", limit)
	}
	suggest := (clients + fit - 1) / fit
	return fmt.Errorf("this machine cannot take %d clients in %d generator process(es): a process may open at most %d files "+
		"(hard RLIMIT_NOFILE) and needs %d; use -procs %d or more (at most %d clients per process)",
		clients, procs, limit, need, suggest, fit)
}

// serverCapacity returns how many connections a server process with this
// open-file limit can hold.
func serverCapacity(limit uint64) int {
	if limit <= serverFDMargin {
		return 0
	}
	return int(limit) - serverFDMargin
}
