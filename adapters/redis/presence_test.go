package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// globQuote escapes the glob characters of s for SCAN MATCH.
func globQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^-`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// presenceKeys returns every key of a's presence store (tests only: it
// scans the whole keyspace, which the adapter never does).
func presenceKeys(t testing.TB, a *Adapter) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var keys []string
	iter := a.client.Scan(ctx, 0, globQuote(a.chPresence)+":*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	require.NoError(t, iter.Err())
	return keys
}

// dropPresenceOnCleanup deletes a's presence keys when the test ends, so
// tests leave nothing in the shared Redis. Registered after a's newAdapter,
// it runs while a's client is still open.
func dropPresenceOnCleanup(t testing.TB, a *Adapter) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := a.client.Scan(ctx, 0, globQuote(a.chPresence)+":*", 1000).Iterator()
		for iter.Next(ctx) {
			_ = a.client.Del(ctx, iter.Val()).Err() // best effort: the server may be gone
		}
	})
}

// newPresenceAdapter returns an adapter with a prefix of its own whose
// presence keys are deleted when the test ends.
func newPresenceAdapter(t testing.TB) *Adapter {
	t.Helper()
	a := newAdapter(t, sharedAddr, uniquePrefix(t))
	dropPresenceOnCleanup(t, a)
	return a
}

// fillRoom creates n records in room, keys "k<i>", with 100 bytes of data
// each, from 16 goroutines.
func fillRoom(t testing.TB, a *Adapter, room string, n int) {
	t.Helper()
	ctx := context.Background()
	data := []byte(strings.Repeat("d", 100))
	wshubtest.Spread(t, 16, n, func(_, i int) error {
		_, err := a.SetPresence(ctx, room, fmt.Sprintf("k%d", i), data, 0)
		return err
	})
}

// Records created in several rooms, then deleted, by several adapters at
// once, leave no key behind but the revision counter.
func TestPresenceChurnLeavesNoKeys(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	var as [3]*Adapter
	for i := range as {
		as[i] = newAdapter(t, sharedAddr, prefix)
	}
	dropPresenceOnCleanup(t, as[0])
	ctx := context.Background()
	const records, rooms = 2000, 7
	revs := make([]uint64, records)
	// each runs step for every record, spread over the adapters.
	each := func(step func(a *Adapter, room, key string, i int) error) {
		t.Helper()
		wshubtest.Spread(t, len(as), records, func(w, i int) error {
			return step(as[w], fmt.Sprintf("room %d", i%rooms), fmt.Sprintf("u:%d", i), i)
		})
	}

	each(func(a *Adapter, room, key string, i int) (err error) {
		revs[i], err = a.SetPresence(ctx, room, key, []byte("x"), 0)
		return err
	})
	recs, err := as[0].ListPresence(ctx, "")
	require.NoError(t, err)
	require.Len(t, recs, records)
	assert.Len(t, presenceKeys(t, as[0]), rooms+2, "a hash per room, the rooms set and the counter")

	each(func(a *Adapter, room, key string, i int) error {
		_, err := a.SetPresence(ctx, room, key, nil, revs[i])
		return err
	})
	assert.Equal(t, []string{as[0].presenceCounterKey()}, presenceKeys(t, as[0]))
	recs, err = as[1].ListPresence(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, recs)
}

// Adapters that create and delete records in the same rooms while another
// lists every room never leave a room with records out of the rooms set,
// and leave no room in it once the rooms are empty.
func TestPresenceRoomsSet(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	var as [4]*Adapter
	for i := range as {
		as[i] = newAdapter(t, sharedAddr, prefix)
	}
	dropPresenceOnCleanup(t, as[0])
	ctx := context.Background()
	const rounds, rooms = 300, 3
	var wg sync.WaitGroup
	errs := make(chan error, len(as))
	stop := make(chan struct{})
	for w, a := range as[:3] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("u:%d", w)
			for i := range rounds {
				room := fmt.Sprintf("r%d", i%rooms)
				rev, err := a.SetPresence(ctx, room, key, []byte("x"), 0)
				if err == nil {
					_, err = a.SetPresence(ctx, room, key, nil, rev)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			// Each writer leaves one record, in a room of its own choice.
			if _, err := a.SetPresence(ctx, fmt.Sprintf("r%d", w%2), key, []byte("kept"), 0); err != nil {
				errs <- err
			}
		}()
	}
	var lister sync.WaitGroup
	lister.Add(1)
	go func() { // the sweeper: cleans rooms it finds empty
		defer lister.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := as[3].ListPresence(ctx, ""); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	lister.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	members, err := as[0].client.SMembers(ctx, as[0].presenceRoomsKey()).Result()
	require.NoError(t, err)
	assert.Contains(t, members, "r0", "a room with records is in the set")
	assert.Contains(t, members, "r1", "a room with records is in the set")
	recs, err := as[3].ListPresence(ctx, "")
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range recs {
		got[r.Key] = r.Room
	}
	assert.Equal(t, map[string]string{"u:0": "r0", "u:1": "r1", "u:2": "r0"}, got)

	for _, r := range recs {
		_, err := as[0].SetPresence(ctx, r.Room, r.Key, nil, r.Rev)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{as[0].presenceCounterKey()}, presenceKeys(t, as[0]))
}

// A sweep that finds rooms empty while records are created in them never
// leaves a room with records out of the rooms set. The rooms start as
// stale entries of the set, so the sweep sees them empty and drops them
// while the writer fills them.
func TestPresenceRoomsSetStaleEntries(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	writer, sweeper := newAdapter(t, sharedAddr, prefix), newAdapter(t, sharedAddr, prefix)
	dropPresenceOnCleanup(t, writer)
	ctx := context.Background()
	const rooms = 2000
	stale := make([]any, rooms)
	for i := range stale {
		stale[i] = fmt.Sprintf("s%d", i)
	}
	require.NoError(t, writer.client.SAdd(ctx, writer.presenceRoomsKey(), stale...).Err())

	done := make(chan struct{})
	sweepErr := make(chan error, 1)
	go func() {
		defer close(sweepErr)
		for {
			if _, err := sweeper.ListPresence(ctx, ""); err != nil {
				sweepErr <- err
				return
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	for i := rooms - 1; i >= 0; i-- { // against the sweep's order, roughly
		_, err := writer.SetPresence(ctx, fmt.Sprintf("s%d", i), "k", []byte("x"), 0)
		require.NoError(t, err)
	}
	close(done)
	require.NoError(t, <-sweepErr)

	members, err := writer.client.SMembers(ctx, writer.presenceRoomsKey()).Result()
	require.NoError(t, err)
	assert.Len(t, members, rooms, "every room with a record is in the set")
	recs, err := sweeper.ListPresence(ctx, "")
	require.NoError(t, err)
	assert.Len(t, recs, rooms, "records listed")
}

// fillRoomRaw writes n records of room, keys "k<i>", revisions 1..n,
// straight into Redis, much faster than fillRoom.
func fillRoomRaw(t testing.TB, a *Adapter, room string, n int) {
	t.Helper()
	ctx := context.Background()
	pipe := a.client.Pipeline()
	for i := 0; i < n; i += 1000 {
		var fields []any
		for j := i; j < min(i+1000, n); j++ {
			fields = append(fields, fmt.Sprintf("k%d", j), append(binary.BigEndian.AppendUint64(nil, uint64(j+1)), "data"...))
		}
		pipe.HSet(ctx, a.presenceKey(room), fields...)
	}
	pipe.SAdd(ctx, a.presenceRoomsKey(), room)
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
}

// Rooms of every size list each record once: one that fits in the first
// HSCAN page, one read with HGETALL and one read in pages, alone and all
// together.
func TestPresenceRoomSizes(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t)
	ctx := context.Background()
	sizes := map[string]int{
		"small":  presencePageCount / 2,
		"medium": 3 * presencePageCount,
		"large":  presenceGetAllMax + 3*presencePageCount + 17,
	}
	total := 0
	for room, n := range sizes {
		fillRoomRaw(t, a, room, n)
		total += n
	}
	sizes[""] = total

	for _, give := range []string{"small", "medium", "large", ""} {
		t.Run("list "+give, func(t *testing.T) {
			recs, err := a.ListPresence(ctx, give)
			require.NoError(t, err)
			seen := make(map[string]bool, len(recs))
			for _, r := range recs {
				id := r.Room + "|" + r.Key
				require.False(t, seen[id], "%s listed twice", id)
				seen[id] = true
				require.Equal(t, fmt.Sprintf("k%d", r.Rev-1), r.Key)
				require.Equal(t, "data", string(r.Data))
				if give != "" {
					require.Equal(t, give, r.Room)
				}
			}
			assert.Len(t, recs, sizes[give])
		})
	}
}

// A record with empty data exists (nil data deletes), and the data a list
// returns belongs to the caller: appending to one record's data leaves the
// others as they were.
func TestPresenceRecordData(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t)
	ctx := context.Background()
	rev, err := a.SetPresence(ctx, "r", "empty", []byte{}, 0)
	require.NoError(t, err)
	got, err := a.GetPresence(ctx, "r", "empty")
	require.NoError(t, err)
	assert.Equal(t, rev, got.Rev)
	assert.NotNil(t, got.Data)
	assert.Empty(t, got.Data)

	for _, k := range []string{"a", "b", "c"} {
		_, err := a.SetPresence(ctx, "r", k, []byte(k+k), 0)
		require.NoError(t, err)
	}
	recs, err := a.ListPresence(ctx, "r")
	require.NoError(t, err)
	require.Len(t, recs, 4)
	for i := range recs {
		require.NotNil(t, recs[i].Data, recs[i].Key)
		recs[i].Data = append(recs[i].Data, "!!!!"...)
	}
	want := map[string]string{"empty": "!!!!", "a": "aa!!!!", "b": "bb!!!!", "c": "cc!!!!"}
	for _, r := range recs {
		assert.Equal(t, want[r.Key], string(r.Data), r.Key)
	}
}

// Values in a room's hash that are not records are reported and never
// panic: a get reads none, a list skips them, and a create replaces them.
func TestPresenceMalformedValues(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		give string
	}{
		{name: "empty", give: ""},
		{name: "short", give: "garbage"},
		{name: "revision 0", give: "\x00\x00\x00\x00\x00\x00\x00\x00data"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newPresenceAdapter(t)
			var log errorLog
			a.SetErrorReporter(log.report)
			ctx := context.Background()
			_, err := a.SetPresence(ctx, "r", "good", []byte("ok"), 0)
			require.NoError(t, err)
			require.NoError(t, a.client.HSet(ctx, a.presenceKey("r"), "bad", tt.give).Err())

			got, err := a.GetPresence(ctx, "r", "bad")
			require.NoError(t, err)
			assert.Zero(t, got.Rev)
			assert.Nil(t, got.Data)
			require.Equal(t, 1, log.count("decode"))
			require.ErrorIs(t, log.first(), ErrMalformedPresence)

			for _, room := range []string{"r", ""} {
				recs, err := a.ListPresence(ctx, room)
				require.NoError(t, err)
				require.Len(t, recs, 1, "list of %q", room)
				assert.Equal(t, "good", recs[0].Key)
			}
			assert.Equal(t, 3, log.count("decode"))

			_, err = a.SetPresence(ctx, "r", "bad", []byte("other"), 7)
			require.ErrorIs(t, err, core.ErrPresenceConflict)
			rev, err := a.SetPresence(ctx, "r", "bad", []byte("fixed"), 0)
			require.NoError(t, err)
			got, err = a.GetPresence(ctx, "r", "bad")
			require.NoError(t, err)
			assert.Equal(t, core.PresenceRecord{Room: "r", Key: "bad", Data: []byte("fixed"), Rev: rev}, got)
		})
	}
}

// A room key that is not a hash fails the list of that room and is skipped,
// reported, in the list of every room.
func TestPresenceWrongType(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t)
	var log errorLog
	a.SetErrorReporter(log.report)
	ctx := context.Background()
	_, err := a.SetPresence(ctx, "good", "k", []byte("ok"), 0)
	require.NoError(t, err)
	require.NoError(t, a.client.Set(ctx, a.presenceKey("bad"), "not a hash", 0).Err())
	require.NoError(t, a.client.SAdd(ctx, a.presenceRoomsKey(), "bad").Err())

	_, err = a.ListPresence(ctx, "bad")
	require.ErrorContains(t, err, "WRONGTYPE")
	_, err = a.GetPresence(ctx, "bad", "k")
	require.ErrorContains(t, err, "WRONGTYPE")
	_, err = a.SetPresence(ctx, "bad", "k", []byte("x"), 0)
	require.ErrorContains(t, err, "WRONGTYPE")

	recs, err := a.ListPresence(ctx, "")
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "good", recs[0].Room)
	assert.Equal(t, 1, log.count("decode"))
}

// A lost or overwritten revision counter starts again above every revision
// handed out before, so no revision is reused.
func TestPresenceCounterLost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		lose func(ctx context.Context, c goredis.UniversalClient, key string) error
	}{
		{name: "deleted", lose: func(ctx context.Context, c goredis.UniversalClient, key string) error {
			return c.Del(ctx, key).Err()
		}},
		{name: "not a number", lose: func(ctx context.Context, c goredis.UniversalClient, key string) error {
			return c.Set(ctx, key, "x", 0).Err()
		}},
		{name: "not a string", lose: func(ctx context.Context, c goredis.UniversalClient, key string) error {
			return errors.Join(c.Del(ctx, key).Err(), c.SAdd(ctx, key, "x").Err())
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prefix := uniquePrefix(t)
			a := newAdapter(t, sharedAddr, prefix)
			dropPresenceOnCleanup(t, a)
			ctx := context.Background()
			r1, err := a.SetPresence(ctx, "r", "k", []byte("one"), 0)
			require.NoError(t, err)
			require.NoError(t, tt.lose(ctx, a.client, a.presenceCounterKey()))

			b := newAdapter(t, sharedAddr, prefix) // no block yet: takes one
			r2, err := b.SetPresence(ctx, "r", "k", []byte("two"), r1)
			require.NoError(t, err)
			assert.Greater(t, r2, r1+presenceRevBlock, "above a's whole block")
			// a goes on with its block, which no new block overlaps.
			r3, err := a.SetPresence(ctx, "r", "k", []byte("three"), r2)
			require.NoError(t, err)
			assert.Equal(t, r1+1, r3)
		})
	}
}

// A Redis that restarts empty has neither the scripts nor the counter:
// the adapters load the scripts again, and the revisions of new blocks
// start above those handed out before, while an adapter that still holds
// a block goes on with it.
func TestPresenceRedisRestartedEmpty(t *testing.T) {
	t.Parallel()
	srv := newRedisServer(t)
	srv.start()
	prefix := uniquePrefix(t)
	a := newAdapter(t, srv.addr(), prefix)
	ctx := context.Background()
	r1, err := a.SetPresence(ctx, "r", "k", []byte("one"), 0) // NOSCRIPT, then EVAL
	require.NoError(t, err)
	r2, err := a.SetPresence(ctx, "r", "k", []byte("two"), r1)
	require.NoError(t, err)
	assert.Equal(t, r1+1, r2)

	srv.stop()
	srv.start()
	b := newAdapter(t, srv.addr(), prefix)
	r3, err := b.SetPresence(ctx, "r", "k", []byte("three"), 0)
	require.NoError(t, err)
	assert.Greater(t, r3, r1+presenceRevBlock, "above a's whole block")

	var r4 uint64
	require.Eventually(t, func() bool { // a's client finds its connections broken first
		r4, err = a.SetPresence(ctx, "r", "k2", []byte("four"), 0)
		return err == nil
	}, waitFor, 10*time.Millisecond)
	assert.Equal(t, r2+1, r4, "a goes on with its block")
	recs, err := b.ListPresence(ctx, "")
	require.NoError(t, err)
	assert.ElementsMatch(t, []core.PresenceRecord{
		{Room: "r", Key: "k", Data: []byte("three"), Rev: r3},
		{Room: "r", Key: "k2", Data: []byte("four"), Rev: r4},
	}, recs)
}

func TestPresenceErrors(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t)
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()

	calls := []struct {
		name string
		call func(ctx context.Context, a *Adapter, room string) error
	}{
		{name: "get", call: func(ctx context.Context, a *Adapter, room string) error {
			_, err := a.GetPresence(ctx, room, "k")
			return err
		}},
		{name: "set", call: func(ctx context.Context, a *Adapter, room string) error {
			_, err := a.SetPresence(ctx, room, "k", []byte("x"), 0)
			return err
		}},
		{name: "delete", call: func(ctx context.Context, a *Adapter, room string) error {
			_, err := a.SetPresence(ctx, room, "k", nil, 0)
			return err
		}},
		{name: "list", call: func(ctx context.Context, a *Adapter, room string) error {
			_, err := a.ListPresence(ctx, room)
			return err
		}},
		{name: "list all", call: func(ctx context.Context, a *Adapter, _ string) error {
			_, err := a.ListPresence(ctx, "")
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorIs(t, c.call(cancelled, a, "r"), context.Canceled)
			require.ErrorIs(t, c.call(expired, a, "r"), context.DeadlineExceeded)
			if c.name != "list" && c.name != "list all" {
				assert.ErrorIs(t, c.call(ctx, a, ""), core.ErrEmptyRoomName)
			}
		})
	}
	assert.Empty(t, presenceKeys(t, a), "nothing written")

	require.NoError(t, a.Close())
	for _, c := range calls {
		assert.ErrorIs(t, c.call(ctx, a, "r"), core.ErrAdapterClosed, c.name)
	}
}

// silentServer accepts connections and reads them without ever answering,
// like a Redis that hangs. It stops when the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c) // until the cleanup closes c
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// A deadline that passes while a call waits on Redis ends the call.
func TestPresenceDeadlineMidCall(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, silentServer(t), uniquePrefix(t))
	for _, tt := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{name: "get", call: func(ctx context.Context) error {
			_, err := a.GetPresence(ctx, "r", "k")
			return err
		}},
		{name: "set", call: func(ctx context.Context) error {
			_, err := a.SetPresence(ctx, "r", "k", []byte("x"), 0)
			return err
		}},
		{name: "list", call: func(ctx context.Context) error {
			_, err := a.ListPresence(ctx, "")
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			require.ErrorIs(t, tt.call(ctx), context.DeadlineExceeded)
			assert.Less(t, time.Since(start), 2*time.Second)
		})
		// The socket's deadline, which go-redis takes from ctx, may fire
		// before ctx's own timer: the call still ends with ctx's error.
		t.Run(tt.name+"/socket first", func(t *testing.T) {
			ctx := lateCtx{Context: context.Background(), deadline: time.Now().Add(100 * time.Millisecond)}
			start := time.Now()
			require.ErrorIs(t, tt.call(ctx), context.DeadlineExceeded)
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

// lateCtx has a deadline but never reports itself done, as a context whose
// timer has not fired yet at its deadline.
type lateCtx struct {
	context.Context //nolint:containedctx // a context with another deadline, not one kept for later
	deadline        time.Time
}

func (c lateCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func FuzzPresenceValue(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("short"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte("\x18\x00\x00\x00\x00\x00\x04\x01data"))
	f.Fuzz(func(t *testing.T, v []byte) {
		rev, data, err := decodePresence(string(v))
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedPresence)
			return
		}
		require.NotZero(t, rev)
		require.Equal(t, v, append(binary.BigEndian.AppendUint64(nil, rev), data...), "decodes what was stored")
	})
}

// BenchmarkPresenceList10k lists a room of 10,000 records of 100 bytes.
//
//	go test -run '^$' -bench PresenceList10k -benchtime 2s ./adapters/redis/
func BenchmarkPresenceList10k(b *testing.B) {
	a := newPresenceAdapter(b)
	const n = 10_000
	fillRoom(b, a, "big", n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		recs, err := a.ListPresence(ctx, "big")
		if err != nil || len(recs) != n {
			b.Fatalf("listed %d records: %v", len(recs), err)
		}
	}
}
