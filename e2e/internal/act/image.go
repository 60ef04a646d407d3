package act

import (
	"context"
	"fmt"
	"maps"
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
const jobImageFormat = "cargo-oidc-act-job/2"

// JobImageRepo is the repository of the job images; the tag is a hash of
// what went in.
const JobImageRepo = "localhost/cargo-oidc-act-job"

// JobPATH is the job image's PATH (that of GitHub's Ubuntu images, less
// what they install); a run that mounts tools elsewhere puts their folders
// before it.
const JobPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// EnsureJobImage makes the image act runs jobs in, since nothing can be
// pulled: the container.System (busybox and its applets, the CA bundle,
// /etc/passwd), a /bin/bash that runs busybox sh (act runs `bash -e` for
// run: steps), and the host's shared libraries that the toolchain's cargo
// and rustc need (empty toolchain: none). The image is tagged
// JobImageRepo:<hash of those files' identities> and made only when no
// image has that tag, so repeated calls cost one `podman image exists`.
func EnsureJobImage(ctx context.Context, e *container.Engine, toolchain string) (string, error) {
	sys, err := container.HostSystem(ctx)
	if err != nil {
		return "", fmt.Errorf("job image: %w", err)
	}
	libs, err := toolchainLibraries(ctx, toolchain)
	if err != nil {
		return "", err
	}
	name := JobImageRepo + ":" + sys.Hash(jobImageFormat, libs...)[:16]
	if e.Command(ctx, "image", "exists", name).Run() == nil {
		return name, nil
	}
	start := time.Now()
	err = e.Import(ctx, name, sys, []string{"ENV PATH=" + JobPATH, `CMD ["/bin/sh"]`}, func(t *container.Tar) error {
		if err := t.Bytes("bin/bash", 0o755, []byte("#!/bin/sh\nexec /bin/sh \"$@\"\n")); err != nil {
			return err
		}
		for _, l := range libs {
			if err := t.File(strings.TrimPrefix(l, "/"), l, 0o755); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if e.Log != nil {
		fmt.Fprintf(e.Log, "act job image: %s made in %s\n", name, time.Since(start).Round(10*time.Millisecond))
	}
	return name, nil
}

// toolchainLibraries lists the host's shared libraries outside the
// toolchain that its cargo and rustc load, sorted.
func toolchainLibraries(ctx context.Context, toolchain string) ([]string, error) {
	if toolchain == "" {
		return nil, nil
	}
	libs := map[string]bool{}
	for _, exe := range []string{"cargo", "rustc"} {
		found, err := sharedLibraries(ctx, filepath.Join(toolchain, "bin", exe))
		if err != nil {
			return nil, err
		}
		for _, l := range found {
			if !strings.HasPrefix(l, filepath.Clean(toolchain)+"/") {
				libs[l] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(libs)), nil
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
