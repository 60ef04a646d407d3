// Package act runs GitHub Actions workflows with nektos/act, a second,
// independent implementation of the runner's rules beside the emulation
// (e2e/internal/runner). Where act v0.2.89 differs from GitHub's runner
// for a container action is listed in the README's table.
//
// act talks to Podman's Docker API (`podman system service`) through
// DOCKER_HOST, as there is no Docker engine. Nothing can be pulled: the job
// image is made locally, and act runs with --action-offline-mode and
// --pull=false. Jobs use the host's network, so the fake services can
// listen on 127.0.0.1 only. act rebuilds a local `uses: ./` action in
// every stage (10-30 s each under load), tagged act-dockeraction:latest,
// on which two checkouts race, so tests let act build the Dockerfile in
// one job only and otherwise run the image built once (BuildActionImage,
// UsePrebuiltImage).
//
// Every container act starts carries the engine's labels, every act
// process and the Podman service are recorded with Options.Session, and
// every Run has a deadline whose error names the workflow.
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

// Version is the act release this package is written against; .ci/run
// installs it with `go install github.com/nektos/act@` + Version.
const Version = "v0.2.89"

// Find returns the act executable: $ACT if set, else act in PATH, else
// $(go env GOPATH)/bin/act. The error says how to install it.
func Find() (string, error) {
	if p := os.Getenv("ACT"); p != "" {
		return p, nil
	}
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
	// Act is the act executable; empty means Find.
	Act string
	// Toolchain is a host folder holding a Rust toolchain that jobs mount;
	// the host libraries it needs go into the job image. Empty: none.
	Toolchain string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Session, when set, records the Podman service and every act process,
	// so that a later run kills them if this one is killed.
	Session *harness.Session
}

// Runner runs workflows with act over one Podman API service. Its methods
// are safe for concurrent use.
type Runner struct {
	act, socket, jobImage string
	engine                *container.Engine
	dir                   string // socket, act's HOME; its name is the runner's id
	opts                  Options
	service               *exec.Cmd
	done                  chan struct{} // closed when the service has exited
}

// Start finds act, starts `podman system service` on a socket in a new
// temporary folder and makes the job image. Call Close when done.
func Start(ctx context.Context, e *container.Engine, opts Options) (r *Runner, err error) {
	if opts.Act == "" {
		if opts.Act, err = Find(); err != nil {
			return nil, err
		}
	}
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
	// The service outlives ctx: Close stops it.
	svc := e.Command(context.Background(), "system", "service", "--time=0", "unix://"+r.socket)
	var svcOut bytes.Buffer
	svc.Stdout, svc.Stderr = &svcOut, &svcOut
	if err := svc.Start(); err != nil {
		return r, fmt.Errorf("start podman system service: %w", err)
	}
	r.service = svc
	go func() { _ = svc.Wait(); opts.Session.Untrack(svc); close(r.done) }()
	if err := opts.Session.Track(svc); err != nil {
		return r, fmt.Errorf("record the podman service's pid: %w", err)
	}
	// The service answers once its socket accepts connections.
	for {
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

// Close stops the Podman service and removes the runner's folder.
// Containers act left behind are the session's to remove (they carry its
// label).
func (r *Runner) Close() {
	if r.service != nil {
		_ = r.service.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = r.service.Process.Kill()
			<-r.done
		}
	}
	_ = os.RemoveAll(r.dir)
}

func (r *Runner) logf(format string, args ...any) {
	if r.opts.Log != nil {
		fmt.Fprintf(r.opts.Log, format+"\n", args...)
	}
}

// Mount is a bind mount into the job's containers (and the action's, since
// act passes --container-options to both).
type Mount struct {
	Host, Container string
	ReadOnly        bool
}

// Run describes one act run of a push event.
type Run struct {
	// Dir is the repository: the workspace, bind-mounted at its host path
	// (act --bind), holding the workflow and any local action. It must be a
	// git repository (see InitRepo).
	Dir string
	// Workflow is the workflow file, relative to Dir.
	Workflow string
	// Job runs only the job with this id (-j); empty runs every job.
	Job string
	// Matrix keeps only the matrix combinations with these values.
	Matrix map[string]string
	// LocalRepositories replace remote actions (OWNER/REPO@REF) with local
	// folders: act fetches every action of a job before the first step.
	LocalRepositories map[string]string
	// Env is the job's environment, which every step and action sees.
	Env map[string]string
	// Mounts are added with --container-options "-v ...".
	Mounts []Mount
	// Timeout bounds the run; default 5 minutes. When it runs out, Run's
	// error is a *harness.SlowError naming the workflow.
	Timeout time.Duration
}

// Result is what an act run printed and how it ended.
type Result struct {
	// Args are act's arguments.
	Args []string
	// Output is act's combined stdout and stderr: every step's output
	// (with act's masking applied), annotations and act's own lines.
	Output   string
	ExitCode int
	Duration time.Duration
}

// Failed reports whether act exited non-zero (a job failed).
func (r *Result) Failed() bool { return r.ExitCode != 0 }

// Value returns the value of the first line "KEY=value" a step printed
// (act's "[workflow/job]   | KEY=value" lines), and whether there was one.
func (r *Result) Value(key string) (string, bool) {
	for _, line := range strings.Split(r.Output, "\n") {
		if _, rest, ok := strings.Cut(line, "]   | "+key+"="); ok && strings.HasPrefix(line, "[") {
			return rest, true
		}
	}
	return "", false
}

// args returns act's command line (without the executable) for run. Every
// container act starts carries the engine's labels, with which the session
// (and harness.Sweep after a killed run) removes what act left behind.
func (r *Runner) args(run Run) []string {
	args := []string{"push", "-W", run.Workflow,
		"-P", "ubuntu-latest=" + r.jobImage,
		"--action-offline-mode", "--pull=false", "--network", "host", "--bind", "--rm",
		"--no-cache-server", "--container-daemon-socket", "-"}
	if run.Job != "" {
		args = append(args, "-j", run.Job)
	}
	for _, k := range slices.Sorted(maps.Keys(run.Matrix)) {
		args = append(args, "--matrix", k+":"+run.Matrix[k])
	}
	for _, k := range slices.Sorted(maps.Keys(run.LocalRepositories)) {
		args = append(args, "--local-repository", k+"="+run.LocalRepositories[k])
	}
	for _, k := range slices.Sorted(maps.Keys(run.Env)) {
		args = append(args, "--env", k+"="+run.Env[k])
	}
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

// Run runs act in run.Dir. A failed job is in Result.ExitCode, not an
// error; an error means act could not run or timed out.
func (r *Runner) Run(ctx context.Context, run Run) (*Result, error) {
	if run.Dir == "" || run.Workflow == "" {
		return nil, errors.New("act: Run needs Dir and Workflow")
	}
	what := "act run of workflow " + run.Workflow
	if run.Job != "" {
		what += " (job " + run.Job + ")"
	}
	ctx, cancel := harness.Context(ctx, nil, what, cmp.Or(run.Timeout, 5*time.Minute))
	defer cancel()
	if err := r.nameWorkflow(filepath.Join(run.Dir, run.Workflow)); err != nil {
		return nil, err
	}
	res := &Result{Args: r.args(run)}
	cmd := exec.CommandContext(ctx, r.act, res.Args...)
	cmd.Dir = run.Dir
	// act reads ~/.actrc and keeps caches under HOME: a folder of its own
	// keeps the machine's settings out of the test.
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

// workflowName is a workflow's top-level name: line.
var workflowName = regexp.MustCompile(`(?m)^name:[ \t]*(.*?)[ \t]*$`)

// nameWorkflow puts the runner's id into the workflow's name. act names a
// job's containers after the workflow's and the job's names alone and
// removes a container of that name before it starts one, so two runs of
// one workflow at once (two checkouts on one machine) would remove each
// other's job containers.
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

// InitRepo makes dir a git repository with one commit of everything in it,
// since act reads the commit and ref from git.
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

// CopyFiles copies the named files and folders (relative to src) into dst;
// folders are copied whole, files keep their modes.
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

// jobImageFormat changes whenever the layout of the job image changes, so
// an image of an older layout is not reused.
const jobImageFormat = "cargo-oidc-act-job/3"

// JobPATH is the job image's PATH (that of GitHub's Ubuntu images, less
// what they install); a run that mounts tools elsewhere puts their folders
// before it.
const JobPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lddLine matches "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
// and "/lib64/ld-linux-x86-64.so.2 (0x...)".
var lddLine = regexp.MustCompile(`(?m)(?:=>\s*)?(/\S+)\s+\(0x`)

// EnsureJobImage makes the image act runs jobs in, since nothing can be
// pulled: the container.System (busybox and its applets, the CA bundle,
// /etc/passwd), a /bin/bash that runs busybox sh, and the host's shared libraries outside the toolchain that
// its cargo and rustc load, as ldd resolves them (empty toolchain: none).
// The image is tagged with a hash of those files' identities and made only
// when no image has that tag, so repeated calls cost one `podman image
// exists`.
func EnsureJobImage(ctx context.Context, e *container.Engine, toolchain string) (string, error) {
	sys, err := container.HostSystem(ctx)
	if err != nil {
		return "", fmt.Errorf("job image: %w", err)
	}
	exes, libs := []string{"cargo", "rustc"}, map[string]bool{}
	if toolchain == "" {
		exes = nil
	}
	for _, exe := range exes {
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
	if e.Log != nil {
		fmt.Fprintf(e.Log, "act job image: %s made in %s\n", name, time.Since(start).Round(10*time.Millisecond))
	}
	return name, nil
}

// BuildActionImage builds the Dockerfile in dir once, as the runner does,
// tagged localhost/cargo-oidc-test-action:tag (tag: the session's id, by
// which a killed run's image is swept), and returns the image name. The
// Dockerfile's FROM image must exist (container.Engine.EnsureBaseImage).
func BuildActionImage(ctx context.Context, e *container.Engine, dir, tag string) (string, error) {
	image := "localhost/cargo-oidc-test-action:" + tag
	if _, err := e.Build(ctx, dir, image); err != nil {
		return "", fmt.Errorf("build the action image once for every act run: %w", err)
	}
	return image, nil
}

// imageLine is action.yml's `runs.image: Dockerfile` line.
var imageLine = regexp.MustCompile(`(?m)^([ \t]+image:[ \t]*)['"]?Dockerfile['"]?[ \t]*$`)

// UsePrebuiltImage rewrites the action.yml at path so that `runs.image:
// Dockerfile` becomes `docker://image`, which act (with --pull=false)
// starts from the local store; everything else of action.yml is kept.
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
