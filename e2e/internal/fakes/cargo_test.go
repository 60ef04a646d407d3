package fakes

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// needCargo returns the cargo binary, or stops the test (harness.Tool).
func needCargo(t *testing.T) string {
	t.Helper()
	return harness.Tool(t, "cargo", "install Rust (rustup) to run the cargo tests")
}

// cargoEnv is a minimal environment: PATH and HOME (the rustup proxy needs
// them), a fresh CARGO_HOME, no network but the fakes.
func cargoEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"CARGO_HOME=" + filepath.Join(t.TempDir(), "cargo-home"),
		"CARGO_TERM_COLOR=never",
		"CARGO_NET_RETRY=0",
		"CARGO_HTTP_TIMEOUT=20",
	}
	for _, k := range []string{"RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "RUSTUP_AUTO_INSTALL"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

func runCargo(t *testing.T, cargo, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), cargo, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeProject writes a library project with the given dependency section.
func writeProject(t *testing.T, name, deps string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	all := map[string]string{
		"Cargo.toml": "[package]\nname = \"" + name + "\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"e2e test crate\"\nlicense = \"MIT\"\n\n[dependencies]\n" + deps,
		"src/lib.rs": "pub fn f() {}\n",
	}
	for k, v := range files {
		all[k] = v
	}
	for p, c := range all {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cloudsmithToken performs the Cloudsmith exchange.
func cloudsmithToken(t *testing.T, s *Stack) string {
	t.Helper()
	st, b := call(t, s, http.MethodPost, s.CloudsmithURL+"/openid/"+s.Cloudsmith.Namespace+"/", "",
		map[string]string{"oidc_token": idToken(t, s, ""), "service_slug": s.Cloudsmith.ServiceSlug})
	if st != http.StatusOK {
		t.Fatalf("cloudsmith exchange: %d %s", st, b)
	}
	var v struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Token == "" {
		t.Fatalf("cloudsmith answer %s: %v", b, err)
	}
	return v.Token
}

// TestCargoFetch proves that the real cargo fetches a crate from the
// registry with a valid token, for JFrog and Cloudsmith indexes, and fails
// once the token has expired.
func TestCargoFetch(t *testing.T) {
	t.Parallel()
	cargo := needCargo(t)
	tests := []struct {
		name  string
		index func(*Stack) string
		token func(*testing.T, *Stack) string
	}{
		{"jfrog", func(s *Stack) string { return s.JFrogIndex }, jfrogToken},
		{"cloudsmith", func(s *Stack) string { return s.CloudsmithIndex }, cloudsmithToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := StartT(t, Options{})
			tok := tt.token(t, s)
			dir := writeProject(t, "fetcher", `e2e-dep = { version = "1.0.0", registry = "private-reg" }`+"\n", nil)
			out, err := runCargo(t, cargo, dir, cargoEnv(t, s.CargoEnv("private-reg", tt.index(s), "Bearer "+tok)...), "fetch")
			if err != nil {
				t.Fatalf("cargo fetch with a valid token failed: %v\n%s", err, out)
			}
			if !strings.Contains(out, "Downloaded e2e-dep v1.0.0") {
				t.Errorf("cargo fetch did not download e2e-dep:\n%s", out)
			}
			if used := s.Registry.TokensUsed(); len(used) != 1 || used[0] != tok {
				t.Errorf("registry saw %d distinct tokens, want exactly the issued one", len(used))
			}
			if n := s.Registry.Count(http.StatusOK); n < 3 {
				t.Errorf("registry answered %d requests with 200, want config.json, index and download", n)
			}

			s.Clock.Advance(2 * DefaultTokenTTL)
			out, err = runCargo(t, cargo, dir, cargoEnv(t, s.CargoEnv("private-reg", tt.index(s), "Bearer "+tok)...), "fetch")
			if err == nil {
				t.Fatalf("cargo fetch with an expired token succeeded:\n%s", out)
			}
			if !strings.Contains(out, "401") || !strings.Contains(out, "expired") {
				t.Errorf("cargo's error does not show the registry's 401 answer:\n%s", out)
			}
			t.Logf("cargo fetch with the expired token:\n%s", out)
			if strings.Contains(out, tok) {
				t.Errorf("cargo printed the token")
			}
		})
	}
}

// TestCargoFetchReplaceCratesIO proves that [source.crates-io] replace-with
// in a project config, with the registry defined by environment variables,
// resolves a plain crates.io dependency through the fake registry.
func TestCargoFetchReplaceCratesIO(t *testing.T) {
	t.Parallel()
	cargo := needCargo(t)
	s := StartT(t, Options{})
	tok := jfrogToken(t, s)
	dir := writeProject(t, "replaced", `e2e-dep = "1.0.0"`+"\n",
		map[string]string{".cargo/config.toml": "[source.crates-io]\nreplace-with = \"artifactory\"\n"})
	out, err := runCargo(t, cargo, dir, cargoEnv(t, s.CargoEnv("artifactory", s.JFrogIndex, "Bearer "+tok)...), "fetch")
	if err != nil {
		t.Fatalf("cargo fetch through the replacement failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Downloaded e2e-dep v1.0.0 (registry `artifactory`)") {
		t.Errorf("crate not downloaded through the replacement:\n%s", out)
	}
}

// TestCargoPublishCratesIO proves that cargo publish reaches the fake
// crates.io through CratesIOURLEnv with a raw CARGO_REGISTRY_TOKEN, that
// the published crate is then fetchable, and that a revoked token is refused.
func TestCargoPublishCratesIO(t *testing.T) {
	t.Parallel()
	cargo := needCargo(t)
	s := StartT(t, Options{})
	tok := cratesToken(t, s)
	env := func(token string) []string {
		return cargoEnv(t, "CARGO_HTTP_CAINFO="+s.CAFile, CratesIOURLEnv+"="+s.CratesIOIndex, "CARGO_REGISTRY_TOKEN="+token)
	}
	dir := writeProject(t, "published-crate", "", nil)
	out, err := runCargo(t, cargo, dir, env(tok), "publish", "--allow-dirty")
	if err != nil {
		t.Fatalf("cargo publish failed: %v\n%s", err, out)
	}
	if got := s.Registry.Published(); len(got) != 1 || got[0] != "published-crate@0.1.0" {
		t.Fatalf("published %v, want [published-crate@0.1.0]\n%s", got, out)
	}
	var put *RegistryRequest
	for _, r := range s.Registry.Requests() {
		if r.Method == http.MethodPut {
			put = &r
		}
	}
	if put == nil || put.Path != "/crates-io/api/v1/crates/new" || put.Token != tok || put.Status != http.StatusOK {
		t.Fatalf("publish request not seen with the raw token: %+v", put)
	}

	// The published crate is now in the index and downloadable as a crates.io dependency.
	user := writeProject(t, "user", `published-crate = "0.1.0"`+"\n", nil)
	out, err = runCargo(t, cargo, user, env(tok), "fetch")
	if err != nil || !strings.Contains(out, "Downloaded published-crate v0.1.0") {
		t.Fatalf("cargo fetch of the published crate: %v\n%s", err, out)
	}

	// Revoked: publish of the next version is refused.
	if st, b := call(t, s, http.MethodDelete, s.CratesIOURL+CratesIOTokenPath, "Bearer "+tok, nil); st != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", st, b)
	}
	if err := os.WriteFile(filepath.Join(dir, "Cargo.toml"), []byte(strings.Replace(mustRead(t, filepath.Join(dir, "Cargo.toml")), "0.1.0", "0.1.1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runCargo(t, cargo, dir, env(tok), "publish", "--allow-dirty", "--no-verify")
	if err == nil || !strings.Contains(out, "403") {
		t.Fatalf("publish with a revoked token: err=%v, want a 403\n%s", err, out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
