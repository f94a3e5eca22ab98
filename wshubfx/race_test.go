//go:build race

package wshubfx_test

// raceEnabled is true when the tests run with -race; the SIGTERM test then
// builds its app with -race too, which reuses the packages compiled for
// the test and checks the app for races.
const raceEnabled = true
