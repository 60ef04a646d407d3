package act

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	t.Parallel()
	r := &Runner{JobImage: "localhost/job:abc", dir: "/tmp/cargo-oidc-act-123"}
	got := r.Args(Run{Dir: "/repo", Workflow: ".github/workflows/ci.yml", Job: "build",
		Matrix:            map[string]string{"os": "ubuntu-latest", "arch": "x64"},
		LocalRepositories: map[string]string{"actions/setup-go@v5": "/stub"},
		Env:               map[string]string{"B": "2", "A": "1"},
		Secrets:           map[string]string{"S": "x"},
		Mounts:            []Mount{{Host: "/ca", Container: "/ca", ReadOnly: true}, {Host: "/h", Container: "/c"}}})
	want := []string{"push", "-W", ".github/workflows/ci.yml", "-P", "ubuntu-latest=localhost/job:abc",
		"--action-offline-mode", "--pull=false", "--network", "host", "--bind", "--rm", "--no-cache-server",
		"--container-daemon-socket", "-", "-j", "build", "--matrix", "arch:x64", "--matrix", "os:ubuntu-latest", "--local-repository", "actions/setup-go@v5=/stub", "--env", "A=1", "--env", "B=2", "-s", "S=x",
		"--container-options", "--label " + ContainerLabel + "=cargo-oidc-act-123 -v /ca:/ca:ro -v /h:/c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
	if got := r.Args(Run{Workflow: "w.yml", Event: "workflow_dispatch"}); got[0] != "workflow_dispatch" || slices.Contains(got, "-j") || slices.Contains(got, "--matrix") ||
		got[len(got)-1] != "--label "+ContainerLabel+"=cargo-oidc-act-123" {
		t.Errorf("Args with an event and no job: %q", got)
	}
}

func TestResultLines(t *testing.T) {
	t.Parallel()
	res := &Result{Output: strings.Join([]string{
		"[ci/build] ⭐ Run Main echo",
		"[ci/build]   | TOKEN=***",
		"[ci/build]   | A=1",
		"[ci/build]   | A=2",
		"[ci/build]   | not a pair",
		"TOKEN=outside a step",
		"[ci/build]   ✅  Success - Main echo",
	}, "\n"), ExitCode: 1}
	if want := []string{"TOKEN=***", "A=1", "A=2", "not a pair"}; !reflect.DeepEqual(res.StepLines(), want) {
		t.Errorf("StepLines = %q", res.StepLines())
	}
	if v, ok := res.Value("A"); !ok || v != "1" {
		t.Errorf("Value(A) = %q, %v; want the first, 1", v, ok)
	}
	if v, ok := res.Value("TOKEN"); v != "***" || !ok {
		t.Errorf("Value(TOKEN) = %q, %v", v, ok)
	}
	if _, ok := res.Value("MISSING"); ok {
		t.Error("Value found a key no step printed")
	}
	if !res.Failed() {
		t.Error("exit 1 is not Failed")
	}
}

func TestLddLine(t *testing.T) {
	t.Parallel()
	out := `	linux-vdso.so.1 (0x00007ffd)
	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f94339ff000)
	librustc_driver.so => /opt/rust/bin/../lib/librustc_driver.so (0x00007f9433c00000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f943bbc6000)
	libmissing.so => not found`
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if m := lddLine.FindStringSubmatch(line); m != nil {
			got = append(got, filepath.Clean(m[1]))
		}
	}
	want := []string{"/lib/x86_64-linux-gnu/libz.so.1", "/opt/rust/lib/librustc_driver.so", "/lib64/ld-linux-x86-64.so.2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestJobRootfs checks the job image's root filesystem: what act needs to
// start a job (tail, sh, bash) and run cargo (the libraries at their host
// paths), and a stable hash.
func TestJobRootfs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := &jobSources{busybox: write("busybox", "BUSYBOX"), applets: []string{"sh", "tail", "env"},
		ca: write("ca.crt", "CA"), libs: []string{write("libc.so.6", "LIBC")}}
	var buf bytes.Buffer
	if err := s.write(&buf); err != nil {
		t.Fatal(err)
	}
	entries := map[string]*tar.Header{}
	contents := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := entries[h.Name]; dup {
			t.Errorf("duplicate entry %s", h.Name)
		}
		entries[h.Name] = h
		b, _ := io.ReadAll(tr)
		contents[h.Name] = string(b)
	}
	for name, want := range map[string]string{
		"bin/busybox": "BUSYBOX", "etc/ssl/certs/ca-certificates.crt": "CA",
		strings.TrimPrefix(s.libs[0], "/"): "LIBC", "bin/bash": "#!/bin/sh\nexec /bin/sh \"$@\"\n",
	} {
		if contents[name] != want {
			t.Errorf("%s = %q, want %q", name, contents[name], want)
		}
	}
	for _, a := range []string{"bin/sh", "bin/tail"} {
		if h := entries[a]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
			t.Errorf("%s is not a link to busybox: %+v", a, h)
		}
	}
	if h := entries["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp/ is not mode 1777: %+v", h)
	}
	if h := entries["bin/bash"]; h == nil || h.Mode != 0o755 {
		t.Errorf("bin/bash is not executable: %+v", h)
	}
	if !strings.Contains(contents["etc/passwd"], "root:x:0:0:root:/root:") {
		t.Errorf("etc/passwd = %q", contents["etc/passwd"])
	}
	h1 := s.hash()
	if h2 := s.hash(); h1 != h2 || len(h1) != 16 {
		t.Errorf("hash %q then %q", h1, h2)
	}
	s.applets = append(s.applets, "vi")
	if s.hash() == h1 {
		t.Error("the hash ignores the applets")
	}
}

func TestCopyFiles(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	for name, data := range map[string]string{"a.txt": "a", "dir/b.txt": "b", "dir/sub/c.sh": "c", "other.txt": "o"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "dir/sub/c.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CopyFiles(src, dst, "a.txt", "dir"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a.txt": "a", "dir/b.txt": "b", "dir/sub/c.sh": "c"} {
		if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dst, "dir/sub/c.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode not kept: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "other.txt")); err == nil {
		t.Error("copied a file not asked for")
	}
	if err := CopyFiles(src, dst, "missing"); err == nil {
		t.Error("no error for a missing file")
	}
}

// TestCIInstallsThisVersion keeps .ci/run installing the act this package
// is written against.
func TestCIInstallsThisVersion(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "ACT_VERSION="+Version+"\n") {
		t.Errorf(".ci/run does not install act %s", Version)
	}
}
