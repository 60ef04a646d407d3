//go:build !windows

package testenv

// underWine is false: wine runs Windows programs only.
const underWine = false
