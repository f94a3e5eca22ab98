package nats

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/wshub/wshub/internal/adaptertest"
)

func TestMain(m *testing.M) {
	adaptertest.MemberChild(memberChildAdapter) // a child process of the member tests does its work here
	goleak.VerifyTestMain(m)
}
