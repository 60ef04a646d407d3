package action

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestMainFailureTitles: the error's title says what happened, the claims
// block appears only when the service answered and refused, and the step
// summary's heading says "cargo-oidc:" once.
func TestMainFailureTitles(t *testing.T) {
	type test struct {
		inputs map[string]string
		setup  func(t *testing.T, w *world)
		title  string
		claims bool
	}
	testenv.Run(t, map[string]test{
		"no id token": {
			inputs: jfrogInputs,
			setup:  func(_ *testing.T, w *world) { delete(w.env, "ACTIONS_ID_TOKEN_REQUEST_URL") },
			title:  "cargo-oidc: no GitHub ID token (JFrog was not contacted)",
		},
		"no id token on forgejo": {
			inputs: jfrogInputs,
			setup: func(_ *testing.T, w *world) {
				delete(w.env, "ACTIONS_ID_TOKEN_REQUEST_URL")
				w.env["FORGEJO_ACTIONS"], w.env["GITEA_ACTIONS"] = "true", "true"
			},
			title: "cargo-oidc: no ID token from Forgejo Actions (JFrog was not contacted)",
		},
		"id token endpoint refuses": {
			inputs: jfrogInputs,
			setup:  func(_ *testing.T, w *world) { w.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "wrong" },
			title:  "cargo-oidc: no GitHub ID token (JFrog was not contacted)",
		},
		"cannot reach": {
			inputs: jfrogInputs,
			setup:  func(t *testing.T, w *world) { w.env["INPUT_URL"] = "https://" + testenv.ClosedAddr(t) },
			title:  "cargo-oidc: cannot reach JFrog",
		},
		"refused": {
			inputs: jfrogInputs,
			setup: func(_ *testing.T, w *world) {
				w.serviceFn = func(rw http.ResponseWriter, _ *http.Request) {
					rw.WriteHeader(http.StatusForbidden)
					fmt.Fprint(rw, `{"errors":[{"code":"FORBIDDEN","message":"Failed to find a matching identity mapping"}]}`)
				}
			},
			title:  "cargo-oidc: JFrog refused the token exchange",
			claims: true,
		},
		"service failed": {
			inputs: jfrogInputs,
			setup: func(_ *testing.T, w *world) {
				w.serviceFn = func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusBadGateway) }
			},
			title: "cargo-oidc: JFrog failed (502 Bad Gateway, 2 attempts)",
		},
		"service failed until the time ran out": {
			inputs: merge(jfrogInputs, "timeout", "1s", "retries", "5"),
			setup: func(_ *testing.T, w *world) {
				w.serviceFn = func(rw http.ResponseWriter, _ *http.Request) {
					rw.Header().Set("Retry-After", "3")
					rw.WriteHeader(http.StatusServiceUnavailable)
				}
			},
			title: "cargo-oidc: JFrog failed (503 Service Unavailable until the time ran out)",
		},
		"unusable answer": {
			inputs: jfrogInputs,
			setup: func(_ *testing.T, w *world) {
				w.serviceFn = func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprint(rw, `{"token_type":"Bearer"}`) }
			},
			title: "cargo-oidc: JFrog gave an unusable answer",
		},
		"invalid input": {
			inputs: map[string]string{"provider": "jfrog"},
			title:  "cargo-oidc: invalid input",
		},
	}, func(t *testing.T, _ string, tc test) {
		w := newWorld(t, tc.inputs)
		if tc.setup != nil {
			tc.setup(t, w)
		}
		out, err := w.run(Main)
		if err == nil {
			t.Fatalf("Main succeeded:\n%s", out)
		}
		var titles []string
		for _, line := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(line, "::error title="); ok {
				title, _, _ := strings.Cut(rest, "::")
				titles = append(titles, strings.NewReplacer("%3A", ":", "%2C", ",", "%25", "%").Replace(title))
			}
		}
		if len(titles) != 1 || titles[0] != tc.title {
			t.Fatalf("error titles %q, want [%q]\n%s", titles, tc.title, out)
		}
		if got := strings.Contains(out, "repository: octo-org/octo-repo"); got != tc.claims {
			t.Errorf("claims block shown: %v, want %v\n%s", got, tc.claims, out)
		}
		summary := w.read("summary")
		heading, _, _ := strings.Cut(summary, "\n")
		if strings.Count(heading, "cargo-oidc") != 1 || !strings.HasPrefix(heading, "### cargo-oidc: ") {
			t.Errorf("summary heading %q: want cargo-oidc: once", heading)
		}
	})
}

func TestMainLogShowsSchemeOfMaskedToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	out := w.mustMain()
	if !strings.Contains(out, "Exported CARGO_REGISTRIES_ARTIFACTORY_TOKEN=Bearer ***"+eol) {
		t.Errorf("log does not show the exported token as Bearer ***:\n%s", out)
	}
	w = newWorld(t, map[string]string{"provider": "crates-io"})
	out = w.mustMain()
	if !strings.Contains(out, "Exported CARGO_REGISTRY_TOKEN=***"+eol) {
		t.Errorf("log does not show the raw crates.io token as ***:\n%s", out)
	}
}

// TestMainProviderModeNoExpiry: provider mode exports no token, so it
// reports no expiry: Cargo gets a fresh token with its own expiry.
func TestMainProviderModeNoExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	out := runProviderMode(t, w)
	outs := parseEntries(t, w.read("output"))
	if v, ok := outs["expires-at"]; !ok || v != "" {
		t.Errorf("expires-at = %q (set %v), want empty in provider mode", v, ok)
	}
	summary := w.read("summary")
	if strings.Contains(summary, "Expires") || !strings.Contains(summary, "| Tokens | minted by cargo-oidc whenever Cargo needs one") {
		t.Errorf("summary:\n%s", summary)
	}
	if strings.Contains(out.String(), "expires at") {
		t.Errorf("the notice names an expiry:\n%s", out.String())
	}
}

// merge returns base with the key/value pairs kv on top.
func merge(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
