package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
)

// Nicknames are unique in a room: a join whose nick another connection in
// the room uses is refused (Chat.join). "Another connection" excludes the
// same page coming back: a page sends a session, a random token it keeps
// for its tab (sessionStorage, so it survives reloads), with every join,
// and a connection whose session is the joiner's is that page's earlier
// connection, which its node may not have noticed is gone yet (a reload,
// a dropped network, a node that drained it while the store still lists
// it). Without a session a client is never "the same page".
//
// Two checks, this node's first:
//
//   - nickTable, below: the nicks this node's connections use, claimed
//     and checked in one step under its lock, so two joins on one node
//     never both get a nick.
//   - the room's member list (Hub.Presence), which every node of the
//     cluster writes: the connections of the other nodes (this node's own
//     are in the table, which is up to date while the store is written in
//     the background). Lingering users have no connection: their nick is
//     free.
//
// The race window left: two joins of one nick on two different nodes,
// each reading the list before the other's record is in the store (the
// hub writes it in the background right after the join; a few
// milliseconds on a healthy broker), both succeed. A store that cannot be
// read lets the join through (the error is logged): the chat stays usable
// while the broker is away, checked on this node alone.

// maxSessionLen bounds the session a join presents.
const maxSessionLen = 64

// errBadSession is the answer to a join whose session is malformed.
var errBadSession = errors.New("session must be at most 64 letters, digits, - or _")

// sessionDigest returns the digest of a join's session that the chat
// keeps and compares: the token itself never leaves the node (the member
// list of the store the nodes share holds the digest). It returns "" for
// no session.
func sessionDigest(session string) (string, error) {
	if session == "" {
		return "", nil
	}
	if len(session) > maxSessionLen {
		return "", errBadSession
	}
	if strings.IndexFunc(session, notTokenRune) >= 0 {
		return "", errBadSession
	}
	sum := sha256.Sum256([]byte(session))
	return hex.EncodeToString(sum[:16]), nil
}

// notTokenRune reports whether r may not be in a session: only ASCII
// letters, digits, '-' and '_' may.
func notTokenRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_':
		return false
	}
	return true
}

// samePage reports whether two connections' session digests show them to
// be one page: both have one, and they are equal.
func samePage(a, b string) bool { return a != "" && a == b }

// conn is what nickTable needs of a connection; *core.Client is one.
type conn interface {
	// IsClosed reports whether the connection is closing or closed.
	IsClosed() bool
}

// nickTable records which of this node's connections use which nick in
// which room. Connections that close are forgotten when they release
// their nick (Chat.closed), or at the latest by the next claim of that
// nick, which skips closed ones. Safe for concurrent use; the zero value
// is empty and ready.
type nickTable struct {
	mu    sync.Mutex
	users map[nickKey][]nickUser
}

type nickKey struct{ room, nick string }

// nickUser is a connection using a nick, with its session digest ("" for
// none).
type nickUser struct {
	conn    conn
	session string
}

// claim records c, with session (a digest, "" for none), as a user of nick
// in room, unless another open connection of this node uses that nick
// there and is not the same page (samePage). It reports whether it
// recorded c; claiming again what c holds succeeds and changes nothing.
func (t *nickTable) claim(room, nick string, c conn, session string) bool {
	k := nickKey{room, nick}
	t.mu.Lock()
	defer t.mu.Unlock()
	users := t.users[k][:0:0]
	mine := false
	for _, u := range t.users[k] {
		switch {
		case u.conn == c:
			mine = true
		case u.conn.IsClosed():
			continue // gone: its nick is free
		case !samePage(u.session, session):
			return false
		}
		users = append(users, u)
	}
	if !mine {
		users = append(users, nickUser{conn: c, session: session})
	}
	if t.users == nil {
		t.users = make(map[nickKey][]nickUser)
	}
	t.users[k] = users
	return true
}

// release forgets c as a user of nick in room; it does nothing if c was
// none.
func (t *nickTable) release(room, nick string, c conn) {
	k := nickKey{room, nick}
	t.mu.Lock()
	defer t.mu.Unlock()
	users := t.users[k][:0:0]
	for _, u := range t.users[k] {
		if u.conn != c {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		delete(t.users, k)
		return
	}
	t.users[k] = users
}
