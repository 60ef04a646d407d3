package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestRun runs the benchmark briefly: both flows must work, with two requests
// per binary run; timing targets only mean something on an idle machine.
func TestRun(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		harness.Tool(t, tool, "install bash, curl and jq to run the benchmark")
	}
	t.Cleanup(harness.Cleanup)
	var out strings.Builder
	err := run(t.Context(), []string{"-n", "2", "-warmup", "0"}, &out)
	t.Logf("bench output:\n%s", out.String())
	if err != nil && !errors.Is(err, errMissed) {
		t.Fatalf("bench failed: %v", err)
	}
	for _, want := range []string{"PASS  exactly 2 HTTP requests per binary run", "cargo-oidc binary", "curl + jq script", "one 503 then success",
		"binary median <= 0.3 x script median"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench output lacks %q", want)
		}
	}
}

// TestTargets checks the verdicts on given figures: the ratio passes up to
// -max-ratio inclusive, and every target fails on its own.
func TestTargets(t *testing.T) {
	good := results{ratio: 0.2, peakMB: 15, requests: []int{2}, retry: sample{wall: 300 * time.Millisecond},
		forbidden: sample{wall: 30 * time.Millisecond, requests: 2, err: errors.New("403")}}
	with := func(f func(*results)) results { r := good; f(&r); return r }
	type target struct {
		r        results
		maxRatio float64
		wantFail string // the start of the one target that fails; "" = none
	}
	testenv.Run(t, map[string]target{
		"all met":                          {good, DefaultMaxRatio, ""},
		"ratio at the default":             {with(func(r *results) { r.ratio = 0.3 }), DefaultMaxRatio, ""},
		"ratio above the default":          {with(func(r *results) { r.ratio = 0.31 }), DefaultMaxRatio, "binary median <= 0.3 x script median (0.31)"},
		"ratio within a looser -max-ratio": {with(func(r *results) { r.ratio = 0.45 }), 0.5, ""},
		"ratio above a tighter -max-ratio": {good, 0.15, "binary median <= 0.15 x script median (0.20)"},
		"RSS":                              {with(func(r *results) { r.peakMB = 21 }), DefaultMaxRatio, "binary peak RSS"},
		"requests":                         {with(func(r *results) { r.requests = []int{2, 3} }), DefaultMaxRatio, "exactly 2 HTTP requests per binary run ([2 3])"},
		"503 not recovered":                {with(func(r *results) { r.retry.err = errors.New("503") }), DefaultMaxRatio, "one 503 then success"},
		"403 retried":                      {with(func(r *results) { r.forbidden.requests = 3 }), DefaultMaxRatio, "403 fails"},
	}, func(t *testing.T, _ string, tt target) {
		var failed []string
		for _, c := range targets(tt.r, tt.maxRatio) {
			if !c.ok {
				failed = append(failed, c.what)
			}
		}
		switch {
		case tt.wantFail == "" && len(failed) > 0:
			t.Errorf("failed %q, want every target met", failed)
		case tt.wantFail != "" && (len(failed) != 1 || !strings.HasPrefix(failed[0], tt.wantFail)):
			t.Errorf("failed %q, want only %q", failed, tt.wantFail)
		}
	})
}
