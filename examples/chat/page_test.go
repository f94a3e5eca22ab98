package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/clients/js"
)

func TestPageHandler(t *testing.T) {
	srv := httptest.NewServer(pageHandler())
	defer srv.Close()
	tests := []struct {
		path, wantType string
		wantStatus     int
	}{
		{"/", "text/html; charset=utf-8", http.StatusOK},
		{"/wshub.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/index.html", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantType == "" {
				return
			}
			assert.Equal(t, tt.wantType, resp.Header.Get("Content-Type"))
			if tt.path == "/wshub.js" {
				assert.Equal(t, js.Script, body)
			} else {
				// The page's module imports /wshub.js: the policy allows
				// scripts from the page's own origin.
				assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self' 'unsafe-inline'")
				assert.Contains(t, string(body), `import { Client } from "/wshub.js";`)
			}
		})
	}
}
