//go:build unix

package core

import "syscall"

// openFileLimit returns the process's soft limit on open files. Go raises
// it to the hard limit when the program starts, so this is the real bound.
func openFileLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true //nolint:unconvert // int64 on some platforms
}
