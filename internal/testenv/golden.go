package testenv

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

// update is go test's -update flag, for every test binary that imports
// testenv: Golden rewrites the golden files instead of comparing with them.
// A package of this module must not define a flag of that name itself.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/ (testenv.Golden)")

// Golden compares got with the golden file at path, a file under testdata/:
// a difference fails the test with both. Run with go test -update, it
// rewrites the file with got instead.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("rewrite the golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
