package nats

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// TestConformance runs the shared adapter suite against the shared broker;
// each call gets its own subject prefix and connections.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, func(t *testing.T, n int) []core.Adapter {
		prefix := testPrefix()
		out := make([]core.Adapter, n)
		for i := range out {
			a, err := New(connect(t, sharedURL), WithSubjectPrefix(prefix))
			require.NoError(t, err)
			out[i] = a // the suite closes it
		}
		return out
	})
}
