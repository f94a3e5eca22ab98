package core

import (
	"sync"
)

// registryShards splits the client registry so that connects, disconnects
// and broadcast snapshots contend only per shard. A power of two.
const registryShards = 64

// registry indexes clients by ID. Adding and removing are O(1): each shard
// keeps a slice (for snapshots) and a map (for lookups).
type registry struct {
	shards [registryShards]regShard
}

type regShard struct {
	mu   sync.RWMutex
	byID map[string]*Client
	list []*Client
	_    [24]byte // keep hot shards on separate cache lines
}

func shardOf(id string) uint32 {
	// FNV-1a
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return h & (registryShards - 1)
}

func (r *registry) add(c *Client) {
	s := &r.shards[shardOf(c.ID)]
	s.mu.Lock()
	if s.byID == nil {
		s.byID = make(map[string]*Client)
	}
	s.byID[c.ID] = c
	c.shardPos = len(s.list)
	s.list = append(s.list, c)
	s.mu.Unlock()
}

func (r *registry) remove(c *Client) bool {
	s := &r.shards[shardOf(c.ID)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[c.ID] != c {
		return false
	}
	delete(s.byID, c.ID)
	last := len(s.list) - 1
	moved := s.list[last]
	s.list[c.shardPos] = moved
	moved.shardPos = c.shardPos
	s.list[last] = nil
	s.list = s.list[:last]
	return true
}

func (r *registry) get(id string) (*Client, bool) {
	s := &r.shards[shardOf(id)]
	s.mu.RLock()
	c, ok := s.byID[id]
	s.mu.RUnlock()
	return c, ok
}

// snapshotShard appends shard i's clients to dst.
func (r *registry) snapshotShard(i int, dst []*Client) []*Client {
	s := &r.shards[i]
	s.mu.RLock()
	dst = append(dst, s.list...)
	s.mu.RUnlock()
	return dst
}

func (r *registry) all() []*Client {
	var out []*Client
	for i := range r.shards {
		out = r.snapshotShard(i, out)
	}
	return out
}

// clientBufPool recycles broadcast snapshot buffers.
var clientBufPool = sync.Pool{New: func() any { s := make([]*Client, 0, 256); return &s }}

func getClientBuf() *[]*Client {
	b, _ := clientBufPool.Get().(*[]*Client) // New always succeeds
	return b
}

// userIndex maps user IDs to their clients.
type userIndex struct {
	shards [registryShards]userShard
}

type userShard struct {
	mu sync.RWMutex
	m  map[string][]*Client
}

func (u *userIndex) shard(userID string) *userShard { return &u.shards[shardOf(userID)] }

// add indexes c under userID, refusing when the user has max clients.
func (u *userIndex) add(c *Client, userID string, limit int) error {
	if userID == "" {
		return nil
	}
	s := u.shard(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 && len(s.m[userID]) >= limit {
		return ErrMaxUserConnectionsReached
	}
	if s.m == nil {
		s.m = make(map[string][]*Client)
	}
	s.m[userID] = append(s.m[userID], c)
	return nil
}

func (u *userIndex) remove(c *Client, userID string) {
	if userID == "" {
		return
	}
	s := u.shard(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.m[userID]
	for i, x := range list {
		if x == c {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(s.m, userID)
	} else {
		s.m[userID] = list
	}
}

func (u *userIndex) count(userID string) int {
	s := u.shard(userID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m[userID])
}

func (u *userIndex) get(userID string) []*Client {
	s := u.shard(userID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*Client(nil), s.m[userID]...)
}

// rebind moves a registered client to a new user ID under the per-user limit.
func (u *userIndex) rebind(c *Client, userID string, limit int) error {
	c.state.Lock()
	defer c.state.Unlock()
	if c.gone {
		return ErrConnectionClosed
	}
	old := c.userID
	if old == userID {
		return nil
	}
	if err := u.add(c, userID, limit); err != nil {
		return err
	}
	u.remove(c, old)
	c.userID = userID
	return nil
}
