package fakes

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needCargo returns the cargo binary, skipping (or failing under CI=true)
// when it is absent.
func needCargo(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("cargo")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cargo is required under CI=true: %v", err)
		}
		t.Skip("cargo not found in PATH; install Rust to run the cargo tests")
	}
	return p
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

func TestCargoFetchJFrog(t *testing.T) {
	t.Parallel()
	cargo := needCargo(t)
	s := StartT(t, Options{})
	tok := jfrogToken(t, s)
	dir := writeProject(t, "fetcher", `e2e-dep = { version = "1.0.0", registry = "artifactory" }`+"\n", nil)
	env := cargoEnv(t, s.CargoEnv("artifactory", s.JFrogIndex, "Bearer "+tok)...)
	out, err := runCargo(t, cargo, dir, env, "fetch")
	if err != nil {
		t.Fatalf("cargo fetch with a valid token failed: %v\n%s", err, out)
	}
	t.Logf("cargo fetch:\n%s", out)
	t.Logf("registry requests: %+v", s.Registry.Requests())
}

func TestCargoPublishCratesIO(t *testing.T) {
	t.Parallel()
	cargo := needCargo(t)
	s := StartT(t, Options{})
	tok := cratesToken(t, s)
	dir := writeProject(t, "published", "", nil)
	env := cargoEnv(t, "CARGO_HTTP_CAINFO="+s.CAFile, CratesIOURLEnv+"="+s.CratesIOIndex, "CARGO_REGISTRY_TOKEN="+tok)
	out, err := runCargo(t, cargo, dir, env, "publish", "--allow-dirty")
	t.Logf("cargo publish: %v\n%s", err, out)
	t.Logf("registry requests: %+v", s.Registry.Requests())
	if !strings.Contains(strings.Join(s.Registry.Published(), ","), "published@0.1.0") {
		t.Fatalf("not published")
	}
}
