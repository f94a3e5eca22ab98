package redis

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/logging"
)

// go-redis's lines go to a logger named "wshub.redis", message "go-redis",
// with the line under "redis".
func TestGoRedisLoggerNamesItsLines(t *testing.T) {
	t.Parallel()
	obs, logs := observer.New(zapcore.DebugLevel)
	GoRedisLogger{Logger: logging.NewZap(zap.New(obs))}.Printf(context.Background(), "redis: dial %s: refused\n", "127.0.0.1:1")

	entries := logs.AllUntimed()
	require.Len(t, entries, 1)
	assert.Equal(t, GoRedisLoggerName, entries[0].LoggerName)
	assert.Equal(t, "wshub.redis", entries[0].LoggerName)
	assert.Equal(t, zapcore.WarnLevel, entries[0].Level)
	assert.Equal(t, "go-redis", entries[0].Message)
	assert.Equal(t, map[string]any{"redis": "redis: dial 127.0.0.1:1: refused"}, entries[0].ContextMap())
}
