package wshubtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wshub/wshub/wshubtest"
)

func TestRestartSpecFromEnv(t *testing.T) {
	tests := []struct {
		give string // WSHUB_RESTART_FULL
		want wshubtest.RestartSpec
	}{
		{give: "", want: wshubtest.DefaultRestartSpec()},
		{give: "0", want: wshubtest.DefaultRestartSpec()},
		{give: "1", want: wshubtest.FullRestartSpec()},
	}
	for _, tt := range tests {
		t.Run("WSHUB_RESTART_FULL="+tt.give, func(t *testing.T) {
			t.Setenv("WSHUB_RESTART_FULL", tt.give)
			assert.Equal(t, tt.want, wshubtest.RestartSpecFromEnv())
		})
	}
	assert.NotEqual(t, wshubtest.DefaultRestartSpec(), wshubtest.FullRestartSpec())
}
