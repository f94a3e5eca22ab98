package nats

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidatePrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		ok   bool
	}{
		{"wshub", true},
		{"app.prod.wshub", true},
		{"a-b_c", true},
		{"", false},
		{".", false},
		{"a..b", false},
		{"a.", false},
		{".a", false},
		{"a b", false},
		{"a\tb", false},
		{"a*", false},
		{"a.>", false},
		{"a\x00b", false},
		{"\xff", false},
		{strings.Repeat("a", maxPrefixLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			err := validatePrefix(tt.give)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrInvalidPrefix)
			}
		})
	}
}

func TestRoomSubject(t *testing.T) {
	t.Parallel()
	s := newSubjects("p.q")
	rooms := []string{
		"lobby", "a.b", "a b", "*", ">", "a.*.>", "ünïcödé 房间", "\x00\xff",
		strings.Repeat("x", maxPlainRoom), strings.Repeat("x", maxPlainRoom+1),
		strings.Repeat("y", 10000),
	}
	seen := make(map[string]string)
	for _, room := range rooms {
		subj := s.roomSubject(room)
		require.True(t, strings.HasPrefix(subj, "p.q.room."), subj)
		tok := strings.TrimPrefix(subj, "p.q.room.")
		assert.NotEmpty(t, tok)
		assert.LessOrEqual(t, len(tok), 128, "token of %q too long", room)
		for _, r := range tok {
			ok := r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
			assert.True(t, ok, "room %q: token %q has %q", room, tok, r)
		}
		if prev, dup := seen[subj]; dup {
			t.Errorf("rooms %q and %q share subject %q", prev, room, subj)
		}
		seen[subj] = room
		assert.Equal(t, subj, s.roomSubject(room), "not deterministic")
	}
}
