//go:build !windows

package testenv

// wineRegistryKey is false: only Windows programs run under wine.
func wineRegistryKey() bool { return false }
