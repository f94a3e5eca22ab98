package wshubtest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

func TestHistoryRooms(t *testing.T) {
	tests := []struct {
		give string
		want core.History
	}{
		{give: "hist-1", want: core.History{Size: 1000, TTL: time.Hour}},
		{give: "small-1", want: core.History{Size: 10, TTL: time.Hour}},
		{give: "pres-1"},
		{give: "lobby"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, wshubtest.HistoryRooms(tt.give).History)
		})
	}
	var _ core.RoomOptionsFunc = wshubtest.HistoryRooms // what core.WithRoomOptions takes
}
