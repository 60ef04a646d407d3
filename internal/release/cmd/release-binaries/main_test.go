package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/release"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

func TestParseRefuses(t *testing.T) {
	type test struct {
		args []string
		want string
	}
	testenv.Run(t, map[string]test{
		"no version":              {[]string{"--out", "d"}, "--version"},
		"bad version":             {[]string{"--version", "1.2.3", "--out", "d"}, "is not vMAJOR.MINOR.PATCH"},
		"no out":                  {[]string{"--version", "v1.2.3"}, "--out is required"},
		"unknown target":          {[]string{"--version", "v1.2.3", "--out", "d", "--targets", "plan9/amd64"}, "is not released"},
		"setup with some targets": {[]string{"--version", "v1.2.3", "--out", "d", "--setup", "s", "--targets", "linux/amd64"}, "--setup needs every released target"},
		"check with out":          {[]string{"--check", "--out", "d"}, "do not give --out"},
		"stray argument":          {[]string{"--version", "v1.2.3", "--out", "d", "x"}, "unexpected argument"},
	}, func(t *testing.T, _ string, tt test) {
		_, err := parse(tt.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err %v, want %q", err, tt.want)
		}
	})
}

// TestBuildHostTarget builds the binary of the machine's own target as a
// release does and checks SHA256SUMS against the file and the stamped
// version against what the binary prints.
func TestBuildHostTarget(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping in -short mode: compiles the binary")
	}
	host, err := release.ParseTarget(runtime.GOOS + "/" + runtime.GOARCH)
	if err != nil {
		t.Skipf("skipping: this machine's target is not released: %v", err)
	}
	testenv.Tool(t, "go", "install Go (https://go.dev/dl/)")
	out := testenv.TempDir(t)
	var stdout bytes.Buffer
	args := []string{"--version", "v1.2.3-test.1", "--out", out, "--repo", "../../../..", "--targets", host.String()}
	if err := run(context.Background(), args, &stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
	sumsData, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sums, err := release.ParseSums(sumsData)
	if err != nil || len(sums) != 1 || sums[0].Name != host.Asset() {
		t.Fatalf("SHA256SUMS = %q (%v), want one line for %s", sumsData, err, host.Asset())
	}
	bin := filepath.Join(out, host.Asset())
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if host.GOOS == "linux" && len(data) > release.MaxBinarySize {
		t.Errorf("%s is %d bytes, over the budget of %d", host.Asset(), len(data), release.MaxBinarySize)
	}
	if got := release.SumOf(host.Asset(), data); got != sums[0] {
		t.Errorf("SHA256SUMS says %s, the file's SHA-256 is %s", sums[0].Hex, got.Hex)
	}
	if !strings.Contains(stdout.String(), sums[0].Hex) {
		t.Errorf("the log does not show the checksum:\n%s", stdout.String())
	}
	got, err := exec.Command(bin, "--version").Output()
	if err != nil || string(got) != "cargo-oidc v1.2.3-test.1\n" {
		t.Errorf("%s --version = %q (%v), want the stamped version", host.Asset(), got, err)
	}
}
