package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerServesMetrics(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t)
	c.IncrementConnections()
	c.IncrementMessagesSent(3)
	c.IncrementCloseCode(1001)

	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()

	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(body)
	assert.Contains(t, text, "# HELP wshub_connections WebSocket connections open now.\n")
	assert.Contains(t, text, "\nwshub_connections 1\n")
	assert.Contains(t, text, "\nwshub_messages_sent_total 3\n")
	assert.Contains(t, text, "\nwshub_close_codes_total{code=\"1001\"} 1\n")
}

func TestHandlerNeverOffersOpenMetrics(t *testing.T) {
	t.Parallel()
	_, reg := newTestCollector(t)
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)

	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotContains(t, resp.Header.Get("Content-Type"), "openmetrics")
}
