//go:build race

package core

// raceEnabled is true when the tests run with -race, which makes the
// churn tests scale their counts down.
const raceEnabled = true
