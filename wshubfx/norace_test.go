//go:build !race

package wshubfx_test

// raceEnabled is true when the tests run with -race.
const raceEnabled = false
