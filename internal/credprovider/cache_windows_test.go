//go:build windows

package credprovider

import "testing"

// makeFIFO reports false: Windows has no named pipes in a folder.
func makeFIFO(t *testing.T, path string) bool { return false }
