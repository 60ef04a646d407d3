package cargoconf

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// fakeRegistry is a sparse Cargo registry on 127.0.0.1 that requires a token for
// everything but config.json and serves one crate.
type fakeRegistry struct {
	URL      string       // base URL
	Index    string       // sparse+<URL>/index/
	authed   atomic.Int32 // requests that carried the right token
	rejected atomic.Int32 // requests refused with 401
}

func makeCrate(t *testing.T, name, vers string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, body string }{
		{"Cargo.toml", fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = \"2021\"\n", name, vers)},
		{"src/lib.rs", "pub fn hello() -> &'static str { \"hello\" }\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name + "-" + vers + "/" + f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func startRegistry(t *testing.T, token string) *fakeRegistry {
	t.Helper()
	crate := makeCrate(t, "democrate", "0.1.0")
	sum := sha256.Sum256(crate)
	line := fmt.Sprintf(`{"name":"democrate","vers":"0.1.0","deps":[],"cksum":%q,"features":{},"yanked":false}`+"\n", hex.EncodeToString(sum[:]))
	reg := &fakeRegistry{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/index/config.json" {
			fmt.Fprintf(w, `{"dl":"%s/dl/{crate}/{version}","api":"%s","auth-required":true}`, reg.URL, reg.URL)
			return
		}
		if r.Header.Get("Authorization") != token {
			reg.rejected.Add(1)
			w.Header().Set("WWW-Authenticate", `Cargo login_url="https://example.invalid/"`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		reg.authed.Add(1)
		switch r.URL.Path {
		case "/index/de/mo/democrate":
			_, _ = w.Write([]byte(line))
		case "/dl/democrate/0.1.0":
			_, _ = w.Write(crate)
		default:
			http.NotFound(w, r)
		}
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	reg.URL = srv.URL
	reg.Index = "sparse+" + srv.URL + "/index/"
	return reg
}

func needCargo(t *testing.T) string {
	t.Helper()
	return testenv.Tool(t, "cargo", "install Rust with rustup (https://rustup.rs)")
}

// project writes a crate that depends on democrate from crates.io.
func project(t *testing.T) string {
	t.Helper()
	dir := testenv.TempDir(t)
	files := map[string]string{
		"Cargo.toml": "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ndemocrate = \"0.1\"\n",
		"src/lib.rs": "pub use democrate::hello;\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cargoEnv is a minimal environment: no variable of the caller's leaks in.
func cargoEnv(cargoHome string, extra ...string) []string {
	env := []string{"CARGO_HOME=" + cargoHome, "PATH=" + os.Getenv("PATH"), "HOME=" + cargoHome, "CARGO_TERM_COLOR=never", "CARGO_NET_RETRY=0"}
	if rh := os.Getenv("RUSTUP_HOME"); rh != "" {
		env = append(env, "RUSTUP_HOME="+rh)
	} else if h, err := os.UserHomeDir(); err == nil {
		env = append(env, "RUSTUP_HOME="+filepath.Join(h, ".rustup"))
	}
	return append(env, extra...)
}

func runCargo(t *testing.T, cargo, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cargo, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRealCargoReplacesCratesIO(t *testing.T) {
	cargo := needCargo(t)
	const token = "Bearer cargo-oidc-test-token"
	type test struct {
		viaFile bool // token in CARGO_HOME/credentials.toml instead of the environment
	}
	testenv.Run(t, map[string]test{
		"token from env":              {false},
		"token from credentials file": {true},
	}, func(t *testing.T, _ string, tc test) {
		reg := startRegistry(t, token)
		dir := project(t)
		home := testenv.TempDir(t)
		r := Registry{Name: "my-art", Index: reg.Index, CredentialProvider: "cargo:token", ReplaceCratesIO: true}
		cfg := filepath.Join(dir, ".cargo", "config.toml")
		if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, []byte("# the user's own settings\n[net]\nretry = 0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		applyConfig(t, cfg, r)
		env := cargoEnv(home)
		if tc.viaFile {
			if c := applyCredentials(t, filepath.Join(home, "credentials.toml"), r.Name, token); !c.Created() {
				t.Fatal("the credentials file was not created")
			}
		} else {
			env = append(env, "CARGO_REGISTRIES_"+EnvName(r.Name)+"_TOKEN="+token)
		}
		out, err := runCargo(t, cargo, dir, env, "fetch")
		if err != nil {
			written, _ := os.ReadFile(cfg)
			t.Fatalf("cargo fetch: %v\n%s\nconfig:\n%s", err, out, written)
		}
		if reg.authed.Load() < 2 {
			t.Errorf("the registry saw the token %d times, want the index and the download", reg.authed.Load())
		}
		if strings.Contains(out, "note: name of alternative registry") {
			t.Errorf("cargo printed a note about the layout:\n%s", out)
		}
		lock, err := os.ReadFile(filepath.Join(dir, "Cargo.lock"))
		if err != nil || !strings.Contains(string(lock), "name = \"democrate\"") {
			t.Errorf("Cargo.lock: %v\n%s", err, lock)
		}
	})
}

// TestRealCargoWithoutToken shows the registry really checks the token: without it
// the same setup fails.
func TestRealCargoWithoutToken(t *testing.T) {
	t.Parallel()
	cargo := needCargo(t)
	reg := startRegistry(t, "Bearer right")
	dir := project(t)
	cfg := filepath.Join(dir, ".cargo", "config.toml")
	applyConfig(t, cfg, Registry{Name: "art", Index: reg.Index, CredentialProvider: "cargo:token", ReplaceCratesIO: true})
	out, err := runCargo(t, cargo, dir, cargoEnv(testenv.TempDir(t), "CARGO_REGISTRIES_ART_TOKEN=Bearer wrong"), "generate-lockfile")
	if err == nil {
		t.Fatalf("cargo succeeded with a wrong token:\n%s", out)
	}
	if reg.rejected.Load() == 0 {
		t.Error("the registry never refused a request")
	}
}
