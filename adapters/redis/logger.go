package redis

import (
	"context"
	"fmt"
	"strings"

	"github.com/wshub/wshub/core"
)

// GoRedisLoggerName is the logger name of the lines GoRedisLogger writes,
// when its Logger is a core.NamedLogger (the logging package's are).
const GoRedisLoggerName = "wshub.redis"

// GoRedisLogger routes go-redis's own log lines (dial failures while Redis
// is away, pool and reconnect notices) to a core.Logger at Warn level: the
// message is "go-redis" and the line is under the key "redis", on a logger
// named GoRedisLoggerName ("wshub.redis") when Logger is a
// core.NamedLogger. go-redis has one logger per process and prints to
// stderr by default; install this one with
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
	// Named per line: GoRedisLogger is a plain value installed once per
	// process, and go-redis logs rarely (dial failures, pool notices).
	core.Named(l.Logger, GoRedisLoggerName).Warn("go-redis", "redis", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
