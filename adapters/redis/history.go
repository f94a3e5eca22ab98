package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

// History rooms (see the package documentation, "History").
//
// Each room has two keys that share the room name as their hash tag, so
// one script and one MULTI can use both on a cluster:
//
//	<prefix>:history:{<room>}:s  stream; entry ID "<offset>-1", field "m"
//	<prefix>:history:{<room>}:m  hash; "epoch" and "top" (newest offset)
//
// The stream's ID carries the offset in its first part, so XRANGE from
// "<n>" (read by Redis as "<n>-0") starts at offset n and the first entry
// gives the oldest offset kept. The second part is always 1.

// ErrNotRoomMessage is set, wrapped, as the Err of an AppendHistory item
// whose message is not of type core.AdapterRoom or core.AdapterRoomExcept:
// only rooms keep history. (It lives here rather than in errors.go while
// history is being built; the NATS adapter has the same sentinel.)
var ErrNotRoomMessage = errors.New("wshub/redis: history append of a message that is not a room message")

// entryField is the stream field holding an entry's wire message.
const entryField = "m"

// maxLuaOffset is the first offset the script does not give: Lua numbers
// are doubles, exact up to 2^53. A room that reaches it starts a new epoch.
const maxLuaOffset = 1 << 53

// appendScript stores and publishes one message of a history room.
//
//	KEYS[1] stream, KEYS[2] meta
//	ARGV[1] epoch to start a stream with, ARGV[2] Size (MAXLEN),
//	ARGV[3] TTL in milliseconds (0: none), ARGV[4] the wire message
//	without a position, ARGV[5] the room's channel
//
// It returns {epoch, offset}. It starts a new epoch when the meta hash is
// missing or unusable (and drops any stream left without one), and when
// the stream key is not a stream or refuses the next offset, which happens
// only when something else changed the keys: a room is not stuck for good.
// Nothing but the removal of a stream that is dropped anyway comes before
// the XADD, the step that can fail (out of memory, say), so a failed call
// publishes nothing and leaves the meta hash as it was. The message stored
// and published is ARGV[4] with its version byte set to 2 and extension 2
// (the position) appended: exactly what wire.Append writes for the message
// with Pos set. The script is built once and never changed (go-redis
// changes a Script only in Load, which the adapter does not call).
var appendScript = goredis.NewScript(`
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'top')
local epoch, top = meta[1], meta[2] and string.match(meta[2], '^%d+$') and tonumber(meta[2])
local fresh = not epoch or #epoch == 0 or #epoch > 64 or not top
  or top + 1 >= 9007199254740992
if fresh then
  epoch, top = ARGV[1], 0
  redis.call('DEL', KEYS[1])
end
top = top + 1

local function uvarint(n)
  local b = {}
  while n >= 128 do
    b[#b + 1] = n % 128 + 128
    n = math.floor(n / 128)
  end
  b[#b + 1] = n
  return string.char(unpack(b))
end
local body = string.sub(ARGV[4], 2)
local function encode()
  local pos = uvarint(top) .. epoch
  return '\2' .. body .. '\2' .. string.char(#pos) .. pos
end

local msg = encode()
local id = string.format('%d-1', top)
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', ARGV[2], id, 'm', msg)
if type(added) == 'table' and added.err then
  if fresh or not (string.find(added.err, 'equal or smaller', 1, true)
      or string.find(added.err, 'WRONGTYPE', 1, true) == 1) then
    return added
  end
  epoch, top = ARGV[1], 1
  redis.call('DEL', KEYS[1])
  msg = encode()
  id = '1-1'
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], id, 'm', msg)
end
redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', string.format('%d', top))
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
redis.call('PUBLISH', ARGV[5], msg)
return {epoch, top}
`)

// historyKeys returns the stream and meta keys of room.
func (a *Adapter) historyKeys(room string) (stream, meta string) {
	base := a.histPrefix + "{" + room + "}"
	return base + ":s", base + ":m"
}

// appendCall is one item of an AppendHistory batch on its way to Redis.
type appendCall struct {
	i    int // index in the batch
	keys []string
	args []any
	cmd  *goredis.Cmd
}

// AppendHistory stores each message of batch in its room's history and
// publishes it, with its position, on the room's channel (see the package
// documentation, "History"); it sets Msg.Pos of each message stored, and
// Err, wrapped with the room's name, and a zero Msg.Pos of each one that
// was not. It implements core.HistoryAdapter.
//
// Like PublishBatch it first waits until Redis has confirmed the room
// subscriptions declared before the call, then sends one script per
// message, all in one pipelined round trip (a second one when Redis lacks
// the script); order is kept within a room. Items get Err
// core.ErrAdapterClosed after Close, ErrNotConnected (wrapped) while the
// subscription's link is down (see Connected), ctx's error when ctx is
// done, ErrNotRoomMessage, core.ErrEmptyRoomName or core.ErrNoHistory
// (wrapped) for an item that is not a history room's message, or the
// client's error. A message whose store failed was
// not published; when the reply was lost on the way (a broken connection,
// ctx ended mid-call) the message may have been stored and published
// although it carries the error. Safe for concurrent use.
func (a *Adapter) AppendHistory(ctx context.Context, batch []core.HistoryAppend) {
	if len(batch) == 0 {
		return
	}
	for i := range batch {
		batch[i].Msg.Pos, batch[i].Err = core.Position{}, nil
	}
	if err := a.appendable(ctx); err != nil {
		for i := range batch {
			batch[i].Err = err
		}
		return
	}
	a.awaitInterest(ctx)

	// Encode every message without its position into one buffer, as
	// PublishBatch does, and slice it once it no longer grows.
	bp := a.getBuf()
	b := (*bp)[:0]
	ends := make([]int, len(batch))
	calls := make([]appendCall, 0, len(batch))
	for i := range batch {
		it := &batch[i]
		if err := checkAppend(it); err != nil {
			it.Err = fmt.Errorf("wshub/redis: append to history of %q: %w", it.Msg.Room, err)
			ends[i] = len(b)
			continue
		}
		b = wire.Append(b, &it.Msg) // without a position: the script adds it
		ends[i] = len(b)
		calls = append(calls, appendCall{i: i})
	}
	for k := range calls {
		c := &calls[k]
		it := &batch[c.i]
		start := 0
		if c.i > 0 {
			start = ends[c.i-1]
		}
		stream, meta := a.historyKeys(it.Msg.Room)
		c.keys = []string{stream, meta}
		c.args = []any{
			core.NewEpoch(),
			it.Options.Size,
			ttlMillis(it.Options.TTL),
			b[start:ends[c.i]:ends[c.i]],
			a.channel(&it.Msg),
		}
	}
	if len(calls) > 0 {
		a.runAppends(ctx, calls)
	}
	// go-redis keeps no reference to the arguments once Exec returned.
	a.putBuf(bp, b)

	for k := range calls {
		c := &calls[k]
		it := &batch[c.i]
		pos, err := appendReply(c.cmd)
		if err != nil {
			it.Err = fmt.Errorf("wshub/redis: append to history of %q: %w", it.Msg.Room, err)
			continue
		}
		it.Msg.Pos = pos
	}
}

// appendable returns why nothing can be appended now, or nil.
func (a *Adapter) appendable(ctx context.Context) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !a.Connected() {
		return fmt.Errorf("wshub/redis: append to history: %w", ErrNotConnected)
	}
	return nil
}

// checkAppend reports whether it can go to a room's history.
func checkAppend(it *core.HistoryAppend) error {
	switch {
	case it.Msg.Type != core.AdapterRoom && it.Msg.Type != core.AdapterRoomExcept:
		return fmt.Errorf("%w: type %q", ErrNotRoomMessage, it.Msg.Type)
	case it.Msg.Room == "":
		return core.ErrEmptyRoomName
	case !it.Options.Enabled():
		return fmt.Errorf("%w: size %d", core.ErrNoHistory, it.Options.Size)
	}
	return nil
}

// runAppends runs the calls' scripts in one pipeline, by digest, and runs
// again by source those Redis did not have (after a restart or SCRIPT
// FLUSH). A script Redis lacked did not run, so running it again stores
// its message once; when Redis lacked it for every call, as it does
// unless another client loads the script mid-pipeline, the retried calls
// keep their order.
func (a *Adapter) runAppends(ctx context.Context, calls []appendCall) {
	pipe := a.client.Pipeline()
	for k := range calls {
		c := &calls[k]
		c.cmd = appendScript.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each call's error is in its cmd
	var again []*appendCall
	for k := range calls {
		if goredis.HasErrorPrefix(calls[k].cmd.Err(), "NOSCRIPT") {
			again = append(again, &calls[k])
		}
	}
	if len(again) == 0 {
		return
	}
	pipe = a.client.Pipeline()
	for _, c := range again {
		c.cmd = appendScript.Eval(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
}

// appendReply reads the script's reply: the epoch and offset it gave.
func appendReply(cmd *goredis.Cmd) (core.Position, error) {
	reply, err := cmd.Slice()
	if err != nil {
		return core.Position{}, err
	}
	if len(reply) == 2 {
		epoch, ok1 := reply[0].(string)
		off, ok2 := reply[1].(int64)
		if ok1 && ok2 && epoch != "" && off > 0 {
			return core.Position{Epoch: epoch, Offset: uint64(off)}, nil
		}
	}
	return core.Position{}, fmt.Errorf("unexpected reply %v from the history script", reply)
}

// ttlMillis is the TTL argument of the script: whole milliseconds, rounded
// up so that a positive TTL never becomes 0 (no expiry).
func ttlMillis(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}

// ReadHistory returns the messages of room's history selected by q, with
// their positions, and the state of the room's stream, read in one
// MULTI/EXEC so they agree (see core.MemoryHistory.Read for the page's
// fields). A room that keeps nothing gives the zero page. A stored entry
// that does not decode is skipped and reported (Op "decode", or "version"
// for a message of a newer format). opts is not used: all rooms share one
// layout.
//
// Like AppendHistory it first waits until Redis has confirmed the room
// subscriptions declared before the call (see SetRoomInterest), so every
// message stored after the read reaches this node: the hub reads where a
// room's stream stands, when the room's first member joins here, only
// once it receives what follows. (The subscription has a connection of
// its own, so without the wait another node's messages stored between the
// read and the SUBSCRIBE would come from the store alone, and a room that
// keeps few could have dropped them before this node saw a gap.)
//
// It returns core.ErrAdapterClosed after Close, core.ErrEmptyRoomName for
// an empty room, or the client's error wrapped with the room's name. Safe
// for concurrent use.
func (a *Adapter) ReadHistory(ctx context.Context, room string, _ core.History, q core.HistoryQuery) (core.HistoryPage, error) {
	if a.closed.Load() {
		return core.HistoryPage{}, core.ErrAdapterClosed
	}
	if room == "" {
		return core.HistoryPage{}, core.ErrEmptyRoomName
	}
	a.awaitInterest(ctx)
	stream, meta := a.historyKeys(room)
	pipe := a.client.TxPipeline()
	metaCmd := pipe.HMGet(ctx, meta, "epoch", "top")
	firstCmd := pipe.XRangeN(ctx, stream, "-", "+", 1)
	var sel *goredis.XMessageSliceCmd
	if q.After < math.MaxUint64 {
		from := strconv.FormatUint(q.After+1, 10)
		switch {
		case q.Reverse && q.Limit > 0:
			sel = pipe.XRevRangeN(ctx, stream, "+", from, int64(q.Limit))
		case q.Reverse:
			sel = pipe.XRevRange(ctx, stream, "+", from)
		case q.Limit > 0:
			sel = pipe.XRangeN(ctx, stream, from, "+", int64(q.Limit))
		default:
			sel = pipe.XRange(ctx, stream, from, "+")
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return core.HistoryPage{}, fmt.Errorf("wshub/redis: read history of %q: %w", room, callErr(ctx, err))
	}

	epoch, top, ok := parseMeta(metaCmd.Val())
	if !ok {
		// No stream, or one the next append replaces with a new epoch.
		return core.HistoryPage{}, nil
	}
	page := core.HistoryPage{Epoch: epoch, Top: top}
	if first := firstCmd.Val(); len(first) > 0 {
		off, err := entryOffset(first[0].ID)
		if err != nil {
			a.failures.Fail("decode", fmt.Errorf("history of %q: %w", room, err))
		}
		page.First = off
	}
	if sel == nil {
		return page, nil
	}
	entries := sel.Val()
	if len(entries) > 0 {
		page.Messages = make([]core.AdapterMessage, 0, len(entries))
	}
	for _, e := range entries {
		m, err := decodeEntry(e, room, epoch)
		if err != nil {
			a.failures.Fail(wire.ErrorOp(err), fmt.Errorf("history of %q: %w", room, err))
			continue
		}
		page.Messages = append(page.Messages, m)
	}
	return page, nil
}

// parseMeta reads the meta hash's epoch and top as HMGET returned them. It
// reports false when the hash is missing or unusable: the script then
// starts a new epoch, so nothing of the old stream counts as kept.
func parseMeta(vals []any) (epoch string, top uint64, ok bool) {
	if len(vals) != 2 {
		return "", 0, false
	}
	epoch, _ = vals[0].(string)
	s, _ := vals[1].(string)
	top, err := strconv.ParseUint(s, 10, 64)
	if err != nil || epoch == "" || len(epoch) > wire.MaxEpochLen || top >= maxLuaOffset-1 {
		return "", 0, false
	}
	return epoch, top, true
}

// entryOffset returns the offset a stream entry's ID carries.
func entryOffset(id string) (uint64, error) {
	ms, _, found := strings.Cut(id, "-")
	off, err := strconv.ParseUint(ms, 10, 64)
	if !found || err != nil || off == 0 {
		return 0, fmt.Errorf("%w: stream entry ID %q is not <offset>-1", wire.ErrMalformed, id)
	}
	return off, nil
}

// decodeEntry decodes one stream entry of room's stream in epoch. Stream
// entries are untrusted like bus messages: anything with write access to
// Redis may have put them there, so an entry that is not a message of
// room is malformed too.
func decodeEntry(e goredis.XMessage, room, epoch string) (core.AdapterMessage, error) {
	off, err := entryOffset(e.ID)
	if err != nil {
		return core.AdapterMessage{}, err
	}
	v, ok := e.Values[entryField].(string)
	if !ok {
		return core.AdapterMessage{}, fmt.Errorf("%w: stream entry %s has no field %q", wire.ErrMalformed, e.ID, entryField)
	}
	m, err := wire.Decode([]byte(v))
	if err != nil {
		return core.AdapterMessage{}, fmt.Errorf("stream entry %s: %w", e.ID, err)
	}
	if (m.Type != core.AdapterRoom && m.Type != core.AdapterRoomExcept) || m.Room != room {
		return core.AdapterMessage{}, fmt.Errorf("%w: stream entry %s is a %s message of room %q", wire.ErrMalformed, e.ID, m.Type, m.Room)
	}
	m.Pos = core.Position{Epoch: epoch, Offset: off}
	return m, nil
}
