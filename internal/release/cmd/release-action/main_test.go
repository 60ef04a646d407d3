package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const image = "ghcr.io/cargo-oidc/cargo-oidc:1.2.3@sha256:" +
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestReleaseWorkflowCommandOnRealActionYAML(t *testing.T) {
	real, err := os.ReadFile("../../../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	type test struct {
		args    func(in, out string) []string
		wantErr string
	}
	testenv.Run(t, map[string]test{
		"writes the release action.yml": {func(in, out string) []string {
			return []string{"--in", in, "--image", image, "--out", out}
		}, ""},
		"in place, as the release workflow does": {func(in, _ string) []string {
			return []string{"--in", in, "--image", image, "--out", in}
		}, ""},
		"no image": {func(in, out string) []string { return []string{"--in", in, "--out", out} }, "--image is required"},
		"no out":   {func(in, _ string) []string { return []string{"--in", in, "--image", image} }, "--out is required"},
		"bad image": {func(in, out string) []string {
			return []string{"--in", in, "--image", "ghcr.io/cargo-oidc/cargo-oidc:latest", "--out", out}
		}, "is not ghcr.io/OWNER/NAME:VERSION@sha256:DIGEST"},
		"stray argument": {func(in, out string) []string {
			return []string{"--in", in, "--image", image, "--out", out, "extra"}
		}, "unexpected argument"},
	}, func(t *testing.T, _ string, tt test) {
		dir := testenv.TempDir(t)
		in := filepath.Join(dir, "action.yml")
		if err := os.WriteFile(in, real, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out.yml")
		args := tt.args(in, out)
		if args[len(args)-1] == in {
			out = in
		}
		var stderr bytes.Buffer
		err := run(args, &stderr)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got, _ := os.ReadFile(in); !bytes.Equal(got, real) {
				t.Error("the input file changed on failure")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(string(real), "\n  image: Dockerfile\n", "\n  image: docker://"+image+"\n", 1)
		if want == string(real) {
			t.Fatal("the real action.yml has no line \"  image: Dockerfile\"")
		}
		if string(got) != want {
			t.Errorf("output differs from action.yml with only runs.image replaced:\n%s", got)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".release-action-") {
				t.Errorf("temporary file %s left behind", e.Name())
			}
		}
	})
}
