package redis

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/wshub/wshub/wshubtest"
)

// goRedisLines holds what go-redis logged during the tests, instead of
// stderr.
var goRedisLines = &wshubtest.LogRecorder{}

func TestMain(m *testing.M) {
	wshubtest.MemberChild(memberChildAdapter) // a child process of the member tests does its work here
	goredis.SetLogger(GoRedisLogger{Logger: goRedisLines})
	goleak.VerifyTestMain(m)
}
