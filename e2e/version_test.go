package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// verModule is the module path `go install` is given.
const verModule = "github.com/cargo-oidc/cargo-oidc"

// TestVersionGoInstall: `go install github.com/cargo-oidc/cargo-oidc@vX.Y.Z`
// stamps nothing with -ldflags, yet `cargo-oidc --version` prints vX.Y.Z.
// The module is served at v0.99.0 (made from this working tree) by a
// file-system module proxy, so the go command installs it exactly as it
// would from proxy.golang.org; the dependencies come from the module cache.
func TestVersionGoInstall(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping in -short mode: compiles the binary once more")
	}
	root := harness.Root(t)
	const ver = "v0.99.0"
	proxy := t.TempDir()
	verWriteModule(t, root, filepath.Join(proxy, verModule, "@v"), ver)

	gobin := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", verModule+"@"+ver)
	cmd.Dir = t.TempDir() // outside any module, as a user would run it
	cmd.Env = append(os.Environ(),
		"GOBIN="+gobin,
		"GOPROXY=file://"+filepath.ToSlash(proxy),
		"GOSUMDB=off", // the proxy's module is not in sum.golang.org; go.sum still checks the dependencies
		"GOFLAGS=",
		"GOTOOLCHAIN=local",
		"CGO_ENABLED=0",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go install %s@%s: %v\n%s", verModule, ver, err, out)
	}
	bin := filepath.Join(gobin, "cargo-oidc")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	got, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	if want := "cargo-oidc " + ver + "\n"; string(got) != want {
		t.Errorf("go install ...@%s: --version printed %q, want %q", ver, got, want)
	}
	// The credential provider reports the same version in its hello.
	plugin := exec.Command(bin, "--cargo-plugin")
	plugin.Stdin = strings.NewReader("")
	hello, err := plugin.Output()
	if err != nil {
		t.Fatalf("%s --cargo-plugin: %v", bin, err)
	}
	if !bytes.HasPrefix(hello, []byte(`{"v":[1]}`)) {
		t.Errorf("--cargo-plugin hello is %q", hello)
	}
}

// TestVersionUnstamped: a build without a -X main.version stamp and without
// VCS information prints "dev" (a stamped build prints its stamp: TestCLI).
func TestVersionUnstamped(t *testing.T) {
	t.Parallel()
	plain := filepath.Join(t.TempDir(), "cargo-oidc")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", plain, ".")
	cmd.Dir = harness.Root(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if got, err := exec.Command(plain, "--version").Output(); err != nil || string(got) != "cargo-oidc dev\n" {
		t.Errorf("unstamped build without VCS info: --version printed %q (%v), want %q", got, err, "cargo-oidc dev\n")
	}
}

// verWriteModule writes the files a module proxy serves for version ver
// (list, .info, .mod, .zip) into dir, the zip made from the working tree at
// root the way `go mod download` expects it: every file under
// "<module>@<version>/", without .git.
func verWriteModule(t *testing.T, root, dir, ver string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]string{"Version": ver, "Time": "2026-01-02T03:04:05Z"})
	files := map[string][]byte{"list": []byte(ver + "\n"), ver + ".info": info, ver + ".mod": gomod}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := verModule + "@" + ver + "/"
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel != "." && (d.Name() == ".git" || d.Name() == "vendor" || verFileExists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || d.Name() == ".git" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(prefix + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	files[ver+".zip"] = buf.Bytes()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func verFileExists(p string) bool { _, err := os.Stat(p); return err == nil }
