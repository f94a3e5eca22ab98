package nats

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wshub/wshub/core"
)

func TestZZNoWait(t *testing.T) {
	a := newAdapter(t, connect(t, sharedURL), testPrefix())
	opts := core.History{Size: 50}
	dropStreams(t, a, opts)
	mustAppend(t, a, opts, "r", "1", "2", "3", "4", "5")
	k := historyKeyOf(opts)
	r := &historyRead{h: a.hist, room: "r", stream: a.subj.historyStream(k), subj: tokenSubject(a.subj.historyBase(k), "r")}
	for _, n := range []int{3, 10, 300, 600} {
		got := 0
		start := time.Now()
		err := r.consume(context.Background(), 1, n, func(s *storedMsg) bool { got++; return true })
		require.NoError(t, err)
		t.Logf("n=%d got %d in %v", n, got, time.Since(start))
	}
	got := 0
	start := time.Now()
	err := r.consume(context.Background(), 100, 10, func(s *storedMsg) bool { got++; return true })
	t.Logf("beyond: got %d in %v %v", got, time.Since(start), err)
}
