package core

// connectionCap returns the connection cap a hub enforces: configured when
// positive, none when negative, and when zero one derived from the
// process's open-file limit (as openFiles reports it), so that upgrades are
// refused with 503 before accept starts failing with "too many open files"
// and connections hang instead. None when the limit is unknown.
func connectionCap(configured int, openFiles func() (uint64, bool)) int {
	switch {
	case configured > 0:
		return configured
	case configured < 0:
		return 0
	}
	n, ok := openFiles()
	if !ok {
		return 0
	}
	return capForOpenFiles(n)
}

// capForOpenFiles leaves a tenth of the open-file limit, and at least 64
// descriptors, to what else the process holds: listeners, broker and
// database connections, probes and scrapes, HTTP requests not yet upgraded,
// log files. A tiny limit keeps half.
func capForOpenFiles(n uint64) int {
	const maxCap = 1 << 30
	if n > maxCap {
		return 0 // as good as unlimited
	}
	headroom := max(n/10, 64)
	if headroom > n/2 {
		headroom = n / 2
	}
	return int(n - headroom)
}
