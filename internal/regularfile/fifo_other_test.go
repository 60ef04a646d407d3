//go:build !unix

package regularfile

import "testing"

// makeFIFO reports false: Windows has no named pipes in a folder.
func makeFIFO(t *testing.T, dir string) (string, bool) {
	t.Log("no named pipe case: this system has no named pipes in the file system")
	return "", false
}
