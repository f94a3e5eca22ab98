package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCapForOpenFiles(t *testing.T) {
	tests := []struct {
		give uint64
		want int
	}{
		{give: 100, want: 50},
		{give: 256, want: 192},
		{give: 1024, want: 922},
		{give: 20_000, want: 18_000},
		{give: 1 << 20, want: 943_719},
		{give: 1 << 40, want: 0}, // as good as unlimited
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, capForOpenFiles(tt.give), "open files %d", tt.give)
	}
}

func TestConnectionCap(t *testing.T) {
	files := func(n uint64, ok bool) func() (uint64, bool) { return func() (uint64, bool) { return n, ok } }
	tests := []struct {
		name       string
		configured int
		files      func() (uint64, bool)
		want       int
	}{
		{name: "configured wins", configured: 5000, files: files(256, true), want: 5000},
		{name: "negative means none", configured: -1, files: files(256, true), want: 0},
		{name: "derived", configured: 0, files: files(256, true), want: 192},
		{name: "limit unknown", configured: 0, files: files(0, false), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, connectionCap(tt.configured, tt.files))
		})
	}
	assert.Positive(t, NewHub().MaxConnections(), "this machine has an open-file limit")
	assert.Equal(t, 7, NewHub(WithLimits(DefaultLimits().WithMaxConnections(7))).MaxConnections())
}
