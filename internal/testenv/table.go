package testenv

import "testing"

// Run is a table test: it marks t parallel and runs check on each case of
// cases as a parallel subtest named by the case's key, which check gets too
// (for a table keyed by its input). A map names every case (the compiler
// refuses two cases of one name), and the order of the subtests does not
// matter because they run in parallel.
func Run[C any](t *testing.T, cases map[string]C, check func(t *testing.T, name string, c C)) {
	t.Helper()
	t.Parallel()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, name, c)
		})
	}
}
