//go:build race

package use

const raceEnabled = true
