// Package js serves the browser build of the client package (the
// TypeScript package in this directory, minified by npm run build into
// wshub.min.js), so that a Go server hands its pages the client that
// speaks its protocol without a JavaScript toolchain:
//
//	mux.Handle("/wshub.js", js.Handler())
//
// and in the page:
//
//	<script type="module">
//	  import { Client } from "/wshub.js";
//	  const client = new Client(`ws://${location.host}/ws`).connect();
//	</script>
//
// With fx: wshubfx.AsEndpoint("/wshub.js", js.Handler()). The file is an
// ES module with no imports. The package starts no goroutines.
package js

import (
	_ "embed"
	"net/http"
)

// Script is the minified ES module of the client package, as npm run build
// wrote it; its npm test fails when it is not the build of src/.
//
//go:embed wshub.min.js
var Script []byte

// Handler serves Script to GET and HEAD requests of any path it is mounted
// on, as text/javascript, revalidated on each use (Cache-Control:
// no-cache), and answers 405 to other methods.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(Script)
	})
}
