//go:build unix

package core

import "syscall"

// rawReadsSupported says whether idleReads can read a socket's descriptor.
const rawReadsSupported = true

func rawRead(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }

func rawWrite(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
