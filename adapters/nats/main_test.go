package nats

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/wshub/wshub/wshubtest"
)

func TestMain(m *testing.M) {
	wshubtest.MemberChild(memberChildAdapter) // a child process of the member tests does its work here
	goleak.VerifyTestMain(m)
}
