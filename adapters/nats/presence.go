package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/failure"
)

const (
	// presenceRequestTimeout bounds each request to JetStream in addition
	// to the caller's ctx, as historyRequestTimeout does for history.
	presenceRequestTimeout = historyRequestTimeout
	// listBatch is how many records one pull request of a listing asks
	// for: 10,000 records take ten round trips, and a batch of records of
	// a few KB stays well inside a subscription's pending limits.
	listBatch = 1024
)

// presenceStore keeps the member records of one adapter in a JetStream
// key-value bucket (see the package documentation, "Presence"). It starts
// no goroutine. Safe for concurrent use; its lock is never held across a
// request.
type presenceStore struct {
	nc       *natsgo.Conn
	js       jetstream.JetStream
	cfg      jetstream.KeyValueConfig
	stream   string // the bucket's stream: "KV_<bucket>"
	subj     string // subject prefix of its keys: "$KV.<bucket>."
	failures *failure.Reporter

	mu sync.Mutex
	// kv is the bucket once this adapter created or updated it; nil before
	// and after the bucket was found gone, so the next write creates it.
	kv jetstream.KeyValue
}

func newPresenceStore(nc *natsgo.Conn, js jetstream.JetStream, subj subjects, cfg config, failures *failure.Reporter) *presenceStore {
	bucket := subj.presenceBucket()
	return &presenceStore{
		nc: nc,
		js: js,
		cfg: jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "wshub member records",
			History:     1,
			TTL:         cfg.presenceTTL,
			Storage:     cfg.presenceStorage,
			Replicas:    cfg.presenceReplicas,
		},
		stream:   "KV_" + bucket,
		subj:     "$KV." + bucket + ".",
		failures: failures,
	}
}

// PresenceTTL returns how long the presence bucket keeps a record that is
// not rewritten (WithPresenceTTL, default DefaultPresenceTTL), so that the
// hub rewrites its members' records every third of it
// (core.PresenceTTLAdapter).
func (a *Adapter) PresenceTTL() time.Duration { return a.pres.cfg.TTL }

// GetPresence returns the record of key in room, read from the bucket's
// stream leader, or a record with Rev 0 and nil Data when there is none, it
// was deleted or it expired, or the bucket does not exist yet
// (core.PresenceAdapter). A stored value that does not decode is reported
// (Op "decode") and returned with its revision and nil Data, so that the
// hub's next compare-and-set replaces it. Errors: core.ErrAdapterClosed,
// ctx's error, ErrNotConnected or JetStream's, all wrapped; the request is
// bounded by ctx and by 2 s.
func (a *Adapter) GetPresence(ctx context.Context, room, key string) (core.PresenceRecord, error) {
	if err := a.presenceReady(ctx); err != nil {
		return core.PresenceRecord{}, fmt.Errorf("wshub/nats: get presence %q in %q: %w", key, room, err)
	}
	rec, err := a.pres.get(ctx, room, key)
	if err != nil {
		return core.PresenceRecord{}, fmt.Errorf("wshub/nats: get presence %q in %q: %w", key, room, err)
	}
	return rec, nil
}

// SetPresence writes data as the record of key in room if the record is
// still at revision rev (0: if there is none), or deletes it when data is
// nil, and returns the new revision (0 after a delete)
// (core.PresenceAdapter). Deleting at revision 0 a record that is absent
// writes nothing. The first write creates the bucket (again, if it was
// deleted behind the adapter's back). Errors, all wrapped:
// core.ErrPresenceConflict when the record is at another revision,
// core.ErrAdapterClosed, ctx's error, ErrNotConnected or JetStream's. Each
// request is bounded by ctx and by 2 s; a request that timed out is not
// retried (it may have been stored: the caller reads the record again).
func (a *Adapter) SetPresence(ctx context.Context, room, key string, data []byte, rev uint64) (uint64, error) {
	if err := a.presenceReady(ctx); err != nil {
		return 0, fmt.Errorf("wshub/nats: set presence %q in %q: %w", key, room, err)
	}
	n, err := a.pres.set(ctx, room, key, data, rev)
	if err != nil {
		return 0, fmt.Errorf("wshub/nats: set presence %q in %q at revision %d: %w", key, room, rev, err)
	}
	return n, nil
}

// ListPresence returns the records of room, or of every room when room is
// "", as the bucket's stream leader holds them (core.PresenceAdapter), in
// no particular order; none when the bucket does not exist yet. It reads
// them through a short-lived consumer (three requests to set up and tear
// down, plus one per 1,024 records), which also delivers the markers of
// records deleted within the TTL and skips them. A value that does not
// decode is skipped and reported (Op "decode"). Errors:
// core.ErrAdapterClosed, ctx's error, ErrNotConnected or JetStream's, all
// wrapped; each request is bounded by ctx and by 2 s.
func (a *Adapter) ListPresence(ctx context.Context, room string) ([]core.PresenceRecord, error) {
	if err := a.presenceReady(ctx); err != nil {
		return nil, fmt.Errorf("wshub/nats: list presence of %q: %w", room, err)
	}
	recs, err := a.pres.list(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("wshub/nats: list presence of %q: %w", room, err)
	}
	return recs, nil
}

func (a *Adapter) presenceReady(ctx context.Context) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !a.nc.IsConnected() {
		return fmt.Errorf("%w: connection %s", ErrNotConnected, a.nc.Status())
	}
	return nil
}

// isConflict reports whether err is JetStream refusing a write because the
// key is not at the expected revision ("wrong last sequence").
func isConflict(err error) bool {
	return isWrongLast(err) || errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// bucket returns the bucket, creating it or updating it to this adapter's
// configuration on first use. Several nodes may do so at once: JetStream
// accepts the creation of a stream that exists with the same
// configuration, and one that another node created in between with another
// configuration is updated to ours on the second attempt.
func (s *presenceStore) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	kv := s.kv
	s.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, presenceRequestTimeout)
		kv, err := s.js.CreateOrUpdateKeyValue(rctx, s.cfg)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.kv = kv
			s.mu.Unlock()
			return kv, nil
		}
		if attempt > 0 || ctx.Err() != nil || apiCode(err) != jetstream.JSErrCodeStreamNameInUse {
			return nil, fmt.Errorf("create bucket %s: %w", s.cfg.Bucket, noJetStream(err))
		}
	}
}

// lost records that the bucket is gone: the next write creates it again.
func (s *presenceStore) lost() {
	s.mu.Lock()
	s.kv = nil
	s.mu.Unlock()
}

// last returns the revision, headers and value of the last message of
// bucket key k, read from the stream leader (a direct get may be answered
// by a replica that lags behind, and a compare-and-set decided on a stale
// read would lose updates); rev 0 when the key has no message or the
// bucket does not exist.
func (s *presenceStore) last(ctx context.Context, k string) (rev uint64, hdr natsgo.Header, val []byte, err error) {
	rev, hdr, val, err = leaderGet(ctx, s.nc, s.stream, msgGetRequest{LastFor: s.subj + k})
	switch {
	case errors.Is(err, errStreamGone):
		s.lost()
		return 0, nil, nil, nil
	case errors.Is(err, errNoMessage):
		return 0, nil, nil, nil
	}
	return rev, hdr, val, err
}

func (s *presenceStore) get(ctx context.Context, room, key string) (core.PresenceRecord, error) {
	rec := core.PresenceRecord{Room: room, Key: key}
	rev, hdr, val, err := s.last(ctx, presenceKey(room, key))
	if err != nil || rev == 0 || isKVMarker(hdr) {
		return rec, err
	}
	rec.Rev = rev
	r, k, data, err := decodePresenceValue(val)
	switch {
	case err != nil:
		s.failures.Fail("decode", fmt.Errorf("presence record %q in %q (%s #%d): %w", key, room, s.stream, rev, err))
	case r != room || k != key: // written by someone else
		s.failures.Fail("decode", fmt.Errorf("presence record %q in %q (%s #%d) holds %q in %q", key, room, s.stream, rev, k, r))
	default:
		rec.Data = data
	}
	return rec, nil
}

// set writes (or deletes) one record. Revisions are the stream sequences
// of the bucket's messages, so JetStream never hands out one twice: a
// record deleted and written again gets a revision that no earlier read
// returned, and a write at a revision from before the delete fails. (A
// bucket deleted and created again numbers from 1 again; the hub reads a
// record right before each write, which keeps that window small.) A write
// that reached no stream (the bucket was deleted behind our back, or is
// electing a leader) stored nothing and is retried once, after creating
// the bucket.
func (s *presenceStore) set(ctx context.Context, room, key string, data []byte, rev uint64) (uint64, error) {
	k := presenceKey(room, key)
	if data == nil && rev == 0 {
		// No write: a delete marker for a key that has none would only
		// cost the bucket a message for TTL.
		cur, hdr, _, err := s.last(ctx, k)
		switch {
		case err != nil:
			return 0, err
		case cur != 0 && !isKVMarker(hdr):
			return 0, fmt.Errorf("%w: it is at revision %d", core.ErrPresenceConflict, cur)
		}
		return 0, nil
	}
	var val []byte
	if data != nil {
		val = appendPresenceValue(make([]byte, 0, 16+len(room)+len(key)+len(data)), room, key, data)
	}
	for attempt := 0; ; attempt++ {
		kv, err := s.bucket(ctx)
		if err != nil {
			return 0, err
		}
		n, err := s.write(ctx, kv, k, val, rev)
		switch {
		case err == nil:
			return n, nil
		case isConflict(err):
			return 0, fmt.Errorf("%w: %w", core.ErrPresenceConflict, err)
		case errors.Is(err, jetstream.ErrNoStreamResponse) && attempt == 0 && ctx.Err() == nil:
			s.lost()
			continue
		}
		return 0, err
	}
}

// write makes one attempt of set: val (nil: delete) as the value of k at
// revision rev.
func (s *presenceStore) write(ctx context.Context, kv jetstream.KeyValue, k string, val []byte, rev uint64) (uint64, error) {
	rctx, cancel := context.WithTimeout(ctx, presenceRequestTimeout)
	defer cancel()
	switch {
	case val == nil:
		return 0, kv.Delete(rctx, k, jetstream.LastRevision(rev))
	case rev != 0:
		return kv.Update(rctx, k, val, rev)
	}
	// Create: the key must have no message, or a delete marker as its
	// last (kv.Create does the same, but reads the marker with a direct
	// get, which a lagging replica may answer).
	n, err := kv.Update(rctx, k, val, 0)
	if !isWrongLast(err) {
		return n, err
	}
	cur, hdr, _, gerr := s.last(ctx, k)
	switch {
	case gerr != nil:
		return 0, gerr
	case cur == 0: // expired since: try again
		return kv.Update(rctx, k, val, 0)
	case !isKVMarker(hdr):
		return 0, err // the record exists: a conflict
	}
	return kv.Update(rctx, k, val, cur)
}

// list reads the keys of room (every key when room is "") through an
// ephemeral pull consumer, deleting the consumer afterwards. The bucket
// keeps one message per key (History 1), so the consumer delivers every
// message rather than the last per subject: the same messages, and on
// NATS 2.9 creating it costs half as much (15 ms instead of 35 ms over
// 11,000 keys on file storage); should a key hold more, the last one
// delivered, its newest, wins. It reads until the consumer has nothing
// pending, so records written while it reads are included; a record
// delivered twice (rewritten meanwhile) keeps its last value, and one
// deleted meanwhile is left out.
func (s *presenceStore) list(ctx context.Context, room string) ([]core.PresenceRecord, error) {
	filter := s.subj + ">"
	if room != "" {
		filter = string(appendPresenceToken([]byte(s.subj), room)) + ".*"
	}
	cctx, cancel := context.WithTimeout(ctx, presenceRequestTimeout)
	cons, err := s.js.CreateConsumer(cctx, s.stream, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: readerIdle,
	})
	cancel()
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s.lost()
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("list consumer on %s: %w", s.stream, noJetStream(err))
	}
	info := cons.CachedInfo()
	// Deleted without waiting for the answer; should the request be lost,
	// JetStream removes the consumer after readerIdle.
	defer func() { _ = s.nc.Publish(jsAPIPrefix+"CONSUMER.DELETE."+s.stream+"."+info.Name, nil) }()
	if info.NumPending == 0 {
		return nil, nil
	}

	inbox := s.nc.NewInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("list consumer on %s: %w", s.stream, err)
	}
	defer func() { _ = sub.Unsubscribe() }() // fails only if already gone
	l := presenceList{s: s, at: make(map[string]int, min(info.NumPending, listBatch))}
	next := jsAPIPrefix + "CONSUMER.MSG.NEXT." + s.stream + "." + info.Name
	req := []byte(`{"batch":` + strconv.Itoa(listBatch) + `,"no_wait":true}`)
	for more := true; more; {
		if err := s.nc.PublishRequest(next, inbox, req); err != nil {
			return nil, fmt.Errorf("pull from %s: %w", s.stream, err)
		}
		if more, err = l.pull(ctx, sub); err != nil {
			return nil, err
		}
	}
	return l.records(), nil
}

// presenceList collects the records of one listing.
type presenceList struct {
	s   *presenceStore
	out []core.PresenceRecord // Rev 0: deleted during the listing
	at  map[string]int        // index in out by subject
	key []byte                // scratch for atOwnKey
}

// pull receives the answer to one pull request and reports whether more
// records may follow.
func (l *presenceList) pull(ctx context.Context, sub *natsgo.Subscription) (bool, error) {
	pctx, cancel := context.WithTimeout(ctx, presenceRequestTimeout)
	defer cancel()
	for range listBatch {
		m, err := sub.NextMsgWithContext(pctx)
		if err != nil {
			return false, fmt.Errorf("pull from %s: %w", l.s.stream, err)
		}
		if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
			// 404 (no more messages) or 408 (request expired) end the
			// listing; anything else is a failure.
			if status == "404" || status == "408" {
				return false, nil
			}
			return false, fmt.Errorf("pull from %s: status %s %s", l.s.stream, status, m.Header.Get("Description"))
		}
		meta, err := m.Metadata()
		if err != nil {
			return false, fmt.Errorf("pull from %s: %w", l.s.stream, err)
		}
		l.take(m, meta.Sequence.Stream)
		if meta.NumPending == 0 {
			return false, nil
		}
	}
	return true, nil
}

// take adds the record of m, stored at stream sequence rev.
func (l *presenceList) take(m *natsgo.Msg, rev uint64) {
	rec := core.PresenceRecord{}
	if !isKVMarker(m.Header) {
		room, key, data, err := decodePresenceValue(m.Data)
		switch {
		case err != nil:
			l.s.failures.Fail("decode", fmt.Errorf("presence record %s (%s #%d): %w", m.Subject, l.s.stream, rev, err))
		case !l.atOwnKey(m.Subject, room, key): // written by someone else
			l.s.failures.Fail("decode", fmt.Errorf("presence record %s (%s #%d) holds %q in %q", m.Subject, l.s.stream, rev, key, room))
		default:
			rec = core.PresenceRecord{Room: room, Key: key, Data: data, Rev: rev}
		}
	}
	if i, ok := l.at[m.Subject]; ok {
		l.out[i] = rec
		return
	}
	if rec.Rev == 0 {
		return
	}
	l.at[m.Subject] = len(l.out)
	l.out = append(l.out, rec)
}

// atOwnKey reports whether subj is the subject of the record of key in
// room.
func (l *presenceList) atOwnKey(subj, room, key string) bool {
	l.key = appendPresenceKey(append(l.key[:0], l.s.subj...), room, key)
	return subj == string(l.key)
}

// records returns what the listing found, without the records deleted
// while it read.
func (l *presenceList) records() []core.PresenceRecord {
	out := l.out[:0]
	for _, r := range l.out {
		if r.Rev != 0 {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
