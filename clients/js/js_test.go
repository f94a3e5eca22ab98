package js

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerServesTheModule(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	tests := []struct {
		method     string
		wantStatus int
		wantBody   bool
	}{
		{http.MethodGet, http.StatusOK, true},
		{http.MethodHead, http.StatusOK, false},
		{http.MethodPost, http.StatusMethodNotAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+"/wshub.js", nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantBody {
				assert.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
				assert.Equal(t, Script, body)
			}
		})
	}
}

// The embedded file is the package's build: an ES module that exports
// Client and RequestError.
func TestScriptIsTheBuild(t *testing.T) {
	s := string(Script)
	assert.True(t, strings.HasPrefix(s, "/* @wshub/client "), "banner")
	assert.Contains(t, s, "export{")
	assert.Contains(t, s, "Client")
	assert.Contains(t, s, "RequestError")
	assert.Less(t, len(Script), 16<<10)
}
