package nats

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// dropPresence deletes a's presence bucket when the test ends (before the
// connection closes), so the shared broker does not keep it.
func dropPresence(t testing.TB, a *Adapter) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		bucket := a.subj.presenceBucket()
		err := a.hist.js.DeleteKeyValue(ctx, bucket)
		if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete bucket %s: %v", bucket, err)
		}
	})
}

// newPresenceAdapter returns an adapter with a prefix of its own whose
// bucket is deleted when the test ends.
func newPresenceAdapter(t testing.TB, opts ...Option) *Adapter {
	t.Helper()
	a := newAdapter(t, connect(t, sharedURL), testPrefix(), opts...)
	dropPresence(t, a)
	return a
}

// bucketMsgs returns how many messages the stream of a's bucket holds.
func bucketMsgs(a *Adapter) (uint64, error) {
	st, err := a.hist.js.Stream(context.Background(), a.pres.stream)
	if err != nil {
		return 0, err
	}
	return st.CachedInfo().State.Msgs, nil
}

// TestPresenceChurnExpires creates and deletes 2,000 records in a bucket
// with the shortest TTL: each delete leaves a marker (NATS 2.9 has no
// per-message TTL), which listings skip and the bucket's MaxAge removes.
func TestPresenceChurnExpires(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t, WithPresenceTTL(MinPresenceTTL), WithPresenceStorage(jetstream.MemoryStorage))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const records, workers = 2000, 8
	wshubtest.Spread(t, workers, records, func(_, i int) error {
		key := fmt.Sprint("u:", i)
		rev, err := a.SetPresence(ctx, "churn", key, []byte("x"), 0)
		if err == nil {
			_, err = a.SetPresence(ctx, "churn", key, nil, rev)
		}
		return err
	})

	n, err := bucketMsgs(a)
	require.NoError(t, err)
	assert.NotZero(t, n, "delete markers stay until the TTL")
	recs, err := a.ListPresence(ctx, "churn")
	require.NoError(t, err)
	assert.Empty(t, recs, "listings skip delete markers")
	require.Eventually(t, func() bool {
		n, err := bucketMsgs(a)
		return err == nil && n == 0
	}, waitFor, 50*time.Millisecond, "the TTL removes the delete markers")

	rev, err := a.SetPresence(ctx, "churn", "u:0", []byte("back"), 0)
	require.NoError(t, err, "create after the marker expired")
	got, err := a.GetPresence(ctx, "churn", "u:0")
	require.NoError(t, err)
	assert.Equal(t, core.PresenceRecord{Room: "churn", Key: "u:0", Data: []byte("back"), Rev: rev}, got)
}

// TestPresenceGarbageValue writes values the adapter did not make into the
// bucket: listings skip and report them, GetPresence returns them with
// their revision and no data, and a compare-and-set at that revision
// replaces them.
func TestPresenceGarbageValue(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t)
	var log errorLog
	a.SetErrorReporter(log.report)
	ctx := context.Background()
	_, err := a.SetPresence(ctx, "r", "good", []byte("ok"), 0)
	require.NoError(t, err)
	kv, err := a.hist.js.KeyValue(ctx, a.subj.presenceBucket())
	require.NoError(t, err)

	bad := map[string][]byte{
		"empty":       {},
		"version":     []byte("\x02garbage"),
		"short room":  {presenceValueV1, 200, 'r'},
		"bad varint":  {presenceValueV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"short key":   {presenceValueV1, 1, 'r', 9, 'k'},
		"other names": appendPresenceValue(nil, "r", "somebody else", []byte("x")),
	}
	for key, v := range bad {
		_, err := kv.Put(ctx, presenceKey("r", key), v)
		require.NoError(t, err)
	}

	for _, room := range []string{"r", ""} {
		recs, err := a.ListPresence(ctx, room)
		require.NoError(t, err)
		keys := make([]string, 0, len(recs))
		for _, r := range recs {
			keys = append(keys, r.Key)
		}
		assert.Equal(t, []string{"good"}, keys, "list %q", room)
	}
	assert.Len(t, log.ops("decode"), 2*len(bad), "each value the adapter did not write reported")

	for key := range bad {
		got, err := a.GetPresence(ctx, "r", key)
		require.NoError(t, err, key)
		require.NotZero(t, got.Rev, key)
		assert.Nil(t, got.Data, key)
		rev, err := a.SetPresence(ctx, "r", key, []byte("fixed"), got.Rev)
		require.NoError(t, err, key)
		got, err = a.GetPresence(ctx, "r", key)
		require.NoError(t, err, key)
		assert.Equal(t, core.PresenceRecord{Room: "r", Key: key, Data: []byte("fixed"), Rev: rev}, got)
	}
}

func FuzzPresenceValue(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendPresenceValue(nil, "room", "u:user", []byte("data")))
	f.Add([]byte{presenceValueV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, v []byte) {
		room, key, data, err := decodePresenceValue(v)
		if err != nil {
			return
		}
		// Not necessarily v: a length may be a non-minimal uvarint.
		r2, k2, d2, err := decodePresenceValue(appendPresenceValue(nil, room, key, data))
		require.NoError(t, err)
		assert.Equal(t, []any{room, key, data}, []any{r2, k2, d2}, "encodes what it decoded")
	})
}

func TestPresenceTokens(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("long room ", 20)
	sum := sha256.Sum256([]byte(long))
	validKey := regexp.MustCompile(`^[-/_=a-zA-Z0-9]+$`) // one token of a KV key
	tests := []struct {
		name string
		give string
		want string
	}{
		{"empty", "", "="},
		{"plain", "a.b*>c d", "YS5iKj5jIGQ"},
		{"plain at the limit", strings.Repeat("x", maxPlainRoom), strings.Repeat("eHh4", maxPlainRoom/3)},
		{"hashed", long, "=" + base64.RawURLEncoding.EncodeToString(sum[:])},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendPresenceToken(nil, tt.give))
			assert.Equal(t, tt.want, got)
			assert.Regexp(t, validKey, got)
			assert.LessOrEqual(t, len(got), 128)
		})
		seen[string(appendPresenceToken(nil, tt.give))] = tt.give
	}
	assert.NotEqual(t, appendPresenceToken(nil, long), appendPresenceToken(nil, string(sum[:])),
		"a name that is the hash of a long name has a token of its own")
	assert.Len(t, seen, len(tests))
}

// TestPresenceLongNames stores records whose room and key are too long for
// a key-value key as they are, next to a room named with the raw hash of
// the long one.
func TestPresenceLongNames(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t, WithPresenceStorage(jetstream.MemoryStorage))
	ctx := context.Background()
	long := strings.Repeat("ünïcode room. * > ", 20)
	sum := sha256.Sum256([]byte(long))
	hashNamed := string(sum[:])
	key := strings.Repeat("u:key/", 40)

	r1, err := a.SetPresence(ctx, long, key, []byte("long"), 0)
	require.NoError(t, err)
	r2, err := a.SetPresence(ctx, hashNamed, key, []byte("hash"), 0)
	require.NoError(t, err)

	got, err := a.GetPresence(ctx, long, key)
	require.NoError(t, err)
	assert.Equal(t, core.PresenceRecord{Room: long, Key: key, Data: []byte("long"), Rev: r1}, got)
	recs, err := a.ListPresence(ctx, long)
	require.NoError(t, err)
	assert.Equal(t, []core.PresenceRecord{{Room: long, Key: key, Data: []byte("long"), Rev: r1}}, recs)
	recs, err = a.ListPresence(ctx, hashNamed)
	require.NoError(t, err)
	assert.Equal(t, []core.PresenceRecord{{Room: hashNamed, Key: key, Data: []byte("hash"), Rev: r2}}, recs)
}

// TestPresenceConcurrentCreate has several nodes, one of them with another
// TTL, write their first records at once: each creates or updates the
// bucket, and none fails.
func TestPresenceConcurrentCreate(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	nodes := make([]*Adapter, 6)
	for i := range nodes {
		ttl := DefaultPresenceTTL
		if i == 0 {
			ttl = time.Minute
		}
		nodes[i] = newAdapter(t, connect(t, sharedURL), prefix, WithPresenceTTL(ttl))
	}
	dropPresence(t, nodes[0])
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, a := range nodes {
		wg.Go(func() {
			_, errs[i] = a.SetPresence(ctx, "room", fmt.Sprint("node-", i), []byte("x"), 0)
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "node %d", i)
	}
	recs, err := nodes[1].ListPresence(ctx, "room")
	require.NoError(t, err)
	assert.Len(t, recs, len(nodes))
}

// TestPresenceBucketRecreated deletes the bucket behind the adapter's back:
// reads see no records, and the next write creates it again.
func TestPresenceBucketRecreated(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t)
	ctx := context.Background()
	_, err := a.SetPresence(ctx, "r", "k", []byte("one"), 0)
	require.NoError(t, err)
	require.NoError(t, a.hist.js.DeleteKeyValue(ctx, a.subj.presenceBucket()))

	got, err := a.GetPresence(ctx, "r", "k")
	require.NoError(t, err)
	assert.Zero(t, got.Rev)
	recs, err := a.ListPresence(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, recs)

	rev, err := a.SetPresence(ctx, "r", "k", []byte("two"), 0)
	require.NoError(t, err)
	recs, err = a.ListPresence(ctx, "r")
	require.NoError(t, err)
	assert.Equal(t, []core.PresenceRecord{{Room: "r", Key: "k", Data: []byte("two"), Rev: rev}}, recs)

	// A write that finds no stream, with no read before it to tell.
	require.NoError(t, a.hist.js.DeleteKeyValue(ctx, a.subj.presenceBucket()))
	_, err = a.SetPresence(ctx, "r", "k", []byte("three"), 0)
	require.NoError(t, err)
	got, err = a.GetPresence(ctx, "r", "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("three"), got.Data)
}

// TestPresenceEmptyData keeps a record whose data is empty but not nil: only
// nil deletes.
func TestPresenceEmptyData(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t, WithPresenceStorage(jetstream.MemoryStorage))
	ctx := context.Background()
	rev, err := a.SetPresence(ctx, "r", "", []byte{}, 0)
	require.NoError(t, err)
	got, err := a.GetPresence(ctx, "r", "")
	require.NoError(t, err)
	assert.Equal(t, rev, got.Rev)
	assert.NotNil(t, got.Data)
	assert.Empty(t, got.Data)
	_, err = a.SetPresence(ctx, "r", "", nil, 0)
	assert.ErrorIs(t, err, core.ErrPresenceConflict, "delete at revision 0 of a record that exists")
}

func TestPresenceClosedAndCancelled(t *testing.T) {
	t.Parallel()
	a := newPresenceAdapter(t)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	ops := map[string]func(context.Context) error{
		"get": func(ctx context.Context) error { _, err := a.GetPresence(ctx, "r", "k"); return err },
		"set": func(ctx context.Context) error { _, err := a.SetPresence(ctx, "r", "k", []byte("x"), 0); return err },
		"list": func(ctx context.Context) error {
			_, err := a.ListPresence(ctx, "r")
			return err
		},
	}
	for name, op := range ops {
		require.ErrorIs(t, op(done), context.Canceled, name)
	}
	require.NoError(t, a.Close())
	for name, op := range ops {
		assert.ErrorIs(t, op(context.Background()), core.ErrAdapterClosed, name)
	}
}

func TestPresenceOptions(t *testing.T) {
	t.Parallel()
	nc := connect(t, sharedURL)
	tests := []struct {
		name    string
		give    Option
		wantTTL time.Duration
		ok      bool
	}{
		{"default", nil, DefaultPresenceTTL, true},
		{"ttl", WithPresenceTTL(time.Minute), time.Minute, true},
		{"shortest ttl", WithPresenceTTL(MinPresenceTTL), MinPresenceTTL, true},
		{"ttl too short", WithPresenceTTL(MinPresenceTTL - 1), 0, false},
		{"memory", WithPresenceStorage(jetstream.MemoryStorage), DefaultPresenceTTL, true},
		{"unknown storage", WithPresenceStorage(jetstream.StorageType(7)), 0, false},
		{"three replicas", WithPresenceReplicas(3), DefaultPresenceTTL, true},
		{"no replica", WithPresenceReplicas(0), 0, false},
		{"six replicas", WithPresenceReplicas(MaxHistoryReplicas + 1), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if tt.give != nil {
				opts = append(opts, tt.give)
			}
			a, err := New(nc, opts...)
			if !tt.ok {
				require.ErrorIs(t, err, ErrInvalidOption)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantTTL, a.PresenceTTL())
			require.NoError(t, a.Close())
		})
	}
}

// BenchmarkPresenceList10k lists a room of 10,000 records (in a bucket that
// also holds another room of 1,000) from file storage.
func BenchmarkPresenceList10k(b *testing.B) {
	const records, noise, workers = 10_000, 1_000, 16
	a := newPresenceAdapter(b)
	ctx := context.Background()
	data := []byte(`{"conns":[{"client":"c0123456789","node":"n01234567","joined":1700000000000}]}`)
	wshubtest.Spread(b, workers, records+noise, func(_, i int) error {
		room := "big"
		if i >= records {
			room = "other"
		}
		_, err := a.SetPresence(ctx, room, fmt.Sprint("u:user-", i), data, 0)
		return err
	})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		recs, err := a.ListPresence(ctx, "big")
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) != records {
			b.Fatalf("listed %d records, want %d", len(recs), records)
		}
	}
}
