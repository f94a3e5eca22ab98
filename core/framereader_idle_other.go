//go:build !unix

package core

import "syscall"

// rawReadsSupported says whether idleReads can read a socket's descriptor:
// not here, so every reader keeps its buffer.
const rawReadsSupported = false

func rawRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

func rawWrite(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }
