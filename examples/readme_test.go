// Package examples_test checks the programs the repository's README shows,
// so that they cannot rot: each Go block of the "With fx" and "Without fx"
// sections is built and vetted as a main package of its own, against the
// library in this checkout.
package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goBlock returns the first ```go block after the heading in markdown.
func goBlock(t *testing.T, markdown, heading string) string {
	t.Helper()
	i := strings.Index(markdown, "\n"+heading+"\n")
	require.GreaterOrEqual(t, i, 0, "README has no %q section", heading)
	rest := markdown[i:]
	start := strings.Index(rest, "\n```go\n")
	require.GreaterOrEqual(t, start, 0, "no Go block after %q", heading)
	body := rest[start+len("\n```go\n"):]
	end := strings.Index(body, "\n```\n")
	require.GreaterOrEqual(t, end, 0, "unterminated Go block after %q", heading)
	return body[:end+1]
}

func TestREADMEPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs with the go command")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	sum, err := os.ReadFile("go.sum")
	require.NoError(t, err)

	simple, err := os.ReadFile(filepath.Join("simple", "main.go"))
	require.NoError(t, err)
	blocks := map[string]string{
		"## With fx":    goBlock(t, string(readme), "## With fx"),
		"## Without fx": goBlock(t, string(readme), "## Without fx"),
	}
	assert.Equal(t, string(simple), blocks["## Without fx"],
		"the README's Without fx block is examples/simple/main.go shown whole")

	for heading, src := range blocks {
		t.Run(strings.TrimPrefix(heading, "## "), func(t *testing.T) {
			t.Parallel()
			require.Regexp(t, `(?m)^package main$`, src, "a whole program")
			dir := t.TempDir()
			gomod := "module readmecheck\n\ngo 1.26\n\nrequire github.com/wshub/wshub v0.0.0\n\n" +
				"replace github.com/wshub/wshub => " + root + "\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600))
			for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", os.DevNull, "."}, {"vet", "."}} {
				cmd := exec.Command("go", args...)
				cmd.Dir = dir
				// The modules this checkout uses, with their go.sum: tidy
				// also wants the test dependencies of dependencies, which a
				// fresh module cache lacks, so the proxy stays reachable.
				cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
			}
		})
	}
}
