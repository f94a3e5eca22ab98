//go:build !unix

package core

import "syscall"

// rawReadsSupported says whether the hub reads and writes sockets through
// their descriptors (idle reads, direct writes): not here, so every reader
// keeps its buffer and every write goes through the pump.
const rawReadsSupported = false

func rawRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

func rawWrite(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

// rawConnOf returns nil: no socket is used through its descriptor here.
func rawConnOf(any) syscall.RawConn { return nil }
