// Package act runs workflows with nektos/act, a second runner beside
// e2e/internal/runner, over Podman's Docker API, offline, in a locally made
// job image. act rebuilds a local `uses: ./` action in every stage, as
// act-dockeraction:latest on which two checkouts race, so most tests run
// the image built once (BuildActionImage, UsePrebuiltImage).
package act

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// Version is the act release this package is written against (.ci/run).
const Version = "v0.2.89"

// Find returns act in PATH or $(go env GOPATH)/bin.
func Find() (string, error) {
	if p, err := exec.LookPath("act"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p, err := exec.LookPath(filepath.Join(dir, "bin", "act")); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("act not found in PATH or $(go env GOPATH)/bin; install it with `go install github.com/nektos/act@%s`", Version)
}

// Options configure Start.
type Options struct {
	Act       string           // the act binary (Find)
	Toolchain string           // a Rust toolchain jobs mount; its host libraries go into the job image
	Log       io.Writer        // progress lines; nil discards them
	Session   *harness.Session // records the Podman service and act processes
}

// Runner runs workflows with act over one Podman service, concurrently.
type Runner struct {
	act, socket, jobImage string
	engine                *container.Engine
	dir                   string // socket, act's HOME; its name is the runner's id
	opts                  Options
	stop                  context.CancelFunc // interrupts the service
	done                  chan struct{}      // closed when the service has exited
}

// Start makes the job image and starts `podman system service`; call Close.
func Start(ctx context.Context, e *container.Engine, opts Options) (r *Runner, err error) {
	dir, err := os.MkdirTemp("", "cargo-oidc-act-")
	if err != nil {
		return nil, err
	}
	r = &Runner{act: opts.Act, socket: filepath.Join(dir, "podman.sock"), engine: e, dir: dir, opts: opts, done: make(chan struct{})}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	if r.jobImage, err = EnsureJobImage(ctx, e, opts.Toolchain); err != nil {
		return r, err
	}
	// The service outlives ctx: Close interrupts it (killed after WaitDelay).
	svcCtx, stop := context.WithCancel(context.Background())
	svc := e.Command(svcCtx, "system", "service", "--time=0", "unix://"+r.socket)
	svc.Cancel = func() error { return svc.Process.Signal(os.Interrupt) }
	var svcOut bytes.Buffer
	svc.Stdout, svc.Stderr = &svcOut, &svcOut
	if err := svc.Start(); err != nil {
		stop()
		return r, fmt.Errorf("start podman system service: %w", err)
	}
	r.stop = stop
	go func() { _ = svc.Wait(); opts.Session.Untrack(svc); close(r.done) }()
	if err := opts.Session.Track(svc); err != nil {
		return r, fmt.Errorf("record the podman service's pid: %w", err)
	}
	for { // until the socket accepts connections
		conn, err := net.Dial("unix", r.socket)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case <-r.done:
			return r, fmt.Errorf("podman system service exited: %s", strings.TrimSpace(svcOut.String()))
		case <-ctx.Done():
			return r, fmt.Errorf("podman system service at %s: %w", r.socket, harness.Err(ctx, err))
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.logf("act: %s over Podman's Docker API at %s, job image %s", r.act, r.socket, r.jobImage)
	return r, nil
}

// Close stops the service and removes the folder; the session removes containers.
func (r *Runner) Close() {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	_ = os.RemoveAll(r.dir)
}

func (r *Runner) logf(format string, args ...any) {
	if r.opts.Log != nil {
		fmt.Fprintf(r.opts.Log, format+"\n", args...)
	}
}

// Mount is a bind mount into the job's and the action's containers.
type Mount struct {
	Host, Container string
	ReadOnly        bool
}

// Run describes one act run of a push event.
type Run struct {
	Dir               string            // the workspace, a git repository (InitRepo), mounted at its path
	Workflow          string            // relative to Dir
	Job               string            // -j; empty: every job
	Matrix            map[string]string // only the combinations with these values
	LocalRepositories map[string]string // OWNER/REPO@REF => local folder
	Env               map[string]string // the job's environment
	Mounts            []Mount
	Timeout           time.Duration // default 5 minutes; then a *harness.SlowError
}

// Result is what an act run printed and how it ended.
type Result struct {
	Output   string // act's stdout and stderr, masked by act
	ExitCode int
	Duration time.Duration
}

// Failed reports whether act exited non-zero (a job failed).
func (r *Result) Failed() bool { return r.ExitCode != 0 }

// Value returns the value of the first "KEY=value" line a step printed.
func (r *Result) Value(key string) (string, bool) {
	for _, line := range strings.Split(r.Output, "\n") {
		if _, rest, ok := strings.Cut(line, "]   | "+key+"="); ok && strings.HasPrefix(line, "[") {
			return rest, true
		}
	}
	return "", false
}

// args returns act's arguments; every container gets the engine's labels, for sweeps.
func (r *Runner) args(run Run) []string {
	args := []string{"push", "-W", run.Workflow,
		"-P", "ubuntu-latest=" + r.jobImage,
		"--action-offline-mode", "--pull=false", "--network", "host", "--bind", "--rm",
		"--no-cache-server", "--container-daemon-socket", "-"}
	if run.Job != "" {
		args = append(args, "-j", run.Job)
	}
	add := func(flag, sep string, m map[string]string) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			args = append(args, flag, k+sep+m[k])
		}
	}
	add("--matrix", ":", run.Matrix)
	add("--local-repository", "=", run.LocalRepositories)
	add("--env", "=", run.Env)
	var opts []string
	for _, l := range r.engine.Labels {
		opts = append(opts, "--label "+l)
	}
	for _, m := range run.Mounts {
		v := "-v " + m.Host + ":" + m.Container
		if m.ReadOnly {
			v += ":ro"
		}
		opts = append(opts, v)
	}
	return append(args, "--container-options", strings.Join(opts, " "))
}

// Run runs act; a failed job is in Result.ExitCode, not an error.
func (r *Runner) Run(ctx context.Context, run Run) (*Result, error) {
	what := "act run of workflow " + run.Workflow
	if run.Job != "" {
		what += " (job " + run.Job + ")"
	}
	ctx, cancel := harness.Context(ctx, nil, what, cmp.Or(run.Timeout, 5*time.Minute))
	defer cancel()
	if err := r.nameWorkflow(filepath.Join(run.Dir, run.Workflow)); err != nil {
		return nil, err
	}
	res := &Result{}
	cmd := exec.CommandContext(ctx, r.act, r.args(run)...)
	cmd.Dir = run.Dir
	// A HOME of its own keeps the machine's ~/.actrc and caches out.
	home := filepath.Join(r.dir, "home")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+r.socket, "HOME="+home,
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	_, _, code, err := harness.Exec(ctx, r.opts.Session, cmd)
	res.Output, res.ExitCode, res.Duration = out.String(), code, time.Since(start)
	if err != nil {
		return res, fmt.Errorf("act %s (stopped after %s): %w", run.Workflow, res.Duration.Round(time.Second), err)
	}
	r.logf("act: %s finished in %s (exit %d)", run.Workflow, res.Duration.Round(10*time.Millisecond), res.ExitCode)
	return res, nil
}

var workflowName = regexp.MustCompile(`(?m)^name:[ \t]*(.*?)[ \t]*$`)

// nameWorkflow puts the runner's id into the workflow's name: act names job containers after
// workflow and job and first removes one of that name, so two checkouts would remove each other's.
func (r *Runner) nameWorkflow(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // act says so
	} else if err != nil {
		return fmt.Errorf("act: %w", err)
	}
	id := filepath.Base(r.dir)
	loc := workflowName.FindSubmatchIndex(data)
	if loc == nil {
		return os.WriteFile(path, append([]byte("name: "+id+"\n"), data...), 0o644)
	}
	old := strings.Trim(string(data[loc[2]:loc[3]]), `"'`)
	if strings.HasSuffix(old, id) {
		return nil
	}
	line := fmt.Sprintf("name: %q", strings.TrimSpace(old+" "+id))
	return os.WriteFile(path, slices.Concat(data[:loc[0]], []byte(line), data[loc[1]:]), 0o644)
}

// InitRepo commits everything in dir to a new git repository, for act.
func InitRepo(ctx context.Context, dir string) error {
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "-q", "--no-gpg-sign", "-m", "e2e"},
	} {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s in %s: %w\n%s", args[0], dir, err, out)
		}
	}
	return nil
}

// CopyFiles copies the named files (with their modes) and folders to dst.
func CopyFiles(src, dst string, names ...string) error {
	for _, name := range names {
		from, to := filepath.Join(src, name), filepath.Join(dst, name)
		fi, err := os.Stat(from)
		if err == nil && fi.IsDir() {
			err = os.CopyFS(to, os.DirFS(from))
		} else if err == nil {
			var data []byte
			if data, err = os.ReadFile(from); err == nil {
				if err = os.MkdirAll(filepath.Dir(to), 0o755); err == nil {
					err = os.WriteFile(to, data, fi.Mode().Perm())
				}
			}
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
	}
	return nil
}

// jobImageFormat changes whenever the job image's layout changes.
const jobImageFormat = "cargo-oidc-act-job/3"

// JobPATH is the job image's PATH, as in GitHub's Ubuntu images.
const JobPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lddLine matches "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux... (0x...)".
var lddLine = regexp.MustCompile(`(?m)(?:=>\s*)?(/\S+)\s+\(0x`)

// EnsureJobImage makes the job image unless its tag (a hash) exists: System, bash as busybox sh, toolchain libs.
func EnsureJobImage(ctx context.Context, e *container.Engine, toolchain string) (string, error) {
	sys, err := container.HostSystem(ctx)
	if err != nil {
		return "", fmt.Errorf("job image: %w", err)
	}
	libs := map[string]bool{}
	for _, exe := range []string{"cargo", "rustc"} {
		out, err := exec.CommandContext(ctx, "ldd", filepath.Join(toolchain, "bin", exe)).Output()
		if err != nil {
			return "", fmt.Errorf("job image: ldd %s: %w", exe, err)
		}
		for _, m := range lddLine.FindAllStringSubmatch(string(out), -1) {
			if l := filepath.Clean(m[1]); !strings.HasPrefix(l, filepath.Clean(toolchain)+"/") {
				libs[l] = true
			}
		}
	}
	sorted := slices.Sorted(maps.Keys(libs))
	name := "localhost/cargo-oidc-act-job:" + sys.Hash(jobImageFormat, sorted...)[:16]
	if e.Command(ctx, "image", "exists", name).Run() == nil {
		return name, nil
	}
	// act runs `bash -e` for run: steps; busybox has no bash.
	script := "printf '#!/bin/sh\\nexec /bin/sh \"$@\"\\n' >/bin/bash\nchmod 755 /bin/bash\n"
	mounts := map[string]string{}
	for i, l := range sorted {
		mounts["lib"+strconv.Itoa(i)] = l
		script += fmt.Sprintf("mkdir -p '%s' && cp /.host/lib%d '%s'\n", filepath.Dir(l), i, l)
	}
	start := time.Now()
	if err := e.Image(ctx, name, sys, mounts, script, "ENV PATH="+JobPATH, `CMD ["/bin/sh"]`); err != nil {
		return "", fmt.Errorf("job image: %w", err)
	}
	e.Logf("act job image: %s made in %s", name, time.Since(start).Round(10*time.Millisecond))
	return name, nil
}

// BuildActionImage builds dir's Dockerfile tagged tag (the session id, for sweeps); FROM must exist.
func BuildActionImage(ctx context.Context, e *container.Engine, dir, tag string) (string, error) {
	image := "localhost/cargo-oidc-test-action:" + tag
	if _, err := e.Build(ctx, dir, image); err != nil {
		return "", fmt.Errorf("build the action image once for every act run: %w", err)
	}
	return image, nil
}

var imageLine = regexp.MustCompile(`(?m)^([ \t]+image:[ \t]*)['"]?Dockerfile['"]?[ \t]*$`)

// UsePrebuiltImage rewrites action.yml's `image: Dockerfile` to docker://image.
func UsePrebuiltImage(path, image string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if n := len(imageLine.FindAllIndex(data, -1)); n != 1 {
		return fmt.Errorf("%s: %d lines `image: Dockerfile`, want exactly 1; update UsePrebuiltImage to the action's layout", path, n)
	}
	return os.WriteFile(path, imageLine.ReplaceAll(data, []byte("${1}docker://"+image)), 0o644)
}
