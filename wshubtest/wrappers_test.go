package wshubtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// NewLossy and NewLateInterest fail the test, naming the adapter's type,
// when it lacks an interface they need.
func TestWrappersNeedTheirInterfaces(t *testing.T) {
	ad := memory.NewBus().NewAdapter()
	t.Cleanup(func() { assert.NoError(t, ad.Close()) })
	lossy := func(tb testing.TB, a core.Adapter) bool { return wshubtest.NewLossy(tb, a, 1, 2) != nil }
	late := func(tb testing.TB, a core.Adapter) bool { return wshubtest.NewLateInterest(tb, a) != nil }
	tests := []struct {
		name    string
		wrap    func(testing.TB, core.Adapter) bool
		give    core.Adapter
		wantErr string
	}{
		{name: "lossy, with history", wrap: lossy, give: ad},
		{name: "lossy, with history only", wrap: lossy, give: historyOnly{ad, ad}},
		{
			name: "lossy, without history", wrap: lossy, give: plain{ad},
			wantErr: "NewLossy needs an adapter with history (core.HistoryAdapter); a wshubtest_test.plain is not one",
		},
		{name: "late interest, with room interest and history", wrap: late, give: ad},
		{name: "late interest, without room interest", wrap: late, give: historyOnly{ad, ad}, wantErr: "a wshubtest_test.historyOnly is not one"},
		{name: "late interest, with neither", wrap: late, give: plain{ad}, wantErr: "a wshubtest_test.plain is not one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			made := false
			msg := tryFatal(t, func(tb testing.TB) { made = tt.wrap(tb, tt.give) })
			if tt.wantErr == "" {
				assert.Empty(t, msg)
				assert.True(t, made)
				return
			}
			assert.Contains(t, msg, tt.wantErr)
			assert.False(t, made)
		})
	}
}
