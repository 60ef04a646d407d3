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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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

func (e *Engine) logf(format string, args ...any) {
	if e.Log == nil {
		return
	}
	e.logMu.Lock()
	defer e.logMu.Unlock()
	fmt.Fprintf(e.Log, format+"\n", args...)
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

// PruneDangling removes dangling images (old build stages and untagged
// results that repeated builds leave behind), keeping tagged images such as
// the base image. Call it at the end of a suite, not while another build
// may be running: an in-progress build's intermediate images can be
// dangling too.
func (e *Engine) PruneDangling(ctx context.Context) error {
	_, err := e.output(ctx, "image", "prune", "--force")
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
