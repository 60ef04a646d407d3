package act

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
)

// jobImageFormat changes whenever the layout of the job image changes, so
// an image of an older layout is not reused.
const jobImageFormat = "cargo-oidc-act-job/1"

// JobImageRepo is the repository of the job images; the tag is a hash of
// what went in.
const JobImageRepo = "localhost/cargo-oidc-act-job"

// JobPATH is the job image's PATH (that of GitHub's Ubuntu images, less
// what they install); a run that mounts tools elsewhere puts their folders
// before it.
const JobPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// jobSources are the host files the job image is made of.
type jobSources struct {
	busybox string
	applets []string
	ca      string
	libs    []string // shared libraries, host paths, kept at the same path
}

// EnsureJobImage makes the image act runs jobs in, since nothing can be
// pulled: busybox (Debian's busybox-static) with its applets in /bin, a
// /bin/bash that runs busybox sh (act runs `bash -e` for run: steps), the
// CA bundle, /etc/passwd with root, and the host's shared libraries that
// the toolchain's cargo and rustc need (empty toolchain: none). The image
// is tagged JobImageRepo:<hash of those files' identities> and made only
// when no image has that tag, so repeated calls cost one
// `podman image exists`.
func EnsureJobImage(ctx context.Context, e *container.Engine, toolchain string) (string, error) {
	src, err := collectJobSources(ctx, toolchain)
	if err != nil {
		return "", err
	}
	name := JobImageRepo + ":" + src.hash()
	if e.Command(ctx, "image", "exists", name).Run() == nil {
		return name, nil
	}
	start := time.Now()
	cmd := e.Command(ctx, "import", "--change", "ENV PATH="+JobPATH, "--change", `CMD ["/bin/sh"]`, "-", name)
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("podman import: %w", err)
	}
	werr := src.write(pw)
	pw.CloseWithError(werr)
	err = cmd.Wait()
	if werr != nil {
		return "", fmt.Errorf("job image: write root filesystem: %w", werr)
	}
	if err != nil {
		return "", fmt.Errorf("podman import %s: %w\n%s", name, err, out.String())
	}
	if e.Log != nil {
		fmt.Fprintf(e.Log, "act job image: %s made in %s\n", name, time.Since(start).Round(10*time.Millisecond))
	}
	return name, nil
}

func collectJobSources(ctx context.Context, toolchain string) (*jobSources, error) {
	s := &jobSources{}
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			s.busybox = p
			break
		}
	}
	if s.busybox == "" {
		return nil, fmt.Errorf("job image: busybox not found; install it with `apt-get install -y busybox-static`")
	}
	out, err := exec.CommandContext(ctx, s.busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("job image: busybox --list: %w (a static busybox is needed: apt-get install -y busybox-static)", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && a != "bash" && !strings.Contains(a, "/") {
			s.applets = append(s.applets, a)
		}
	}
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"} {
		if _, err := os.Stat(p); err == nil {
			s.ca = p
			break
		}
	}
	if toolchain != "" {
		libs := map[string]bool{}
		for _, exe := range []string{"cargo", "rustc"} {
			found, err := sharedLibraries(ctx, filepath.Join(toolchain, "bin", exe))
			if err != nil {
				return nil, err
			}
			for _, l := range found {
				if _, inToolchain := strings.CutPrefix(l, filepath.Clean(toolchain)+"/"); !inToolchain {
					libs[l] = true
				}
			}
		}
		for l := range libs {
			s.libs = append(s.libs, l)
		}
		slices.Sort(s.libs)
	}
	return s, nil
}

// lddLine matches "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
// and "/lib64/ld-linux-x86-64.so.2 (0x...)".
var lddLine = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x`)

// sharedLibraries lists the shared libraries exe loads, as ldd resolves
// them on this machine.
func sharedLibraries(ctx context.Context, exe string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", exe).Output()
	if err != nil {
		return nil, fmt.Errorf("job image: ldd %s: %w", exe, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		if m := lddLine.FindStringSubmatch(line); m != nil {
			libs = append(libs, filepath.Clean(m[1]))
		}
	}
	return libs, nil
}

func (s *jobSources) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", jobImageFormat, strings.Join(s.applets, ","))
	for _, p := range append([]string{s.busybox, s.ca}, s.libs...) {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// write streams the root filesystem as a tar archive.
func (s *jobSources) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	mtime := time.Unix(0, 0)
	dirs := map[string]bool{}
	dir := func(name string, mode int64) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
	}
	parents := func(name string) error {
		var chain []string
		for d := filepath.Dir(name); d != "." && d != "/"; d = filepath.Dir(d) {
			chain = append(chain, d)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			if err := dir(chain[i], 0o755); err != nil {
				return err
			}
		}
		return nil
	}
	data := func(name string, mode int64, b []byte) error {
		if err := parents(name); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(b)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	file := func(name, src string, mode int64) error {
		b, err := os.ReadFile(src) // follows symlinks: libraries are copied as files
		if err != nil {
			return err
		}
		return data(name, mode, b)
	}
	link := func(name, target string) error {
		if err := parents(name); err != nil {
			return err
		}
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: mtime})
	}
	for _, d := range []struct {
		name string
		mode int64
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"etc", 0o755}, {"usr", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
		{"usr/local", 0o755}, {"usr/local/bin", 0o755}, {"usr/local/sbin", 0o755}, {"opt", 0o755},
		{"root", 0o700}, {"home", 0o755}, {"tmp", 0o1777}, {"var", 0o755}, {"var/tmp", 0o1777}, {"var/run", 0o755},
	} {
		if err := dir(d.name, d.mode); err != nil {
			return err
		}
	}
	if err := file("bin/busybox", s.busybox, 0o755); err != nil {
		return err
	}
	for _, a := range s.applets {
		if err := link("bin/"+a, "busybox"); err != nil {
			return err
		}
	}
	if err := link("usr/bin/env", "/bin/busybox"); err != nil {
		return err
	}
	files := map[string]string{
		"bin/bash":          "#!/bin/sh\nexec /bin/sh \"$@\"\n",
		"etc/passwd":        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":         "root:x:0:\nnogroup:x:65534:\n",
		"etc/nsswitch.conf": "hosts: files dns\n",
		"etc/hosts":         "127.0.0.1 localhost\n",
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		mode := int64(0o644)
		if strings.HasPrefix(name, "bin/") {
			mode = 0o755
		}
		if err := data(name, mode, []byte(files[name])); err != nil {
			return err
		}
	}
	if s.ca != "" {
		if err := file("etc/ssl/certs/ca-certificates.crt", s.ca, 0o644); err != nil {
			return err
		}
	}
	for _, l := range s.libs {
		if err := file(strings.TrimPrefix(l, "/"), l, 0o755); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
