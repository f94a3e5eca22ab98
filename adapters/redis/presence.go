package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/core"
)

// Member records (core.PresenceAdapter).
//
// Keys, with the default prefix:
//
//	wshub:presence:{<room>}  hash: field = record key, value = the record's
//	                         revision (8 bytes, big-endian) then its data
//	wshub:presence:rooms     set: the names of the rooms that have records
//	wshub:presence:rev       string: the revision counter
//
// A room's hash is its only key, so the script touches one key and works
// on a cluster whatever the room name; the hash tag, as in history's keys,
// would keep any later key of a room in the same slot. Redis drops a hash with its last field, so a room whose
// records are all deleted leaves no key behind; the rooms set loses it at
// the same time. Only the counter stays: one key for the whole prefix.
//
// # Revisions
//
// A revision is unique over the whole prefix, not only per record, so a
// record deleted and created again never matches a revision read before
// the delete (no ABA), and nothing per room has to outlive the room. They
// come from the counter: an adapter takes blocks of presenceRevBlock with
// one INCRBY (in presenceRevScript) and hands them out from memory, so a write costs one round trip
// and the counter one more per block. Revisions are unique, not ordered
// across adapters; the store compares them for equality only, as 8 bytes,
// so the script never does arithmetic on them (Lua numbers are doubles).
//
// A per-room counter would put the room's revisions in its slot, but it
// would either have to outlive the room (a key per room ever used) or
// restart at 1 when the room is emptied, and then give again a revision
// that a reader of the old record still holds. A global counter does not
// fit in the room's script on a cluster, hence the blocks.
//
// When the counter is missing or not a number (Redis restarted without
// persistence, the key was evicted or overwritten), the block script sets
// it to Redis's clock in microseconds times 1024 first. That is above
// every revision handed out before unless the clock went back: the old
// counter was set the same way at some earlier time T and has grown by a
// block (1024) per fetch since, so it is below the new mark as long as
// fewer blocks were fetched than microseconds passed, by far the case.
// Adapters still holding a block from before go on with it, below the
// mark, so no new block overlaps theirs. The mark stays below 2^63
// (INCRBY's limit) until the year 2255.
//
// # The rooms set
//
// The set lives in its own slot, so it is kept beside the scripts, in an
// order that never leaves a room with records out of it for longer than a
// concurrent write takes: a write that creates a record first adds the room
// (pipelined with the script, no extra round trip; this also restores an
// entry an earlier failure lost), and adds it again after the script when
// the room had no record before, for a cleaner that took the room out
// between the two (on a cluster the two commands go to different nodes). A delete that empties the
// room removes it from the set, then looks at the hash and adds the room
// back if a record appeared meanwhile. ListPresence("") does the same with
// rooms it finds empty. A failure of that upkeep is reported (Op
// "presence"), not returned: the record was written.

// ErrMalformedPresence is wrapped by the failure reported (Op "decode") for
// a stored value that is not a presence record: shorter than its revision,
// or with revision 0. Such a value reads as no record and the next write at
// revision 0 replaces it; ListPresence skips it.
var ErrMalformedPresence = errors.New("wshub/redis: malformed presence record")

// presenceRevBlock is how many revisions an adapter takes from the counter
// at a time.
const presenceRevBlock = 1024

// How ListPresence reads a room: the first HSCAN page of presencePageCount
// and HLEN, in one round trip, which is the whole room unless it is
// larger; then HGETALL (one more round trip) for a room of up to
// presenceGetAllMax records, and further pages for a larger one, so that
// no call holds Redis for more than a few milliseconds. HGETALL costs Redis
// about half what HSCAN pages do for the same records, and its reply needs
// no check for the records a scan may return twice.
const (
	presencePageCount = 1000
	presenceGetAllMax = 20_000
)

// presenceRoomsPerPipeline bounds the rooms whose first page ListPresence("")
// asks for in one round trip; the rooms set is read with SSCAN in pages of
// presencePageCount.
const presenceRoomsPerPipeline = 256

// presenceRevScript takes a block of revisions from the counter.
//
//	KEYS[1] counter, ARGV[1] block size
//
// It returns the counter after the INCRBY, as a string: the block is the
// ARGV[1] revisions ending there. The counter is read back with GET because
// a Lua number would round it.
var presenceRevScript = goredis.NewScript(`
local function seed()
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[1], string.format('%.0f', us * 1024))
end
if redis.call('EXISTS', KEYS[1]) == 0 then seed() end
local n = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(n) == 'table' and n.err then
  seed()
  redis.call('INCRBY', KEYS[1], ARGV[1])
end
return redis.call('GET', KEYS[1])
`)

// presenceSetScript is SetPresence's compare-and-set.
//
//	KEYS[1] the room's hash
//	ARGV[1] record key, ARGV[2] the revision the caller read (8 bytes, all
//	zero for none), ARGV[3] the new value (revision and data); no ARGV[3]
//	deletes the record
//
// A value shorter than 8 bytes or with revision 0 counts as no record. It
// returns {0, current revision} on a mismatch, and otherwise {1} after a
// write, {2} after a write that created the hash, {3} after a delete (or
// nothing to delete) and {4} after a delete that emptied the hash.
var presenceSetScript = goredis.NewScript(`
local none = string.rep('\0', 8)
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local rev = none
if cur and #cur >= 8 then rev = string.sub(cur, 1, 8) end
if rev ~= ARGV[2] then return {0, rev} end
if ARGV[3] then
  local fresh = redis.call('EXISTS', KEYS[1]) == 0
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  if fresh then return {2} end
  return {1}
end
if not cur then return {3} end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return {4} end
return {3}
`)

// Reply codes of presenceSetScript.
const (
	presenceConflict = iota
	presenceWritten
	presenceCreatedRoom
	presenceDeleted
	presenceEmptiedRoom
)

// presenceRevs is the block of revisions an adapter hands out.
type presenceRevs struct {
	mu   sync.Mutex
	next uint64 // next revision to hand out
	end  uint64 // first revision past the block; next == end: none left
}

// take returns a revision never handed out before, fetching a block from
// the counter when the adapter has none left. Goroutines that find the
// block empty at once each fetch one; all but the last installed lose the
// rest of theirs, which costs numbers only.
func (r *presenceRevs) take(ctx context.Context, c goredis.Scripter, counter string) (uint64, error) {
	r.mu.Lock()
	if r.next < r.end {
		v := r.next
		r.next++
		r.mu.Unlock()
		return v, nil
	}
	r.mu.Unlock()

	s, err := presenceRevScript.Run(ctx, c, []string{counter}, presenceRevBlock).Text()
	if err != nil {
		return 0, fmt.Errorf("revision counter: %w", err)
	}
	end, err := strconv.ParseUint(s, 10, 64)
	if err != nil || end < presenceRevBlock {
		return 0, fmt.Errorf("revision counter: unexpected value %q", s)
	}
	first := end - presenceRevBlock + 1
	r.mu.Lock()
	r.next, r.end = first+1, end+1
	r.mu.Unlock()
	return first, nil
}

// presenceKey returns the hash of room's records.
func (a *Adapter) presenceKey(room string) string {
	return a.chPresence + ":{" + room + "}"
}

// presenceRoomsKey returns the set of rooms that have records.
func (a *Adapter) presenceRoomsKey() string { return a.chPresence + ":rooms" }

// presenceCounterKey returns the revision counter.
func (a *Adapter) presenceCounterKey() string { return a.chPresence + ":rev" }

// presenceUsable returns why the store cannot be used now, or nil.
func (a *Adapter) presenceUsable(ctx context.Context) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	return ctx.Err()
}

// GetPresence returns the record of key in room, or one with Rev 0 and nil
// Data when there is none. It implements core.PresenceAdapter with one
// HGET. A stored value that is not a record reads as none and is reported
// (Op "decode", ErrMalformedPresence). It returns core.ErrAdapterClosed
// after Close, core.ErrEmptyRoomName for an empty room, ctx's error when
// ctx is done, or the client's error wrapped with the room and key. Safe
// for concurrent use.
func (a *Adapter) GetPresence(ctx context.Context, room, key string) (core.PresenceRecord, error) {
	rec := core.PresenceRecord{Room: room, Key: key}
	if err := a.presenceUsable(ctx); err != nil {
		return rec, err
	}
	if room == "" {
		return rec, core.ErrEmptyRoomName
	}
	v, err := a.client.HGet(ctx, a.presenceKey(room), key).Result()
	if errors.Is(err, goredis.Nil) {
		return rec, nil
	}
	if err != nil {
		return rec, fmt.Errorf("wshub/redis: get presence %q in %q: %w", key, room, callErr(ctx, err))
	}
	rev, data, err := decodePresence(v)
	if err != nil {
		a.failures.Fail("decode", fmt.Errorf("presence %q in %q: %w", key, room, err))
		return rec, nil
	}
	rec.Rev, rec.Data = rev, make([]byte, len(data))
	copy(rec.Data, data)
	return rec, nil
}

// SetPresence writes data as the record of key in room if the record is
// still at revision rev (0: if there is none), or deletes it when data is
// nil; it returns the new revision, or 0 after a delete. It implements
// core.PresenceAdapter with one Lua script (EVALSHA, then EVAL if Redis
// lacks it), plus the upkeep of the rooms set when the room gains its
// first record or loses its last one (see the comment at the top of
// presence.go). It returns an error wrapping core.ErrPresenceConflict when
// the revision differs, core.ErrAdapterClosed after Close,
// core.ErrEmptyRoomName for an empty room, ctx's error when ctx is done,
// or the client's error wrapped with the room and key; when the reply was
// lost on the way (a broken connection, ctx ended mid-call) the write may
// have happened although it returned an error. Safe for concurrent use.
func (a *Adapter) SetPresence(ctx context.Context, room, key string, data []byte, rev uint64) (uint64, error) {
	if err := a.presenceUsable(ctx); err != nil {
		return 0, err
	}
	if room == "" {
		return 0, core.ErrEmptyRoomName
	}
	var want [8]byte
	binary.BigEndian.PutUint64(want[:], rev)
	keys := []string{a.presenceKey(room)}
	args := []any{key, want[:]}
	var newRev uint64
	if data != nil {
		var err error
		if newRev, err = a.presRevs.take(ctx, a.client, a.presenceCounterKey()); err != nil {
			return 0, fmt.Errorf("wshub/redis: set presence %q in %q: %w", key, room, callErr(ctx, err))
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(data)), newRev)
		args = append(args, append(v, data...))
	}

	var cmd *goredis.Cmd
	if rev == 0 && data != nil {
		// A create: put the room in the set in the same round trip.
		pipe := a.client.Pipeline()
		pipe.SAdd(ctx, a.presenceRoomsKey(), room)
		cmd = presenceSetScript.EvalSha(ctx, pipe, keys, args...)
		_, _ = pipe.Exec(ctx) // each command's error is in its cmd
		if goredis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			cmd = presenceSetScript.Eval(ctx, a.client, keys, args...)
		}
	} else {
		cmd = presenceSetScript.Run(ctx, a.client, keys, args...)
	}
	reply, err := cmd.Slice()
	if err != nil {
		return 0, fmt.Errorf("wshub/redis: set presence %q in %q: %w", key, room, callErr(ctx, err))
	}
	code := int64(-1)
	if len(reply) > 0 {
		code, _ = reply[0].(int64)
	}
	switch {
	case code == presenceConflict && len(reply) == 2:
		cur, _ := reply[1].(string)
		var got uint64
		if len(cur) == 8 {
			got = binary.BigEndian.Uint64([]byte(cur))
		}
		return 0, fmt.Errorf("wshub/redis: set presence %q in %q: %w: at revision %d, not %d",
			key, room, core.ErrPresenceConflict, got, rev)
	case code == presenceWritten:
		return newRev, nil
	case code == presenceCreatedRoom:
		// Again after the script: a ListPresence("") or a delete may have
		// taken the room out of the set between the SADD and the script.
		if err := a.client.SAdd(ctx, a.presenceRoomsKey(), room).Err(); err != nil {
			a.failures.Fail("presence", fmt.Errorf("add room %q to the presence rooms: %w", room, err))
		}
		return newRev, nil
	case code == presenceDeleted:
		return 0, nil
	case code == presenceEmptiedRoom:
		a.dropPresenceRooms(ctx, []string{room})
		return 0, nil
	}
	return 0, fmt.Errorf("wshub/redis: set presence %q in %q: unexpected reply %q from the script", key, room, reply)
}

// dropPresenceRooms takes rooms found empty out of the rooms set, then adds
// back those that got a record meanwhile: a writer that created one after
// the check added the room itself, after its script. Failures are
// reported; a room left in the set is dropped by a later ListPresence("").
func (a *Adapter) dropPresenceRooms(ctx context.Context, rooms []string) {
	set := a.presenceRoomsKey()
	members := make([]any, len(rooms))
	for i, r := range rooms {
		members[i] = r
	}
	if err := a.client.SRem(ctx, set, members...).Err(); err != nil {
		a.failures.Fail("presence", fmt.Errorf("drop %d empty rooms from the presence rooms: %w", len(rooms), err))
		return
	}
	pipe := a.client.Pipeline()
	exists := make([]*goredis.IntCmd, len(rooms))
	for i, r := range rooms {
		exists[i] = pipe.Exists(ctx, a.presenceKey(r))
	}
	_, _ = pipe.Exec(ctx)
	var back []any
	for i, c := range exists {
		// Unknown counts as a room with records: better a stale entry
		// than a room the sweeps miss.
		if n, err := c.Result(); err != nil || n > 0 {
			back = append(back, rooms[i])
		}
	}
	if len(back) == 0 {
		return
	}
	if err := a.client.SAdd(ctx, set, back...).Err(); err != nil {
		a.failures.Fail("presence", fmt.Errorf("add %d rooms back to the presence rooms: %w", len(back), err))
	}
}

// ListPresence returns the records of room, or of every room when room is
// "". It implements core.PresenceAdapter. A room comes in one round trip
// unless it has more than presencePageCount records, and in two unless it
// has more than presenceGetAllMax (see presencePageCount); "" reads the
// rooms set with SSCAN and asks for the first pages of up to
// presenceRoomsPerPipeline rooms per round trip. A list is not a snapshot
// across rooms, nor within a room of more than presenceGetAllMax records: a
// record written or deleted meanwhile may or may not be in it, but one that
// exists throughout is, once. A stored value that is not a record is
// skipped and reported (Op "decode", ErrMalformedPresence), and so is, in
// the list of every room, a room key that is not a hash. It returns
// core.ErrAdapterClosed after Close, ctx's error when ctx is done, or the
// client's error wrapped with the room. Safe for concurrent use.
func (a *Adapter) ListPresence(ctx context.Context, room string) ([]core.PresenceRecord, error) {
	if err := a.presenceUsable(ctx); err != nil {
		return nil, err
	}
	if room != "" {
		var out []core.PresenceRecord
		if _, err := a.readRooms(ctx, []string{room}, &out, false); err != nil {
			return nil, fmt.Errorf("wshub/redis: list presence in %q: %w", room, callErr(ctx, err))
		}
		return out, nil
	}

	var (
		out     []core.PresenceRecord
		empty   []string
		pending []string
		seen    = make(map[string]struct{})
		cursor  uint64
	)
	flush := func() error {
		e, err := a.readRooms(ctx, pending, &out, true)
		empty = append(empty, e...)
		pending = pending[:0]
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var names []string
		var err error
		names, cursor, err = a.client.SScan(ctx, a.presenceRoomsKey(), cursor, "", presencePageCount).Result()
		if err != nil {
			return nil, fmt.Errorf("wshub/redis: list presence rooms: %w", callErr(ctx, err))
		}
		for _, r := range names {
			if _, dup := seen[r]; dup {
				continue // SSCAN may return a member twice
			}
			seen[r] = struct{}{}
			pending = append(pending, r)
			if len(pending) == presenceRoomsPerPipeline {
				if err := flush(); err != nil {
					return nil, fmt.Errorf("wshub/redis: list presence: %w", callErr(ctx, err))
				}
			}
		}
		if cursor == 0 {
			break
		}
	}
	if len(pending) > 0 {
		if err := flush(); err != nil {
			return nil, fmt.Errorf("wshub/redis: list presence: %w", callErr(ctx, err))
		}
	}
	if len(empty) > 0 {
		a.dropPresenceRooms(ctx, empty)
	}
	return out, nil
}

// readRooms appends the records of rooms to out and returns the rooms
// that have none (see presencePageCount for the calls). With skipBad, a
// room whose key is not a hash is reported and skipped instead of failing
// the call.
func (a *Adapter) readRooms(ctx context.Context, rooms []string, out *[]core.PresenceRecord, skipBad bool) (empty []string, err error) {
	pages := make([]*goredis.ScanCmd, len(rooms))
	lens := make([]*goredis.IntCmd, len(rooms))
	pipe := a.client.Pipeline()
	for i, r := range rooms {
		key := a.presenceKey(r)
		pages[i] = pipe.HScan(ctx, key, 0, "", presencePageCount)
		lens[i] = pipe.HLen(ctx, key)
	}
	_, _ = pipe.Exec(ctx) // each command's error is in its cmd

	var whole []string // rooms to read with HGETALL
	for i, room := range rooms {
		kv, cursor, err := pages[i].Result()
		if err != nil {
			if skipBad && goredis.HasErrorPrefix(err, "WRONGTYPE") {
				a.failures.Fail("decode", fmt.Errorf("presence of %q: %w", room, err))
				continue
			}
			return empty, err
		}
		switch n, err := lens[i].Result(); {
		case cursor == 0 && len(kv) == 0:
			empty = append(empty, room)
		case cursor == 0:
			a.appendRecords(out, room, pairs(kv))
		case err == nil && n <= presenceGetAllMax:
			whole = append(whole, room)
		default:
			if err := a.scanRoom(ctx, room, kv, cursor, out); err != nil {
				return empty, err
			}
		}
	}
	if len(whole) == 0 {
		return empty, nil
	}

	alls := make([]*goredis.MapStringStringCmd, len(whole))
	pipe = a.client.Pipeline()
	for i, r := range whole {
		alls[i] = pipe.HGetAll(ctx, a.presenceKey(r))
	}
	_, _ = pipe.Exec(ctx)
	for i, room := range whole {
		m, err := alls[i].Result()
		if err != nil {
			if skipBad && goredis.HasErrorPrefix(err, "WRONGTYPE") {
				a.failures.Fail("decode", fmt.Errorf("presence of %q: %w", room, err))
				continue
			}
			return empty, err
		}
		a.appendRecords(out, room, maps.All(m))
	}
	return empty, nil
}

// scanRoom reads the HSCAN pages of room after its first, kv, and appends
// its records to out, each once (a scan may return a field twice).
func (a *Adapter) scanRoom(ctx context.Context, room string, kv []string, cursor uint64, out *[]core.PresenceRecord) error {
	at := make(map[string]int) // record key -> index in *out
	key := a.presenceKey(room)
	var page []core.PresenceRecord
	for {
		page = page[:0]
		a.appendRecords(&page, room, pairs(kv))
		for _, rec := range page {
			if j, dup := at[rec.Key]; dup {
				(*out)[j] = rec // the later page has the newer value
				continue
			}
			at[rec.Key] = len(*out)
			*out = append(*out, rec)
		}
		if cursor == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if kv, cursor, err = a.client.HScan(ctx, key, cursor, "", presencePageCount).Result(); err != nil {
			return err
		}
	}
}

// pairs yields the fields and values of an HSCAN page.
func pairs(kv []string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if !yield(kv[i], kv[i+1]) {
				return
			}
		}
	}
}

// appendRecords appends the records of fields, the fields of room's hash
// and their values, to out, and reports the values that are not records.
// The records' data share one allocation, each capped so that an append
// to one never writes over the next.
func (a *Adapter) appendRecords(out *[]core.PresenceRecord, room string, fields iter.Seq2[string, string]) {
	n, size := 0, 0
	for _, v := range fields {
		if len(v) >= 8 {
			n++
			size += len(v) - 8
		}
	}
	*out = slices.Grow(*out, n)
	arena := make([]byte, 0, size)
	for key, v := range fields {
		rev, data, err := decodePresence(v)
		if err != nil {
			a.failures.Fail("decode", fmt.Errorf("presence %q in %q: %w", key, room, err))
			continue
		}
		start := len(arena)
		arena = append(arena, data...)
		*out = append(*out, core.PresenceRecord{Room: room, Key: key, Data: arena[start:len(arena):len(arena)], Rev: rev})
	}
}

// decodePresence splits a stored value into its revision and its data.
// Values come from Redis, which anything with access to it can write: it
// checks the length and never panics.
func decodePresence(v string) (uint64, string, error) {
	if len(v) < 8 {
		return 0, "", fmt.Errorf("%w: %d bytes, shorter than a revision", ErrMalformedPresence, len(v))
	}
	var rev uint64
	for i := range 8 {
		rev = rev<<8 | uint64(v[i])
	}
	if rev == 0 {
		return 0, "", fmt.Errorf("%w: revision 0", ErrMalformedPresence)
	}
	return rev, v[8:], nil
}

// callErr returns err, a failed call's, with ctx's error added in front
// when ctx is done or past its deadline. go-redis gives the socket ctx's
// deadline, so a call that runs out of time may fail with the socket's "i/o
// timeout" a moment before ctx itself reports done; the caller must still
// see context.DeadlineExceeded.
func callErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w (%w)", cerr, err)
}
