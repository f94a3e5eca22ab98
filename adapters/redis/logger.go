package redis

import (
	"context"
	"fmt"
	"strings"

	"github.com/wshub/wshub/core"
)

// GoRedisLogger routes go-redis's own log lines (dial failures while Redis
// is away, pool and reconnect notices) to a core.Logger at Warn level, with
// the line under the key "redis". go-redis has one logger per process and
// prints to stderr by default; install this one with
//
//	goredis.SetLogger(redis.GoRedisLogger{Logger: logger})
//
// The adapter itself never calls SetLogger: the setting is process-wide, so
// it belongs to the application. A nil Logger discards the lines.
type GoRedisLogger struct {
	Logger core.Logger
}

// Printf implements go-redis's Logging interface.
func (l GoRedisLogger) Printf(_ context.Context, format string, v ...any) {
	if l.Logger == nil {
		return
	}
	l.Logger.Warn("wshub: go-redis", "redis", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
