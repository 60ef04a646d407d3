// Package container builds and runs the action's image with Podman the way
// the GitHub runner does it with Docker: `docker build -t TAG -f Dockerfile
// DIR` with no build arguments, and `docker run` with the runner's mounts
// under /github/, `--workdir /github/workspace`, `-e NAME` for every variable
// (values taken from the engine's process environment) and every value that
// starts with a mounted host path rewritten to the container path.
//
// Podman is set up for these machines (runtime runc, cgroup manager
// cgroupfs, no default ulimits) through a containers.conf file named by
// CONTAINERS_CONF in a cache folder; nothing under /etc is changed. Since
// nothing can be pulled, EnsureBaseImage makes the build stage's base image
// from the machine's own Go toolchain.
package container

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// containersConf is the Podman configuration this package uses. crun fails
// on these kernels' cgroups, the machine has no systemd for the cgroup
// manager or journald for events, and it lacks CAP_SYS_RESOURCE for raising
// ulimits.
const containersConf = `# Written by github.com/cargo-oidc/cargo-oidc/e2e/internal/container.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// Available reports whether Podman and runc are installed. The error says
// what is missing and how to install it.
func Available() error {
	var missing []string
	for _, tool := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not found in PATH; install with `apt-get install -y podman runc busybox-static`", strings.Join(missing, " and "))
	}
	return nil
}

// Engine runs Podman with this package's configuration. The zero value is
// not usable; call New.
type Engine struct {
	// Podman is the podman executable.
	Podman string
	// Dir is the cache folder holding containers.conf and the lock file.
	Dir string
	// ConfFile is the containers.conf passed as CONTAINERS_CONF.
	ConfFile string
	// Log receives progress lines (build time, image size, base image
	// creation). Nil discards them.
	Log io.Writer
	// Labels ("NAME=VALUE") are put on every container Run starts:
	// harness.Label=1, and harness.RunLabel with the test process's
	// session (harness.RunEnv) when it has one, so that a later run can
	// sweep what a killed one left (harness.Sweep). Build puts only
	// harness.Label=1 on images: podman puts build labels on every stage,
	// and removing a session's stages would throw away the build cache;
	// harness.Sweep finds a session's image by its tag (the session id).
	Labels []string

	logMu sync.Mutex
}

// New checks that Podman is available and writes the configuration into dir
// (created if needed). An empty dir means cargo-oidc-e2e under the user's
// cache folder.
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
	conf := filepath.Join(dir, "containers.conf")
	if old, err := os.ReadFile(conf); err != nil || string(old) != containersConf {
		if err := cargoconf.WriteFileAtomic(conf, []byte(containersConf), 0o644, cargoconf.Owner{}); err != nil {
			return nil, fmt.Errorf("write %s: %w", conf, err)
		}
	}
	labels := []string{harness.Label + "=1"}
	if run := os.Getenv(harness.RunEnv); run != "" {
		labels = append(labels, harness.RunLabel+"="+run)
	}
	return &Engine{Podman: podman, Dir: dir, ConfFile: conf, Labels: labels}, nil
}

// Podman is the podman command of New("") for harness.Begin, or nil when
// Podman is not installed (then nothing is swept from it).
func Podman() harness.Podman {
	e, err := New("")
	if err != nil {
		return nil
	}
	return e.Command
}

func (e *Engine) logf(format string, args ...any) { Logf(&e.logMu, e.Log, format, args...) }

// Logf writes one line to w (nil: nowhere) while holding mu, for progress
// lines from goroutines that share w.
func Logf(mu *sync.Mutex, w io.Writer, format string, args ...any) {
	if w == nil {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(w, format+"\n", args...)
}

// labelArgs returns --label NAME=VALUE for each of the engine's labels.
func (e *Engine) labelArgs() []string {
	var args []string
	for _, l := range e.Labels {
		args = append(args, "--label", l)
	}
	return args
}

// environ returns base with CONTAINERS_CONF pointing at the engine's file.
func (e *Engine) environ(base []string) []string {
	env := make([]string, 0, len(base)+1)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "CONTAINERS_CONF=") {
			env = append(env, kv)
		}
	}
	return append(env, "CONTAINERS_CONF="+e.ConfFile)
}

// Command returns an *exec.Cmd for `podman args...` with the engine's
// configuration and the current process environment.
func (e *Engine) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.Podman, args...)
	cmd.Env = e.environ(os.Environ())
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// output runs podman and returns its stdout; the error carries stderr.
func (e *Engine) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := e.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(tail(stderr.String(), 2000)))
	}
	return out, nil
}

// BuildOptions adjusts Build. The zero value builds exactly as the runner does.
type BuildOptions struct {
	// NoCache passes --no-cache, for timing a build like a fresh runner's.
	NoCache bool
	// Output receives podman's build output as it happens.
	Output io.Writer
}

// BuildResult describes a built image.
type BuildResult struct {
	Image    string        // the tag
	ID       string        // image ID
	Size     int64         // bytes, as `podman image inspect --format {{.Size}}` reports
	Duration time.Duration // wall time of `podman build`
	Output   string        // podman's build output
}

// Build builds repoDir's Dockerfile as the runner does: `podman build -t tag
// -f repoDir/Dockerfile repoDir`, no build arguments. It logs the build time
// and the image size.
func (e *Engine) Build(ctx context.Context, repoDir, tag string) (*BuildResult, error) {
	return e.BuildWith(ctx, repoDir, tag, BuildOptions{})
}

// BuildWith is Build with options.
func (e *Engine) BuildWith(ctx context.Context, repoDir, tag string, opts BuildOptions) (*BuildResult, error) {
	args := []string{"build", "-t", tag, "-f", filepath.Join(repoDir, "Dockerfile")}
	if opts.NoCache {
		args = append(args, "--no-cache")
	}
	args = append(args, "--label", harness.Label+"=1")
	args = append(args, repoDir)
	cmd := e.Command(ctx, args...)
	var out bytes.Buffer
	var w io.Writer = &out
	if opts.Output != nil {
		w = io.MultiWriter(&out, opts.Output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	err := cmd.Run()
	dur := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("podman build -t %s %s failed after %s: %w\n%s", tag, repoDir, dur.Round(time.Millisecond), err, tail(out.String(), 4000))
	}
	size, err := e.ImageSize(ctx, tag)
	if err != nil {
		return nil, err
	}
	id, err := e.output(ctx, "image", "inspect", "--format", "{{.Id}}", tag)
	if err != nil {
		return nil, err
	}
	e.logf("podman build: %s built in %s, image size %d bytes (%.2f MB)", tag, dur.Round(10*time.Millisecond), size, float64(size)/1e6)
	return &BuildResult{Image: tag, ID: strings.TrimSpace(string(id)), Size: size, Duration: dur, Output: out.String()}, nil
}

// ImageSize returns the image's size in bytes.
func (e *Engine) ImageSize(ctx context.Context, image string) (int64, error) {
	out, err := e.output(ctx, "image", "inspect", "--format", "{{.Size}}", image)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("podman image inspect %s: size %q: %w", image, strings.TrimSpace(string(out)), err)
	}
	return n, nil
}

// RemoveImage removes an image (ignoring one that does not exist).
func (e *Engine) RemoveImage(ctx context.Context, image string) error {
	_, err := e.output(ctx, "rmi", "--ignore", image)
	return err
}

// Mount is one bind mount of the runner's `docker run`.
type Mount struct {
	Host      string
	Container string
}

// Mounts returns the runner's mounts for a container action, in the order
// of its `docker run` command: RUNNER_TEMP, its _github_home,
// _github_workflow and _runner_file_commands folders, and the workspace.
// The Docker socket mount is left out: there is no Docker socket.
func Mounts(workspace, runnerTemp string) []Mount {
	return []Mount{
		{Host: runnerTemp, Container: "/github/runner_temp"},
		{Host: filepath.Join(runnerTemp, "_github_home"), Container: "/github/home"},
		{Host: filepath.Join(runnerTemp, "_github_workflow"), Container: "/github/workflow"},
		{Host: filepath.Join(runnerTemp, "_runner_file_commands"), Container: "/github/file_commands"},
		{Host: workspace, Container: "/github/workspace"},
	}
}

// TranslatePath rewrites a host path (or any value starting with one) to
// the container path of the longest mount that contains it, as the runner
// does for environment values. Other values are returned unchanged.
func TranslatePath(value string, mounts []Mount) string {
	best := -1
	for i, m := range mounts {
		if m.Host == "" {
			continue
		}
		if value == m.Host || strings.HasPrefix(value, m.Host+"/") {
			if best < 0 || len(m.Host) > len(mounts[best].Host) {
				best = i
			}
		}
	}
	if best < 0 {
		return value
	}
	return mounts[best].Container + value[len(mounts[best].Host):]
}

// RunOptions describes one `docker run` of an action stage.
type RunOptions struct {
	// Workspace and RunnerTemp are the host folders mounted as
	// /github/workspace and /github/runner_temp (with its subfolders).
	Workspace, RunnerTemp string
	// Env is the step's environment as NAME=VALUE with host values; values
	// that start with a mounted host path are rewritten.
	Env []string
	// Args follow the image name (runs.args, evaluated, not rewritten).
	Args []string
	// Entrypoint, when set, is passed as --entrypoint (the post stage).
	Entrypoint string
	// Network is the --network value; empty means "host", so the container
	// reaches services on the host's 127.0.0.1.
	Network string
	// Stdout and Stderr receive the container's output as it happens.
	Stdout, Stderr io.Writer
}

// RunResult is the outcome of Run.
type RunResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
	Duration time.Duration
	// Args is podman's command line (values of -e are not on it).
	Args []string
}

// podmanOwnVars are variables podman itself reads from its environment;
// a container value for them is passed as -e NAME=VALUE instead of through
// podman's environment.
var podmanOwnVars = map[string]bool{
	"PATH": true, "HOME": true, "TMPDIR": true, "USER": true, "LANG": true,
	"XDG_RUNTIME_DIR": true, "XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true,
	"CONTAINERS_CONF": true, "CONTAINERS_REGISTRIES_CONF": true, "CONTAINERS_STORAGE_CONF": true,
	"CONTAINER_HOST": true, "CONTAINER_CONNECTION": true, "DOCKER_HOST": true,
}

// RunCommand returns podman's arguments and process environment for opts:
// the runner's flags, `-e NAME` for every variable with its (rewritten)
// value in the returned environment, which starts from base.
func RunCommand(image string, opts RunOptions, base []string) (args, env []string) {
	mounts := Mounts(opts.Workspace, opts.RunnerTemp)
	args = []string{"run", "--workdir", "/github/workspace", "--rm"}
	vars := map[string]string{}
	var names []string
	for _, kv := range opts.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if _, seen := vars[name]; !seen {
			names = append(names, name)
		}
		vars[name] = TranslatePath(value, mounts)
	}
	env = make([]string, 0, len(base)+len(names))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, overridden := vars[name]; overridden && !podmanOwnVars[name] {
			continue
		}
		env = append(env, kv)
	}
	for _, name := range names {
		if podmanOwnVars[name] {
			args = append(args, "-e", name+"="+vars[name])
			continue
		}
		args = append(args, "-e", name)
		env = append(env, name+"="+vars[name])
	}
	for _, m := range mounts {
		args = append(args, "-v", m.Host+":"+m.Container)
	}
	network := opts.Network
	if network == "" {
		network = "host"
	}
	args = append(args, "--network="+network)
	if opts.Entrypoint != "" {
		args = append(args, "--entrypoint", opts.Entrypoint)
	}
	args = append(args, image)
	args = append(args, opts.Args...)
	return args, env
}

// ErrEngine marks a failure of podman itself (exit status 125), as opposed
// to the container's own exit status.
var ErrEngine = errors.New("podman failed to run the container")

// Run runs image like the runner's `docker run` for a container action and
// waits for it. A non-zero exit status of the container is reported in
// RunResult.ExitCode, not as an error; an error means podman could not run
// the container (it wraps ErrEngine when podman exits with 125).
func (e *Engine) Run(ctx context.Context, image string, opts RunOptions) (*RunResult, error) {
	if opts.Workspace == "" || opts.RunnerTemp == "" {
		return nil, fmt.Errorf("container run: workspace and runner temp folders are required")
	}
	args, env := RunCommand(image, opts, os.Environ())
	args = append(append([]string{args[0]}, e.labelArgs()...), args[1:]...)
	cmd := exec.CommandContext(ctx, e.Podman, args...)
	cmd.Env = e.environ(env)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = teeTo(&stdout, opts.Stdout)
	cmd.Stderr = teeTo(&stderr, opts.Stderr)
	start := time.Now()
	err := cmd.Run()
	res := &RunResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Duration: time.Since(start), Args: args}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		res.ExitCode = exitErr.ExitCode()
		if res.ExitCode == 125 {
			return res, fmt.Errorf("%w: %s", ErrEngine, strings.TrimSpace(tail(stderr.String(), 2000)))
		}
	default:
		return res, fmt.Errorf("podman run %s: %w", image, err)
	}
	return res, nil
}

func teeTo(buf *bytes.Buffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// baseFormat changes whenever the layout of the base image changes, so a
// cached image of an older layout is rebuilt.
const baseFormat = "cargo-oidc-base/2"

// baseLabel is the image label holding the base image's content hash.
const baseLabel = "io.github.cargo-oidc.e2e.base-hash"

// BaseImageName returns the fully qualified name Podman resolves the first
// FROM of a Dockerfile to ("golang:1.26" => "docker.io/library/golang:1.26"),
// and "" when the first stage is FROM scratch.
func BaseImageName(dockerfile []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(dockerfile))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		fields = fields[1:]
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fields = fields[1:]
		}
		if len(fields) == 0 {
			return "", fmt.Errorf("dockerfile: FROM without an image")
		}
		if fields[0] == "scratch" {
			return "", nil
		}
		return NormalizeImageName(fields[0]), nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("dockerfile: no FROM line")
}

// NormalizeImageName qualifies a short image name the way Docker and
// Podman's Docker compatibility do: "golang:1.26" =>
// "docker.io/library/golang:1.26", "org/img" => "docker.io/org/img:latest".
func NormalizeImageName(name string) string {
	first, _, hasSlash := strings.Cut(name, "/")
	if !hasSlash {
		name = "docker.io/library/" + name
	} else if !strings.ContainsAny(first, ".:") && first != "localhost" {
		name = "docker.io/" + name
	}
	last := name[strings.LastIndex(name, "/")+1:]
	if !strings.Contains(last, ":") && !strings.Contains(last, "@") {
		name += ":latest"
	}
	return name
}

// BaseImage describes the locally made build-stage base image.
type BaseImage struct {
	Name     string        // e.g. docker.io/library/golang:1.26
	Hash     string        // content hash of its inputs (label io.github.cargo-oidc.e2e.base-hash)
	Created  bool          // false when an image with the same hash existed
	Duration time.Duration // time spent, including the check
	Modules  int           // module files in /goproxy
}

// EnsureBaseImage makes the image that dockerfilePath's first FROM names,
// since nothing can be pulled: a root filesystem with the machine's Go
// toolchain at /usr/local/go, busybox (from Debian's busybox-static) with
// its applets in /bin for RUN lines, the CA bundle, /tmp, and a file-based
// module proxy at /goproxy holding the module files that moduleDir's go.sum
// needs (from the host's module cache, filled first with `go mod download`
// on a copy of go.mod and go.sum). The image's environment mirrors the
// official golang image (GOPATH=/go, GOTOOLCHAIN=local, PATH) plus
// GOPROXY=file:///goproxy and GOSUMDB=off; go.sum still pins every hash.
//
// The image is labelled with a hash of all of that and rebuilt only when
// the hash changes, so repeated calls cost one `podman image inspect`.
// Concurrent callers are serialised with a lock file.
func (e *Engine) EnsureBaseImage(ctx context.Context, dockerfilePath, moduleDir string) (*BaseImage, error) {
	start := time.Now()
	df, err := os.ReadFile(dockerfilePath)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	name, err := BaseImageName(df)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfilePath, err)
	}
	if name == "" {
		return &BaseImage{Duration: time.Since(start)}, nil
	}
	src, err := collectBaseSources(ctx, moduleDir)
	if err != nil {
		return nil, err
	}
	hash := src.hash(name)
	res := &BaseImage{Name: name, Hash: hash, Modules: len(src.modules)}

	unlock, err := lockFile(ctx, filepath.Join(e.Dir, "base-image.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if e.imageLabel(ctx, name, baseLabel) == hash {
		res.Duration = time.Since(start)
		return res, nil
	}
	if err := e.importBase(ctx, name, hash, src); err != nil {
		return nil, err
	}
	res.Created = true
	res.Duration = time.Since(start)
	e.logf("base image: %s made from %s and %d module files in %s", name, src.goroot, len(src.modules), res.Duration.Round(10*time.Millisecond))
	return res, nil
}

// imageLabel returns the image's label value, "" when the image or label is
// missing.
func (e *Engine) imageLabel(ctx context.Context, image, label string) string {
	out, err := e.output(ctx, "image", "inspect", "--format", `{{index .Labels "`+label+`"}}`, image)
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(out))
	if v == "<no value>" {
		return ""
	}
	return v
}

type baseSources struct {
	sys       *System
	goroot    string
	goVersion string
	modCache  string   // $GOMODCACHE/cache/download
	modules   []string // paths relative to modCache
	digest    []byte   // hash of the modules' identities
}

func (s *baseSources) hash(name string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", s.sys.Hash(baseFormat+"\n"+name+"\n"+s.goroot+"\n"+s.goVersion,
		filepath.Join(s.goroot, "VERSION"), filepath.Join(s.goroot, "bin", "go")), s.digest)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func collectBaseSources(ctx context.Context, moduleDir string) (*baseSources, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("base image: the go command is needed: %w", err)
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOROOT", "GOMODCACHE", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("base image: go env: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		return nil, fmt.Errorf("base image: unexpected `go env` output %q", out)
	}
	sys, err := HostSystem(ctx)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	s := &baseSources{sys: sys, goroot: lines[0], modCache: filepath.Join(lines[1], "cache", "download"), goVersion: lines[2]}
	digest := sha256.New()
	if moduleDir != "" {
		if s.modules, err = moduleFiles(ctx, goBin, moduleDir, s.modCache); err != nil {
			return nil, err
		}
		for _, m := range s.modules {
			fi, err := os.Stat(filepath.Join(s.modCache, m))
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(digest, "%s %d\n", m, fi.Size())
		}
	}
	s.digest = digest.Sum(nil)
	return s, nil
}

// moduleFiles fills the host module cache for moduleDir's go.mod (on a copy,
// so the repository is never changed) and returns the cache files the go.sum
// entries name, relative to modCache.
func moduleFiles(ctx context.Context, goBin, moduleDir, modCache string) ([]string, error) {
	gomod, err := os.ReadFile(filepath.Join(moduleDir, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	gosum, err := os.ReadFile(filepath.Join(moduleDir, "go.sum"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("base image: %w", err)
	}
	tmp, err := os.MkdirTemp("", "cargo-oidc-modules-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), gomod, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "go.sum"), gosum, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "all")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("base image: go mod download (to fill the module cache for the image's file proxy): %w\n%s", err, tail(string(out), 2000))
	}
	seen := map[string]bool{}
	var files []string
	for _, line := range strings.Split(string(gosum), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		mod, ver := f[0], strings.TrimSuffix(f[1], "/go.mod")
		dir := path.Join(escapeModulePath(mod), "@v")
		exts := []string{".info", ".mod", ".zip"}
		for _, ext := range exts {
			rel := path.Join(dir, escapeModulePath(ver)+ext)
			if seen[rel] {
				continue
			}
			if _, err := os.Stat(filepath.Join(modCache, filepath.FromSlash(rel))); err == nil {
				seen[rel] = true
				files = append(files, rel)
			}
		}
	}
	return files, nil
}

// escapeModulePath applies the module cache's case encoding: every
// upper-case letter becomes '!' and its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			b.WriteRune(r + ('a' - 'A'))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// importBase makes the base image: the System, the Go toolchain at
// /usr/local/go and the module files at /goproxy, with the official golang
// image's environment.
func (e *Engine) importBase(ctx context.Context, name, hash string, s *baseSources) error {
	changes := []string{
		"ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ENV GOLANG_VERSION=" + strings.TrimPrefix(s.goVersion, "go"),
		"ENV GOTOOLCHAIN=local", "ENV GOPATH=/go", "ENV GOPROXY=file:///goproxy", "ENV GOSUMDB=off",
		"WORKDIR /go", `CMD ["/bin/sh"]`, "LABEL " + baseLabel + "=" + hash,
	}
	return e.Import(ctx, name, s.sys, changes, func(t *Tar) error {
		for _, d := range []string{"go", "go/bin", "go/src"} {
			if err := t.Dir(d, 0o777); err != nil {
				return err
			}
		}
		if err := t.Tree(s.goroot, "usr/local/go", func(rel string) bool {
			return rel == "test" || strings.HasPrefix(rel, "test/")
		}); err != nil {
			return err
		}
		if err := t.Dir("goproxy", 0o755); err != nil {
			return err
		}
		for _, rel := range s.modules {
			if err := t.File("goproxy/"+rel, filepath.Join(s.modCache, filepath.FromSlash(rel)), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// System is the smallest Linux userland the tests' local images are made
// of, from the host's own files since nothing can be pulled: a static
// busybox with its applets in /bin, the CA bundle, and /etc/passwd, group,
// nsswitch.conf and hosts.
type System struct {
	Busybox string   // host path of a static busybox
	Applets []string // busybox --list, less busybox itself and bash
	CA      string   // host path of the CA bundle, "" when there is none
}

// HostSystem finds the host's static busybox, its applets and CA bundle.
func HostSystem(ctx context.Context) (*System, error) {
	s := &System{}
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			s.Busybox = p
			break
		}
	}
	if s.Busybox == "" {
		return nil, fmt.Errorf("busybox not found; install it with `apt-get install -y busybox-static`")
	}
	out, err := exec.CommandContext(ctx, s.Busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w (a static busybox is needed: apt-get install -y busybox-static)", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && a != "bash" && !strings.Contains(a, "/") {
			s.Applets = append(s.Applets, a)
		}
	}
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"} {
		if _, err := os.Stat(p); err == nil {
			s.CA = p
			break
		}
	}
	return s, nil
}

// Hash returns a short hash of format, the applets and the identity (path,
// size, modification time) of the system's files and of extra host files:
// an image tagged or labelled with it is made again when one changes.
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

// Tar writes a root filesystem: every entry owned by root, at a fixed time,
// parent folders made as needed.
type Tar struct {
	tw   *tar.Writer
	dirs map[string]bool
}

var epoch = time.Unix(0, 0)

// Dir adds the folder name (and its parents, 0755).
func (t *Tar) Dir(name string, mode int64) error {
	if t.dirs[name] || name == "." || name == "/" {
		return nil
	}
	if err := t.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	t.dirs[name] = true
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: epoch})
}

// Symlink adds name pointing at target.
func (t *Tar) Symlink(name, target string) error {
	if err := t.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch})
}

// Bytes adds a file holding data.
func (t *Tar) Bytes(name string, mode int64, data []byte) error {
	return t.copy(name, mode, int64(len(data)), bytes.NewReader(data))
}

// File adds the host file src (following symlinks) as name.
func (t *Tar) File(name, src string, mode int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return t.copy(name, mode, fi.Size(), f)
}

func (t *Tar) copy(name string, mode, size int64, r io.Reader) error {
	if err := t.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: epoch}); err != nil {
		return err
	}
	_, err := io.Copy(t.tw, r)
	return err
}

// Tree adds the host tree src under dst, keeping symlinks and modes; skip
// leaves out the paths (relative to src, slash-separated) it reports.
func (t *Tar) Tree(src, dst string, skip func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := path.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := int64(info.Mode().Perm())
		switch {
		case d.IsDir():
			return t.Dir(name, mode)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return t.Symlink(name, target)
		case info.Mode().IsRegular():
			return t.File(name, p, mode)
		}
		return nil
	})
}

// system adds the System's folders and files.
func (t *Tar) system(s *System) error {
	for _, d := range []struct {
		name string
		mode int64
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755}, {"usr/local/bin", 0o755},
		{"usr/local/sbin", 0o755}, {"etc/ssl/certs", 0o755}, {"root", 0o700}, {"home", 0o755}, {"opt", 0o755},
		{"tmp", 0o1777}, {"var/tmp", 0o1777}, {"var/run", 0o755},
	} {
		if err := t.Dir(d.name, d.mode); err != nil {
			return err
		}
	}
	if err := t.File("bin/busybox", s.Busybox, 0o755); err != nil {
		return err
	}
	for _, a := range s.Applets {
		if err := t.Symlink("bin/"+a, "busybox"); err != nil {
			return err
		}
	}
	if err := t.Symlink("usr/bin/env", "/bin/busybox"); err != nil {
		return err
	}
	for _, f := range [][2]string{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
		{"etc/nsswitch.conf", "hosts: files dns\n"},
		{"etc/hosts", "127.0.0.1 localhost\n"},
	} {
		if err := t.Bytes(f[0], 0o644, []byte(f[1])); err != nil {
			return err
		}
	}
	if s.CA == "" {
		return nil
	}
	return t.File("etc/ssl/certs/ca-certificates.crt", s.CA, 0o644)
}

// Import makes the image name with `podman import` from the System's files
// and what add writes, with the Dockerfile instructions changes (ENV, CMD,
// LABEL...).
func (e *Engine) Import(ctx context.Context, name string, s *System, changes []string, add func(*Tar) error) error {
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	cmd := e.Command(ctx, append(args, "-", name)...)
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("podman import: %w", err)
	}
	bw := bufio.NewWriterSize(pw, 1<<20)
	t := &Tar{tw: tar.NewWriter(bw), dirs: map[string]bool{}}
	werr := t.system(s)
	if werr == nil {
		werr = add(t)
	}
	if werr == nil {
		werr = t.tw.Close()
	}
	if werr == nil {
		werr = bw.Flush()
	}
	pw.CloseWithError(werr)
	err := cmd.Wait()
	if werr != nil {
		return fmt.Errorf("%s: write the root filesystem: %w", name, werr)
	}
	if err != nil {
		return fmt.Errorf("podman import %s: %w\n%s", name, err, tail(out.String(), 2000))
	}
	return nil
}
