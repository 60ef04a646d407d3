package action

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestMainChecksFileCommandsBeforeTheNetwork: a file command the step would
// write that is not set or cannot be written fails the step before the ID
// token is asked for, so no token exists (none to revoke, none to leak).
func TestMainChecksFileCommandsBeforeTheNetwork(t *testing.T) {
	type test struct {
		inputs map[string]string
		env    func(w *world) // changes the runner's variables
		want   string         // in the output; "" means the step succeeds
	}
	testenv.Run(t, map[string]test{
		"GITHUB_ENV in a missing folder": {
			inputs: jfrogInputs,
			env:    func(w *world) { w.env["GITHUB_ENV"] = filepath.Join(w.dir, "missing", "env") },
			want:   "cannot write GITHUB_ENV",
		},
		"GITHUB_ENV not set": {
			inputs: map[string]string{"provider": "crates-io"},
			env:    func(w *world) { delete(w.env, "GITHUB_ENV") },
			want:   "GITHUB_ENV is not set",
		},
		"GITHUB_OUTPUT not set": {
			inputs: jfrogInputs,
			env:    func(w *world) { delete(w.env, "GITHUB_OUTPUT") },
			want:   "GITHUB_OUTPUT is not set",
		},
		"GITHUB_STATE is a folder": {
			inputs: map[string]string{"provider": "crates-io"},
			env:    func(w *world) { w.env["GITHUB_STATE"] = w.dir },
			want:   "cannot write GITHUB_STATE",
		},
		"export-env false needs no GITHUB_ENV": {
			inputs: merge(jfrogInputs, "export-env", "false"),
			env:    func(w *world) { delete(w.env, "GITHUB_ENV") },
		},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t, tt.inputs)
		tt.env(w)
		out, err := w.run(Main)
		if tt.want == "" {
			if err != nil {
				t.Fatalf("Main: %v\n%s", err, out)
			}
			return
		}
		if err == nil {
			t.Fatalf("Main succeeded:\n%s", out)
		}
		if !strings.Contains(out, tt.want) || !strings.Contains(out, "was not contacted)::") {
			t.Errorf("output lacks %q under a title that says the service was not contacted:\n%s", tt.want, out)
		}
		if strings.Contains(out, "Exchanging the GitHub ID token") || w.issued.Load() != 0 {
			t.Errorf("the step went on to the exchange (%d tokens issued):\n%s", w.issued.Load(), out)
		}
	})
}

// TestCratesIOProviderModeKeepsItsTokenForThePostStage: in credential-mode
// provider the step's own crates.io token seeds the provider's token cache
// (Cargo's first publish uses it) instead of being revoked at once; the
// state keeps it for the post stage to revoke (unless revoke: false, which
// revokes nothing and keeps nothing).
func TestCratesIOProviderModeKeepsItsTokenForThePostStage(t *testing.T) {
	t.Parallel()
	for _, revoke := range []string{"true", "false"} {
		t.Run("revoke "+revoke, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, map[string]string{"provider": "crates-io", "revoke": revoke})
			out := runProviderMode(t, w).String()
			if w.issued.Load() != 1 || w.revoked.Load() != 0 {
				t.Errorf("issued %d, revoked %d by the main stage; want 1 issued, none revoked\n%s", w.issued.Load(), w.revoked.Load(), out)
			}
			state := parseEntries(t, w.read("state"))
			if got, want := state[stateToken], map[string]string{"true": "cio_tp_SECRET123", "false": ""}[revoke]; got != want {
				t.Errorf("the state's token is %q, want %q:\n%s", got, want, w.read("state"))
			}
			if strings.Contains(out, "Revoked") {
				t.Errorf("the main stage revoked its token:\n%s", out)
			}
		})
	}
}

// TestMainProviderModeCredentialProviderOutput: the provider's setting is
// an output in provider mode, so that with export-env: false (nothing
// exported, no config file) a later step can give it to Cargo; the notice
// then says Cargo is not set up yet instead of that Cargo mints tokens.
func TestMainProviderModeCredentialProviderOutput(t *testing.T) {
	type test struct {
		inputs     map[string]string
		mode       string
		wantNotice string
	}
	testenv.Run(t, map[string]test{
		"provider mode, exported":                      {jfrogInputs, "provider", "Cargo mints a fresh token"},
		"provider mode, export-env false":              {merge(jfrogInputs, "export-env", "false"), "provider", "Cargo is not set up to use it (export-env: false)"},
		"provider mode, export-env false, config file": {merge(jfrogInputs, "export-env", "false", "replace-crates-io", "true"), "provider", "Cargo mints a fresh token"},
		"token mode": {jfrogInputs, "token", "token expires at"},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t, tt.inputs)
		var log string
		if tt.mode == "provider" {
			log = runProviderMode(t, w).String()
		} else {
			log = w.mustMain()
		}
		outs := parseEntries(t, w.read("output"))
		got, ok := outs["credential-provider"]
		if !ok {
			t.Fatalf("no credential-provider output: %v", outs)
		}
		installed := filepath.Join(w.env["HOME"], ".cargo-oidc", "bin", "cargo-oidc"+exe)
		switch {
		case tt.mode == "token" && got != "":
			t.Errorf("credential-provider output %q in token mode, want empty", got)
		case tt.mode == "provider" && !strings.HasPrefix(got, installed+" --provider=jfrog --url="+w.srv.URL+" --provider-name=github-oidc"):
			t.Errorf("credential-provider output %q, want the installed provider's setting", got)
		}
		if env := parseEntries(t, w.read("env")); tt.mode == "provider" && tt.inputs["export-env"] != "false" && env["CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER"] != got {
			t.Errorf("the output %q is not the exported setting %q", got, env["CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER"])
		}
		notice := ""
		for _, line := range strings.Split(log, "\n") {
			if strings.HasPrefix(line, "::notice") {
				notice = line
			}
		}
		if !strings.Contains(notice, tt.wantNotice) {
			t.Errorf("notice %q lacks %q", notice, tt.wantNotice)
		}
		if _, err := os.Stat(installed); tt.mode == "provider" && err != nil {
			t.Errorf("the provider is not installed: %v", err)
		}
	})
}
