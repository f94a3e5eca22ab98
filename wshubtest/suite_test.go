package wshubtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

func TestParts(t *testing.T) {
	ad := memory.NewBus().NewAdapter()
	defer func() { assert.NoError(t, ad.Close()) }()
	base := []string{"Contract", "Hubs", "Presence", "JoinRace", "Control"}
	history := []string{"Recovery", "RecoveryRace", "GapFill"}
	members := []string{"PresenceStore", "Members"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		give core.Adapter
		want []string
	}{
		{name: "every extension", give: ad, want: cat(base, history, []string{"LateSubscription"}, members)},
		{name: "none", give: struct{ core.Adapter }{ad}, want: base},
		{
			name: "history without room interest",
			give: struct {
				core.Adapter
				core.HistoryAdapter
			}{ad, ad},
			want: cat(base, history),
		},
		{
			name: "history and room interest",
			give: struct {
				core.Adapter
				core.HistoryAdapter
				core.RoomInterestAdapter
			}{ad, ad, ad},
			want: cat(base, history, []string{"LateSubscription"}),
		},
		{
			name: "member store",
			give: struct {
				core.Adapter
				core.PresenceAdapter
			}{ad, ad},
			want: cat(base, members),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, wshubtest.Parts(tt.give))
		})
	}
	assert.Equal(t, tests[0].want, wshubtest.AllParts(), "every part, for an adapter with every extension")
}
