// Package act runs GitHub Actions workflows with nektos/act, a second,
// independent implementation of the runner's rules, so the e2e suite does
// not rely on its own runner emulation (e2e/internal/runner) alone: act
// refuses what GitHub refuses (for example a context that action.yml may
// not use), builds a `runs.image: Dockerfile` action with `docker build`,
// runs it with its own mounts and environment, and parses workflow
// commands, outputs and GITHUB_ENV itself.
//
// There is no Docker engine on these machines, so act talks to Podman's
// Docker API (`podman system service`, configured by e2e/internal/container)
// through DOCKER_HOST. Nothing can be pulled: the job image is made locally
// (EnsureJobImage) and act runs with --action-offline-mode and --pull=false;
// an action whose Dockerfile starts FROM an image other than scratch needs
// that image made first (container.Engine.EnsureBaseImage). Jobs use the
// host's network (--network host), so the fake services can listen on
// 127.0.0.1 only.
//
// Typical use:
//
//	r, err := act.Start(ctx, engine, act.Options{Toolchain: dir})
//	defer r.Close()
//	res, err := r.Run(ctx, act.Run{Dir: repo, Workflow: ".github/workflows/ci.yml",
//		Env: map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": url}})
//	if res.Failed() { ... res.Output ... }
//
// Where act v0.2.89 differs from GitHub's runner for a container action
// (checked in act's source, pkg/runner/action.go and run_context.go):
//   - The post-entrypoint gets no STATE_* variables: act restores saved
//     state for node actions only. A container action's post stage cannot
//     find what its main stage saved.
//   - The action's container gets no HOME shared with the job: GitHub mounts
//     $RUNNER_TEMP/_github_home at /github/home, act leaves HOME to the
//     image (/root), which is gone when the step ends.
//   - RUNNER_TEMP is /tmp in the job and in the action's container, and is
//     not shared between them; GitHub mounts runner.temp at
//     /github/runner_temp (runner v2.331.0 and later).
//   - The workspace keeps its host path in every container (with --bind),
//     where GitHub mounts it at /github/workspace; file commands live under
//     /var/run/act.
//   - Every input of the action arrives as INPUT_<NAME>, also one without a
//     default that the step does not set (as ""); GitHub sets only inputs
//     that have a value or a default.
//
// The runner emulation keeps GitHub's behaviour for these (post stage with
// STATE_*, HOME at /github/home, runner.temp mounted), and the action fails
// clearly where act's layout cannot deliver what was asked.
//
// act tags the image it builds for a local `uses: ./` action
// act-dockeraction:latest (rebuilding it in every stage, --rebuild being
// act's default: 10-30 s each under load), so two checkouts running act on
// one machine at the same time can race on that tag. Tests therefore let
// act build the Dockerfile in one job only, and otherwise build the image
// once (BuildActionImage) and point a copy of action.yml at it
// (UsePrebuiltImage: `image: docker://<local tag>`, which act with
// --pull=false takes from the local store, as act's
// pkg/container/docker_pull.go does when the image exists).
//
// Every container act starts carries the engine's labels (see
// harness.Session), every act process and the Podman service are recorded
// with Options.Session, and every Run has a deadline whose error names the
// workflow (*harness.SlowError).
package act

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
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
			p := filepath.Join(dir, "bin", "act")
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
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
	// Toolchain is a host folder holding a Rust toolchain (bin/cargo,
	// bin/rustc, lib/) that jobs mount read-only; its shared libraries
	// from the host are put into the job image. Empty: no toolchain.
	Toolchain string
	// Log receives progress lines (service start, job image). Nil discards.
	Log io.Writer
	// Session, when set, records the Podman service and every act process
	// (harness.Session.Track), so that a later run kills them if this
	// one is killed.
	Session *harness.Session
}

// Runner runs workflows with act over one Podman API service. Its methods
// are safe for concurrent use.
type Runner struct {
	// Act is the act executable.
	Act string
	// Engine is the Podman configuration the service runs with.
	Engine *container.Engine
	// Socket is the Podman API socket (DOCKER_HOST=unix://Socket).
	Socket string
	// JobImage is the local image jobs with runs-on: ubuntu-latest use.
	JobImage string
	// Toolchain is Options.Toolchain.
	Toolchain string

	dir     string
	session *harness.Session
	service *exec.Cmd
	done    chan struct{}
	svcOut  *bytes.Buffer
	logMu   sync.Mutex
	log     io.Writer
}

// Start finds act, starts `podman system service` on a socket in a new
// temporary folder and makes the job image. Call Close when done.
func Start(ctx context.Context, e *container.Engine, opts Options) (r *Runner, err error) {
	actBin := opts.Act
	if actBin == "" {
		if actBin, err = Find(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "cargo-oidc-act-")
	if err != nil {
		return nil, err
	}
	r = &Runner{Act: actBin, Engine: e, Socket: filepath.Join(dir, "podman.sock"), Toolchain: opts.Toolchain,
		dir: dir, session: opts.Session, done: make(chan struct{}), svcOut: &bytes.Buffer{}, log: opts.Log}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	if r.JobImage, err = EnsureJobImage(ctx, e, opts.Toolchain); err != nil {
		return r, err
	}
	// The service outlives ctx (it is stopped by Close), so it does not
	// use exec.CommandContext.
	svc := e.Command(context.Background(), "system", "service", "--time=0", "unix://"+r.Socket)
	svc.Stdout, svc.Stderr = r.svcOut, r.svcOut
	if err := svc.Start(); err != nil {
		return r, fmt.Errorf("start podman system service: %w", err)
	}
	r.service = svc
	if err := r.session.Track(svc); err != nil {
		_ = svc.Process.Kill()
		return r, fmt.Errorf("record the podman service's pid: %w", err)
	}
	go func() { _ = svc.Wait(); r.session.Untrack(svc); close(r.done) }()
	if err := r.waitReady(ctx); err != nil {
		return r, err
	}
	r.logf("act: %s over Podman's Docker API at %s, job image %s", actBin, r.Socket, r.JobImage)
	return r, nil
}

// waitReady waits until the API answers /_ping.
func (r *Runner) waitReady(ctx context.Context) error {
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", r.Socket)
	}}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://podman/_ping", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-r.done:
			return fmt.Errorf("podman system service exited: %s", strings.TrimSpace(r.svcOut.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("podman system service at %s did not answer within 30s: %w", r.Socket, err)
		}
	}
}

// Close removes containers act left behind, stops the Podman service and
// removes the runner's folder.
func (r *Runner) Close() {
	if r.Engine != nil && r.dir != "" {
		r.removeContainers()
	}
	if r.service != nil && r.service.Process != nil {
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

func (r *Runner) logf(format string, args ...any) { container.Logf(&r.logMu, r.log, format, args...) }

// Mount is a bind mount into the job's containers (and the action's, since
// act passes --container-options to both).
type Mount struct {
	Host, Container string
	ReadOnly        bool
}

// Run describes one act run.
type Run struct {
	// Dir is the repository: the workspace, bind-mounted at its host path
	// (act --bind), holding the workflow and any local action. It must be a
	// git repository (see InitRepo).
	Dir string
	// Workflow is the workflow file, relative to Dir.
	Workflow string
	// Event is the event that triggers it; default "push".
	Event string
	// Job runs only the job with this id (-j); empty runs every job.
	Job string
	// Matrix keeps only the matrix combinations with these values
	// (--matrix key:value), for example os: ubuntu-latest of a job over
	// three runner OSes.
	Matrix map[string]string
	// LocalRepositories replace remote actions (OWNER/REPO@REF) with local
	// folders (--local-repository), so that act, which fetches every
	// action of a job before the first step, even one whose step will be
	// skipped, does not go to the network for them.
	LocalRepositories map[string]string
	// Env is passed with --env: every step and action sees it, as the
	// runner's job environment (ACTIONS_ID_TOKEN_REQUEST_URL and friends).
	Env map[string]string
	// Secrets are passed with -s (and masked by act).
	Secrets map[string]string
	// Mounts are added with --container-options "-v ...".
	Mounts []Mount
	// Timeout bounds the run; default 5 minutes. When it runs out, Run's
	// error is a *harness.SlowError naming the workflow.
	Timeout time.Duration
	// Output, when set, receives act's output as it happens.
	Output io.Writer
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

// StepLines returns the lines steps printed (act's "[workflow/job]   | "
// lines), without act's prefix, in order.
func (r *Result) StepLines() []string {
	var out []string
	for _, line := range strings.Split(r.Output, "\n") {
		if _, rest, ok := strings.Cut(line, "]   | "); ok && strings.HasPrefix(line, "[") {
			out = append(out, rest)
		}
	}
	return out
}

// Value returns the value of the first step line "KEY=value" (as printed
// by `echo "KEY=..."`), and whether there was one.
func (r *Result) Value(key string) (string, bool) {
	for _, line := range r.StepLines() {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Args returns act's command line (without the executable) for run.
func (r *Runner) Args(run Run) []string {
	event := run.Event
	if event == "" {
		event = "push"
	}
	args := []string{event, "-W", run.Workflow,
		"-P", "ubuntu-latest=" + r.JobImage,
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
	for _, k := range slices.Sorted(maps.Keys(run.Secrets)) {
		args = append(args, "-s", k+"="+run.Secrets[k])
	}
	// The labels let Close, and harness.Sweep after a killed run, remove
	// whatever act left behind.
	opts := []string{"--label " + ContainerLabel + "=" + r.id()}
	if r.Engine != nil {
		for _, l := range r.Engine.Labels {
			opts = append(opts, "--label "+l)
		}
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

// ContainerLabel labels every container act starts for a Runner, with the
// Runner's id as value.
const ContainerLabel = "io.github.cargo-oidc.e2e.act"

// id names the runner in container labels.
func (r *Runner) id() string { return filepath.Base(r.dir) }

// removeContainers removes the containers act started for this runner and
// left behind (act removes its own unless it is killed).
func (r *Runner) removeContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := r.Engine.Command(ctx, "ps", "-aq", "--filter", "label="+ContainerLabel+"="+r.id()).Output()
	if err != nil {
		return
	}
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = r.Engine.Command(ctx, append([]string{"rm", "-f"}, ids...)...).Run()
		r.logf("act: removed %d containers left behind", len(ids))
	}
}

// Run runs act in run.Dir. A failed job is in Result.ExitCode, not an
// error; an error means act could not run or timed out.
func (r *Runner) Run(ctx context.Context, run Run) (*Result, error) {
	if run.Dir == "" || run.Workflow == "" {
		return nil, errors.New("act: Run needs Dir and Workflow")
	}
	timeout := run.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	what := "act run of workflow " + run.Workflow
	if run.Job != "" {
		what += " (job " + run.Job + ")"
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, &harness.SlowError{What: what, Limit: timeout})
	defer cancel()
	home := filepath.Join(r.dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	if err := r.nameWorkflow(filepath.Join(run.Dir, run.Workflow)); err != nil {
		return nil, err
	}
	res := &Result{Args: r.Args(run)}
	cmd := exec.CommandContext(ctx, r.Act, res.Args...)
	cmd.Dir = run.Dir
	// act reads ~/.actrc and keeps caches under HOME: a folder of its own
	// keeps the machine's settings out of the test.
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+r.Socket, "HOME="+home,
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "NO_COLOR=1")
	var out bytes.Buffer
	var w io.Writer = &out
	if run.Output != nil {
		w = io.MultiWriter(&out, run.Output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		if terr := r.session.Track(cmd); terr != nil {
			r.logf("act: %v", terr)
		}
		err = cmd.Wait()
		r.session.Untrack(cmd)
	}
	res.Duration = time.Since(start)
	res.Output = out.String()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w (stopped after %s)", context.Cause(ctx), res.Duration.Round(time.Second))
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	case err != nil:
		return res, fmt.Errorf("act %s: %w", run.Workflow, err)
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
	name := r.id()
	loc := workflowName.FindSubmatchIndex(data)
	if loc == nil {
		return os.WriteFile(path, append([]byte("name: "+name+"\n"), data...), 0o644)
	}
	old := strings.Trim(string(data[loc[2]:loc[3]]), `"'`)
	if strings.HasSuffix(old, name) {
		return nil
	}
	line := fmt.Sprintf("name: %q", strings.TrimSpace(old+" "+name))
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

// CopyFiles copies the named files and folders (relative to src) into dst,
// keeping modes; folders are copied whole.
func CopyFiles(src, dst string, names ...string) error {
	for _, name := range names {
		root := filepath.Join(src, name)
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			target := filepath.Join(dst, rel)
			info, err := d.Info()
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.MkdirAll(target, 0o755)
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		})
		if err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
	}
	return nil
}

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

// ActionImageRepo is the repository of the action image the tests build
// once per run (BuildActionImage).
const ActionImageRepo = "localhost/cargo-oidc-test-action"

// BuildActionImage builds the Dockerfile in dir once, as the runner does,
// tagged ActionImageRepo:tag and labelled by the engine (so that a killed
// run's image is swept), and returns the image name. Tests then run the
// action from that image (UsePrebuiltImage) instead of letting act build
// the Dockerfile for every `uses: ./` and every post stage. The
// Dockerfile's FROM image must exist (container.Engine.EnsureBaseImage).
func BuildActionImage(ctx context.Context, e *container.Engine, dir, tag string) (string, error) {
	image := ActionImageRepo + ":" + tag
	if _, err := e.Build(ctx, dir, image); err != nil {
		return "", fmt.Errorf("build the action image once for every act run: %w", err)
	}
	return image, nil
}

// imageLine is action.yml's `runs.image: Dockerfile` line.
var imageLine = regexp.MustCompile(`(?m)^([ \t]+image:[ \t]*)['"]?Dockerfile['"]?[ \t]*$`)

// UsePrebuiltImage rewrites the action.yml at path so that `runs.image:
// Dockerfile` becomes `docker://image`: act (with --pull=false, as Run
// passes) then starts the local image instead of building the Dockerfile,
// as GitHub's runner does for a released action. Everything else of
// action.yml (inputs, args, env, post-entrypoint) is kept.
func UsePrebuiltImage(path, image string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if n := len(imageLine.FindAllIndex(data, -1)); n != 1 {
		return fmt.Errorf("%s: %d lines `image: Dockerfile`, want exactly 1; update UsePrebuiltImage to the action's layout", path, n)
	}
	out := imageLine.ReplaceAll(data, []byte("${1}docker://"+image))
	if bytes.Equal(out, data) {
		return fmt.Errorf("%s: runs.image was not rewritten", path)
	}
	return os.WriteFile(path, out, 0o644)
}
