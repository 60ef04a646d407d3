// Package container builds and runs the action's image with Podman as the
// GitHub runner does with Docker (Build, Run), configured through
// CONTAINERS_CONF. Since nothing can be pulled, Image makes images from the
// host's files, and EnsureBaseImage the build stage's base image.
package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// containersConf: crun fails on these kernels' cgroups; no systemd, journald or CAP_SYS_RESOURCE for ulimits.
const containersConf = `# Written by github.com/cargo-oidc/cargo-oidc/e2e/internal/container.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// Available reports whether Podman and runc are installed, and how to.
func Available() error {
	for _, tool := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found in PATH; install with `apt-get install -y podman runc busybox-static`", tool)
		}
	}
	return nil
}

// Engine runs Podman with this package's configuration; call New.
type Engine struct {
	// Log, when set, receives progress lines, also concurrently.
	Log io.Writer
	// Labels go on every container (harness.Label=1, harness.RunLabel=session id); images get Label only.
	Labels []string

	podman string
	dir    string // holds containers.conf and the base image's lock file
}

// New checks Available and writes the configuration into dir (default: the user cache).
func New(dir string) (*Engine, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	podman, _ := exec.LookPath("podman")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("find a cache folder for the Podman configuration: %w", err)
		}
		dir = filepath.Join(base, "cargo-oidc-e2e")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the Podman configuration folder: %w", err)
	}
	if err := cargoconf.WriteFileAtomic(filepath.Join(dir, "containers.conf"), []byte(containersConf), 0o644, cargoconf.Owner{}); err != nil {
		return nil, fmt.Errorf("write the Podman configuration: %w", err)
	}
	labels := []string{harness.Label + "=1"}
	if run := os.Getenv(harness.RunEnv); run != "" {
		labels = append(labels, harness.RunLabel+"="+run)
	}
	return &Engine{podman: podman, dir: dir, Labels: labels}, nil
}

// Podman is New("").Command for harness.Begin, or nil without Podman.
func Podman() harness.Podman {
	e, err := New("")
	if err != nil {
		return nil
	}
	return e.Command
}

// Logf writes a progress line to Log, when set.
func (e *Engine) Logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

// Command returns `podman args...` with the engine's configuration.
func (e *Engine) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.podman, args...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(e.dir, "containers.conf"))
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// output runs podman and returns its trimmed stdout; an error ends with its output.
func (e *Engine) output(ctx context.Context, args ...string) (string, error) {
	out, stderr, code, err := harness.Exec(ctx, nil, e.Command(ctx, args...))
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d", code)
	}
	if err != nil {
		return "", fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, tail(out+stderr, 4000))
	}
	return strings.TrimSpace(out), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// BuildResult describes a built image.
type BuildResult struct {
	Image    string        // the tag
	Size     int64         // bytes, as `podman image inspect --format {{.Size}}` reports
	Duration time.Duration // wall time of `podman build`
}

// Build builds repoDir's Dockerfile as the runner does and logs time and size.
func (e *Engine) Build(ctx context.Context, repoDir, tag string) (*BuildResult, error) {
	start := time.Now()
	if _, err := e.output(ctx, "build", "-t", tag, "-f", filepath.Join(repoDir, "Dockerfile"), "--label", harness.Label+"=1", repoDir); err != nil {
		return nil, fmt.Errorf("failed after %s: %w", time.Since(start).Round(time.Millisecond), err)
	}
	res := &BuildResult{Image: tag, Duration: time.Since(start)}
	out, err := e.output(ctx, "image", "inspect", "--format", "{{.Size}}", tag)
	if err != nil {
		return nil, err
	}
	if res.Size, err = strconv.ParseInt(out, 10, 64); err != nil {
		return nil, fmt.Errorf("podman image inspect %s: size %q: %w", tag, out, err)
	}
	e.Logf("podman build: %s built in %s, image size %d bytes (%.2f MB)", tag, res.Duration.Round(10*time.Millisecond), res.Size, float64(res.Size)/1e6)
	return res, nil
}

// RemoveImage removes an image (ignoring one that does not exist).
func (e *Engine) RemoveImage(ctx context.Context, image string) error {
	_, err := e.output(ctx, "rmi", "--ignore", image)
	return err
}

type mount struct{ host, container string }

// mounts returns the runner's mounts in its order, less the Docker socket.
func mounts(workspace, runnerTemp string) []mount {
	return []mount{
		{runnerTemp, "/github/runner_temp"},
		{filepath.Join(runnerTemp, "_github_home"), "/github/home"},
		{filepath.Join(runnerTemp, "_github_workflow"), "/github/workflow"},
		{filepath.Join(runnerTemp, "_runner_file_commands"), "/github/file_commands"},
		{workspace, "/github/workspace"},
	}
}

// translatePath rewrites a value starting with a mounted host path, as the runner does.
func translatePath(value string, ms []mount) string {
	for _, m := range slices.Backward(ms) { // RUNNER_TEMP's subfolders before it
		if rest, ok := strings.CutPrefix(value, m.host); ok && (rest == "" || rest[0] == '/') {
			return m.container + rest
		}
	}
	return value
}

// RunOptions describes one `docker run` of an action stage.
type RunOptions struct {
	Workspace, RunnerTemp string    // host folders, mounted
	Env                   []string  // NAME=VALUE, host paths rewritten
	Args                  []string  // after the image, not rewritten
	Entrypoint            string    // --entrypoint, when set (post stage)
	Stdout, Stderr        io.Writer // the container's output as it happens
}

// RunResult is the outcome of Run.
type RunResult struct {
	ExitCode int
}

// podmanOwnVars are read by podman itself, so they go as -e NAME=VALUE.
var podmanOwnVars = map[string]bool{
	"PATH": true, "HOME": true, "TMPDIR": true, "USER": true, "LANG": true,
	"XDG_RUNTIME_DIR": true, "XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true,
	"CONTAINERS_CONF": true, "CONTAINERS_REGISTRIES_CONF": true, "CONTAINERS_STORAGE_CONF": true,
	"CONTAINER_HOST": true, "CONTAINER_CONNECTION": true, "DOCKER_HOST": true,
}

// runArgs returns the runner's podman args plus --network=host, and env; only podmanOwnVars go in args.
func runArgs(image string, opts RunOptions) (args, env []string) {
	ms := mounts(opts.Workspace, opts.RunnerTemp)
	args = []string{"run", "--workdir", "/github/workspace", "--rm"}
	for _, kv := range opts.Env {
		name, value, _ := strings.Cut(kv, "=")
		kv = name + "=" + translatePath(value, ms)
		if podmanOwnVars[name] {
			args = append(args, "-e", kv)
			continue
		}
		args = append(args, "-e", name)
		env = append(env, kv)
	}
	for _, m := range ms {
		args = append(args, "-v", m.host+":"+m.container)
	}
	args = append(args, "--network=host")
	if opts.Entrypoint != "" {
		args = append(args, "--entrypoint", opts.Entrypoint)
	}
	return append(append(args, image), opts.Args...), env
}

// Run runs image like the runner's `docker run`; podman not running it (also status 125) is an error.
func (e *Engine) Run(ctx context.Context, image string, opts RunOptions) (*RunResult, error) {
	args, env := runArgs(image, opts)
	for _, l := range e.Labels {
		args = slices.Insert(args, 1, "--label", l)
	}
	cmd := e.Command(ctx, args...)
	cmd.Env = append(cmd.Env, env...) // the last value of a name wins
	cmd.Stdout, cmd.Stderr = opts.Stdout, opts.Stderr
	_, stderr, code, err := harness.Exec(ctx, nil, cmd)
	switch {
	case err != nil:
		return nil, fmt.Errorf("podman run %s: %w", image, err)
	case code == 125:
		return nil, fmt.Errorf("podman failed to run the container: %s", tail(stderr, 2000))
	}
	return &RunResult{ExitCode: code}, nil
}

// baseFormat changes whenever what the base image offers changes.
const baseFormat = "cargo-oidc-base/2"

// baseLabel is the image label holding the base image's content hash.
const baseLabel = "io.github.cargo-oidc.e2e.base-hash"

var fromLine = regexp.MustCompile(`(?im)^[ \t]*FROM[ \t]+(?:--\S+[ \t]+)*(\S+)`)

// baseImageName returns the name Podman resolves the first FROM to (golang:1.26 => docker.io/library/golang:1.26).
func baseImageName(dockerfile []byte) (string, error) {
	m := fromLine.FindSubmatch(dockerfile)
	if m == nil || strings.ContainsAny(string(m[1]), "/@") || !strings.Contains(string(m[1]), ":") {
		return "", errors.New("the first FROM is not an official image's NAME:TAG")
	}
	return "docker.io/library/" + string(m[1]), nil
}

// BaseImage describes the locally made build-stage base image.
type BaseImage struct {
	Name     string        // e.g. docker.io/library/golang:1.26
	Created  bool          // false when an image with the same hash existed
	Duration time.Duration // time spent, including the check
}

// EnsureBaseImage makes (under a lock file, when its inputs' hash changed) the image the first FROM names:
// the System, the host's Go and a file GOPROXY at /goproxy of moduleDir's go.sum (still pinning every hash).
func (e *Engine) EnsureBaseImage(ctx context.Context, dockerfilePath, moduleDir string) (*BaseImage, error) {
	start := time.Now()
	df, err := os.ReadFile(dockerfilePath)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	name, err := baseImageName(df)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT", "GOMODCACHE", "GOVERSION").Output()
	env := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(env) != 3 {
		return nil, fmt.Errorf("base image: go env (the go command is needed): %v %q", err, out)
	}
	goroot, modCache := env[0], filepath.Join(env[1], "cache", "download")
	sys, err := HostSystem(ctx)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	modules, err := moduleFiles(ctx, moduleDir, modCache)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	digest := sha256.New()
	script := `mkdir -p /go/bin /go/src /usr/local/go
chmod 777 /go /go/bin /go/src
for f in /.host/go/*; do [ "$f" = /.host/go/test ] || cp -a "$f" /usr/local/go/; done
`
	for _, rel := range modules {
		fi, err := os.Stat(filepath.Join(modCache, rel))
		if err != nil {
			return nil, fmt.Errorf("base image: %w", err)
		}
		fmt.Fprintf(digest, "%s %d\n", rel, fi.Size())
		script += fmt.Sprintf("mkdir -p '/goproxy/%s' && cp '/.host/mod/%s' '/goproxy/%s'\n", path.Dir(rel), rel, rel)
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n", sys.Hash(baseFormat+"\n"+name+"\n"+goroot+"\n"+env[2],
		filepath.Join(goroot, "VERSION"), filepath.Join(goroot, "bin", "go")), digest.Sum(nil)))
	hash := hex.EncodeToString(sum[:])[:32]
	unlock, err := lockFile(ctx, filepath.Join(e.dir, "base-image.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	res := &BaseImage{Name: name}
	if got, _ := e.output(ctx, "image", "inspect", "--format", `{{index .Labels "`+baseLabel+`"}}`, name); got != hash {
		err := e.Image(ctx, name, sys, map[string]string{"go": goroot, "mod": modCache}, script,
			"ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"ENV GOLANG_VERSION="+strings.TrimPrefix(env[2], "go"),
			"ENV GOTOOLCHAIN=local GOPATH=/go GOPROXY=file:///goproxy GOSUMDB=off",
			"WORKDIR /go", `CMD ["/bin/sh"]`, "LABEL "+baseLabel+"="+hash)
		if err != nil {
			return nil, fmt.Errorf("base image: %w", err)
		}
		res.Created = true
		e.Logf("base image: %s made from %s and %d module files in %s", name, goroot, len(modules), time.Since(start).Round(10*time.Millisecond))
	}
	res.Duration = time.Since(start)
	return res, nil
}

// moduleFiles fills the host module cache for a copy of moduleDir's go.mod and returns the
// files its go.sum names, relative to modCache (also unselected versions' go.mod: go reads them).
func moduleFiles(ctx context.Context, moduleDir, modCache string) ([]string, error) {
	gomod, err := os.ReadFile(filepath.Join(moduleDir, "go.mod"))
	if err != nil {
		return nil, err
	}
	gosum, _ := os.ReadFile(filepath.Join(moduleDir, "go.sum"))
	tmp, err := os.MkdirTemp("", "cargo-oidc-modules-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for name, data := range map[string][]byte{"go.mod": gomod, "go.sum": gosum} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "all")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go mod download (to fill the module cache for the image's file proxy): %w\n%s", err, tail(string(out), 2000))
	}
	var files []string
	for _, line := range strings.Split(string(gosum), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		dir := path.Join(escapeModulePath(f[0]), "@v", escapeModulePath(strings.TrimSuffix(f[1], "/go.mod")))
		for _, ext := range []string{".info", ".mod", ".zip"} {
			if _, err := os.Stat(filepath.Join(modCache, filepath.FromSlash(dir+ext))); err == nil && !slices.Contains(files, dir+ext) {
				files = append(files, dir+ext)
			}
		}
	}
	return files, nil
}

var upper = regexp.MustCompile(`[A-Z]`)

// escapeModulePath applies the module cache's case encoding ("A" => "!a").
func escapeModulePath(p string) string {
	return upper.ReplaceAllStringFunc(p, func(s string) string { return "!" + strings.ToLower(s) })
}

// System is the smallest userland from the host: busybox, CA bundle, /etc/passwd...
type System struct {
	Busybox string   // host path of a static busybox
	Applets []string // busybox --list, less busybox itself and bash
	CA      string   // host path of the CA bundle, "" when there is none
}

// userland lays out a System from /.host/busybox and /.host/ca.
const userland = `B=/.host/busybox
$B mkdir -p /bin /sbin /usr/bin /usr/sbin /usr/local/bin /usr/local/sbin /etc/ssl/certs /root /home /opt /tmp /var/tmp /var/run
$B chmod 700 /root
$B chmod 1777 /tmp /var/tmp
$B cp $B /bin/busybox
/bin/busybox --install -s /bin
export PATH=/bin
ln -s /bin/busybox /usr/bin/env
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >/etc/group
echo 'hosts: files dns' >/etc/nsswitch.conf
if [ -e /.host/ca ]; then cp /.host/ca /etc/ssl/certs/ca-certificates.crt; fi
`

// HostSystem finds the host's static busybox, its applets and CA bundle.
func HostSystem(ctx context.Context) (*System, error) {
	first := func(paths ...string) string {
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p
			}
		}
		return ""
	}
	s := &System{Busybox: first("/bin/busybox", "/usr/bin/busybox"), CA: first("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")}
	out, err := exec.CommandContext(ctx, s.Busybox, "--list").Output()
	if s.Busybox == "" || err != nil {
		return nil, fmt.Errorf("busybox --list: %v; a static busybox is needed: apt-get install -y busybox-static", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && a != "bash" && !strings.Contains(a, "/") {
			s.Applets = append(s.Applets, a)
		}
	}
	return s, nil
}

// Hash hashes format, the applets and the identity of the system's and extra files.
func (s *System) Hash(format string, extra ...string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", format, strings.Join(s.Applets, ","))
	for _, p := range append([]string{s.Busybox, s.CA}, extra...) {
		if fi, err := os.Stat(p); p != "" && err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Image builds name FROM scratch: one RUN of the userland and script under the host's busybox,
// mounts (NAME => host path) bound read-only at /.host/NAME, then changes (ENV, LABEL, CMD...).
func (e *Engine) Image(ctx context.Context, name string, s *System, mounts map[string]string, script string, changes ...string) error {
	dir, err := os.MkdirTemp("", "cargo-oidc-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	containerfile := "FROM scratch\nRUN [\"/.host/busybox\", \"sh\", \"-e\", \"/.host/ctx/script\"]\n" + strings.Join(changes, "\n") + "\n"
	for file, data := range map[string]string{"Containerfile": containerfile, "script": userland + script} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o644); err != nil {
			return err
		}
	}
	args := []string{"build", "--layers=false", "-t", name, "-f", filepath.Join(dir, "Containerfile")}
	all := map[string]string{"busybox": s.Busybox, "ctx": dir}
	if s.CA != "" {
		all["ca"] = s.CA
	}
	maps.Copy(all, mounts)
	for _, k := range slices.Sorted(maps.Keys(all)) {
		args = append(args, "-v", all[k]+":/.host/"+k+":ro")
	}
	_, err = e.output(ctx, append(args, dir)...)
	return err
}
