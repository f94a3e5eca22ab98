//go:build !race

package main

// raceEnabled tells the smoke test to build the binary with -race too.
const raceEnabled = false
