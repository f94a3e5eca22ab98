package wshubtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// RunPresenceStore checks a core.PresenceAdapter's contract: records are
// written and deleted only at the revision the writer read, a revision is
// never reused (a record deleted and created again does not match a
// revision read before the delete), listing by room and listing everything
// see exactly the live records, and concurrent compare-and-set loops lose
// no update. Room names and keys include characters a broker treats
// specially. newStore returns an empty store, isolated from other tests.
func RunPresenceStore(t *testing.T, newStore func(t *testing.T) core.PresenceAdapter) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("compare and set", func(t *testing.T) {
		s := newStore(t)
		room, key := "room with spaces.and*dots>", "u:user/é\x00x"
		got, err := s.GetPresence(ctx, room, key)
		require.NoError(t, err)
		assert.Zero(t, got.Rev, "absent: revision 0")
		assert.Nil(t, got.Data)

		r1, err := s.SetPresence(ctx, room, key, []byte("one"), 0)
		require.NoError(t, err)
		require.NotZero(t, r1)
		_, err = s.SetPresence(ctx, room, key, []byte("again"), 0)
		require.ErrorIs(t, err, core.ErrPresenceConflict, "create over an existing record")

		got, err = s.GetPresence(ctx, room, key)
		require.NoError(t, err)
		assert.Equal(t, r1, got.Rev)
		assert.Equal(t, []byte("one"), got.Data)
		assert.Equal(t, room, got.Room)
		assert.Equal(t, key, got.Key)

		r2, err := s.SetPresence(ctx, room, key, []byte("two"), r1)
		require.NoError(t, err)
		assert.NotEqual(t, r1, r2)
		_, err = s.SetPresence(ctx, room, key, []byte("stale"), r1)
		require.ErrorIs(t, err, core.ErrPresenceConflict, "update at a stale revision")
		_, err = s.SetPresence(ctx, room, key, nil, r1)
		require.ErrorIs(t, err, core.ErrPresenceConflict, "delete at a stale revision")

		_, err = s.SetPresence(ctx, room, key, nil, r2)
		require.NoError(t, err)
		got, err = s.GetPresence(ctx, room, key)
		require.NoError(t, err)
		assert.Zero(t, got.Rev, "deleted")

		r3, err := s.SetPresence(ctx, room, key, []byte("three"), 0)
		require.NoError(t, err)
		_, err = s.SetPresence(ctx, room, key, []byte("old"), r2)
		require.ErrorIs(t, err, core.ErrPresenceConflict, "a revision from before the delete")
		for _, old := range []uint64{r1, r2} {
			assert.NotEqual(t, old, r3, "revision reused")
		}
		_, err = s.SetPresence(ctx, room, "absent", nil, 0)
		assert.NoError(t, err, "deleting what is absent at revision 0")
	})

	t.Run("list", func(t *testing.T) {
		s := newStore(t)
		want := map[string]string{}
		for _, room := range []string{"a", "b.c", "b"} {
			for i := range 3 {
				key := fmt.Sprintf("u:%s-%d", room, i)
				_, err := s.SetPresence(ctx, room, key, []byte(room+key), 0)
				require.NoError(t, err)
				want[room+"|"+key] = room + key
			}
		}
		rec, err := s.GetPresence(ctx, "b", "u:b-1")
		require.NoError(t, err)
		_, err = s.SetPresence(ctx, "b", "u:b-1", nil, rec.Rev)
		require.NoError(t, err)
		delete(want, "b|u:b-1")

		list := func(room string) map[string]string {
			recs, err := s.ListPresence(ctx, room)
			require.NoError(t, err)
			out := map[string]string{}
			for _, r := range recs {
				assert.NotZero(t, r.Rev)
				out[r.Room+"|"+r.Key] = string(r.Data)
			}
			return out
		}
		all := list("")
		assert.Equal(t, want, all)
		b := list("b")
		assert.Equal(t, map[string]string{"b|u:b-0": "bu:b-0", "b|u:b-2": "bu:b-2"}, b,
			"a room's list holds that room only, not rooms it prefixes")
		assert.Empty(t, list("nothing"))
	})

	t.Run("concurrent increments", func(t *testing.T) {
		s := newStore(t)
		const workers, each = 4, 25
		Spread(t, workers, workers*each, func(int, int) error { return increment(ctx, s, "counter", "k") })
		got, err := s.GetPresence(ctx, "counter", "k")
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(workers*each), string(got.Data), "an update was lost")
	})
}

func increment(ctx context.Context, s core.PresenceAdapter, room, key string) error {
	for {
		rec, err := s.GetPresence(ctx, room, key)
		if err != nil {
			return err
		}
		n := 0
		if rec.Data != nil {
			if _, err := fmt.Sscan(string(rec.Data), &n); err != nil {
				return err
			}
		}
		_, err = s.SetPresence(ctx, room, key, []byte(fmt.Sprint(n+1)), rec.Rev)
		if errors.Is(err, core.ErrPresenceConflict) {
			continue
		}
		return err
	}
}
