package core

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoomErrors(t *testing.T) {
	h, srv := startHub(t, WithLimits(DefaultLimits().WithMaxRoomsPerClient(1).WithMaxClientsPerRoom(1)))
	_, a := dialWait(t, h, srv)
	_, b := dialWait(t, h, srv)

	tests := []struct {
		name string
		give func() error
		want error
	}{
		{"empty name", func() error { return h.JoinRoom(a, "") }, ErrEmptyRoomName},
		{"join", func() error { return h.JoinRoom(a, "r1") }, nil},
		{"join twice", func() error { return h.JoinRoom(a, "r1") }, ErrAlreadyInRoom},
		{"max rooms", func() error { return h.JoinRoom(a, "r2") }, ErrMaxRoomsReached},
		{"room full", func() error { return h.JoinRoom(b, "r1") }, ErrRoomFull},
		{"leave unknown room", func() error { return h.LeaveRoom(a, "nope") }, ErrRoomNotFound},
		{"leave not member", func() error { return h.LeaveRoom(b, "r1") }, ErrNotInRoom},
		{"broadcast unknown room", func() error { return h.BroadcastToRoom("nope", []byte("x")) }, ErrRoomNotFound},
		{"send unknown client", func() error { return h.SendToClient("nope", []byte("x")) }, ErrClientNotFound},
		{"leave", func() error { return h.LeaveRoom(a, "r1") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give()
			if tt.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
	// The refused joins left no empty room behind, and the last leave
	// deleted r1.
	assert.Empty(t, h.RoomNames())
}

func TestRoomBroadcastAndMembership(t *testing.T) {
	h, srv := startHub(t)
	ca, a := dialWait(t, h, srv)
	cb, b := dialWait(t, h, srv)
	cc, c := dialWait(t, h, srv)
	for _, cl := range []*Client{a, b} {
		require.NoError(t, h.JoinRoom(cl, "r"))
	}
	assert.True(t, a.InRoom("r"))
	assert.Equal(t, []string{"r"}, a.Rooms())
	assert.Equal(t, 2, h.RoomCount("r"))
	assert.Len(t, h.RoomClients("r"), 2)

	require.NoError(t, h.BroadcastToRoomExcept("r", []byte("to-b"), a))
	require.NoError(t, h.BroadcastToRoom("r", []byte("to-ab")))
	_, got := read(t, ca)
	assert.Equal(t, "to-ab", got)
	_, got = read(t, cb)
	assert.Equal(t, "to-b", got)
	_, got = read(t, cb)
	assert.Equal(t, "to-ab", got)
	// c is in no room: the next thing it sees is a direct send.
	require.NoError(t, h.SendToClient(c.ID, []byte("direct")))
	_, got = read(t, cc)
	assert.Equal(t, "direct", got)
}

// A join racing the last leave must never leave a client in a room that is
// no longer registered.
func TestJoinRacingLastLeave(t *testing.T) {
	h, srv := startHub(t)
	_, a := dialWait(t, h, srv)
	_, b := dialWait(t, h, srv)
	for i := 0; i < 2000; i++ {
		require.NoError(t, h.JoinRoom(a, "hot"))
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = h.LeaveRoom(a, "hot") }()
		var joinErr error
		go func() { defer wg.Done(); joinErr = h.JoinRoom(b, "hot") }()
		wg.Wait()
		require.NoError(t, joinErr)
		require.True(t, b.InRoom("hot"))
		require.True(t, h.RoomExists("hot"), "iteration %d: b is in a room the hub lost", i)
		require.Equal(t, 1, h.RoomCount("hot"))
		require.NoError(t, h.LeaveRoom(b, "hot"))
		require.False(t, h.RoomExists("hot"))
	}
}

func TestRoomHooks(t *testing.T) {
	joined := make(chan string, 4)
	left := make(chan string, 4)
	deny := errors.New("no")
	h, srv := startHub(t, WithHooks(Hooks{
		BeforeRoomJoin: func(_ *Client, room string) error {
			if room == "secret" {
				return deny
			}
			return nil
		},
		AfterRoomJoin:  func(_ *Client, room string) { joined <- room },
		AfterRoomLeave: func(_ *Client, room string) { left <- room },
	}))
	_, a := dialWait(t, h, srv)
	require.Same(t, h, a.Hub())
	require.ErrorIs(t, h.JoinRoom(a, "secret"), deny)
	assert.False(t, h.RoomExists("secret"))
	require.NoError(t, h.JoinRoom(a, "open"))
	assert.Equal(t, "open", <-joined)
	h.LeaveAllRooms(a)
	assert.Equal(t, "open", <-left)
}
