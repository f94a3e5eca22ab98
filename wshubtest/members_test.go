package wshubtest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

func TestMemberRooms(t *testing.T) {
	tests := []struct {
		give string
		want core.MemberPresence
	}{
		{give: "pres-1", want: core.MemberPresence{Enabled: true, Linger: 400 * time.Millisecond}},
		{give: "now-1", want: core.MemberPresence{Enabled: true, Linger: -1}},
		{give: "hist-1"},
		{give: "lobby"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, wshubtest.MemberRooms(tt.give).Presence)
		})
	}
	var _ core.RoomOptionsFunc = wshubtest.MemberRooms // what core.WithRoomOptions takes
}
