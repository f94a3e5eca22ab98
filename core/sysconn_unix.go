//go:build unix

package core

import "syscall"

// rawConnOf returns the RawConn of a socket whose descriptor this
// platform can read and write directly, or nil.
func rawConnOf(conn any) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok || !rawReadsSupported {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// rawReadsSupported says whether the hub reads and writes sockets through
// their descriptors (idle reads, direct writes).
const rawReadsSupported = true

func rawRead(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }

func rawWrite(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
