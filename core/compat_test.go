package core

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Code moved over from the library we replace refuses upgrades with its
// ErrUnauthorized from BeforeConnect; it compiles here and refuses with 403.
func TestErrUnauthorizedFromBeforeConnect(t *testing.T) {
	_, srv := startHub(t, WithHooks(Hooks{BeforeConnect: func(*http.Request) error { return ErrUnauthorized }}))
	assert.Equal(t, http.StatusForbidden, httpStatus(t, srv, nil))
	assert.EqualError(t, ErrUnauthorized, "wshub: unauthorized")
}
