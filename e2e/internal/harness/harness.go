// Package harness builds the action's binary once per test process, finds
// the repository's root, and (through internal/testenv) decides what a test
// does when a tool it needs is missing, for the e2e tests, the benchmark and
// the playground.
//
// It also keeps the e2e tests bounded and tidy. Context and Budget give
// everything a test starts (act, podman, go build, cargo) a deadline below
// go test's -timeout, so a slow run fails with a *SlowError naming what was
// slow instead of a goroutine dump. A Session (Begin, from TestMain) puts
// every temporary folder of the test process under one folder
// os.TempDir()/cargo-oidc-test-NAME-*, records the pids of long-lived
// processes (the Podman service, act) there, labels containers
// (cargo-oidc-test=1, cargo-oidc-test.run=<session>) and tags images with
// the session's id, which names its owner (pid and start time), so that a
// sweep judges a session by whether that process still runs, wherever the
// sweeper's TMPDIR is; Begin first sweeps what killed sessions left, and
// Close (also on SIGINT/SIGTERM) removes what this one made.
package harness

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// RepoRoot returns the repository's root: the nearest parent of the working
// directory holding action.yml and go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "action.yml")) && fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no action.yml and go.mod above the working directory")
		}
		dir = parent
	}
}

// Root is RepoRoot for a test, which fails when there is none.
func Root(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds cargo-oidc as the Dockerfile does (static, stripped) into a
// temporary folder, once per process, and returns its path. The folder is
// removed by Cleanup.
func Binary() (string, error) {
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "cargo-oidc-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "cargo-oidc")
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "nethttpomithttp2", "-ldflags", "-s -w -X main.version=e2e", "-o", buildPath, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	return buildPath, buildErr
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if buildPath != "" {
		_ = os.RemoveAll(filepath.Dir(buildPath))
	}
}

// Require is testenv.Require: outside CI a test that lacks what it needs is
// skipped with the reason printed; under CI=true it fails.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	testenv.Require(t, what, err)
}

// Tool is testenv.Tool: the path of the executable name found in PATH, or
// the test stops through Require; install says how to get it.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	return testenv.Tool(t, name, install)
}

// Output runs cmd with empty standard input and its output captured, and
// returns stdout, stderr and the exit status. err is set only when cmd
// could not run (an exit status other than 0 is not an error).
func Output(cmd *exec.Cmd) (stdout, stderr string, code int, err error) {
	var out, errOut bytes.Buffer
	if cmd.Stdin == nil {
		cmd.Stdin = bytes.NewReader(nil)
	}
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	return out.String(), errOut.String(), code, err
}

// Command runs the main function of an e2e command (bench, playground,
// fakeserver): run gets a context that ends on SIGINT or SIGTERM, the
// arguments and stdout; the built binary is removed afterwards. It returns
// the exit status for main's os.Exit: 0 on success and for -help
// (flag.ErrHelp), else 1 with the error printed as "name: error".
func Command(name string, run func(ctx context.Context, args []string, stdout io.Writer) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	Cleanup()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	return 1
}

// Prefix starts the name of every session folder (os.TempDir()/Prefix*),
// so what a killed run left is easy to find and sweep.
const Prefix = "cargo-oidc-test-"

// Label marks (=1) every container and image the e2e tests make through
// Podman; RunLabel holds the id of the session that made a container. An
// image of a session is tagged with the session's id (NAME:ID) instead:
// a per-session label would land on every build stage, and removing those
// would empty the build cache.
const (
	Label    = "cargo-oidc-test"
	RunLabel = "cargo-oidc-test.run"
)

// RunEnv is the environment variable through which a session tells the
// processes and packages of its test process its id (container.New reads
// it to label what Podman builds and runs).
const RunEnv = "CARGO_OIDC_TEST_RUN"

// StaleCache is the age from which Sweep prunes the tests' build-cache
// images (dangling build stages labelled Label=1).
const StaleCache = 24 * time.Hour

// Podman runs podman with the tests' configuration (container.Engine's
// Command); Sweep and Session.Close use it to remove labelled containers and
// images. Nil: Podman is not used.
type Podman func(ctx context.Context, args ...string) *exec.Cmd

// Session is one test process's claim on the machine: a folder under
// os.TempDir() named Prefix+name+"-*" holding every temporary folder of the
// process (TMPDIR points into it, so t.TempDir and os.MkdirTemp land there),
// the owner's pid, and a pid file for every long-lived process it started.
// Begin sweeps up what killed sessions left; Close removes what this one
// made.
type Session struct {
	// ID is the session folder's base name, the value of RunLabel.
	ID string
	// Dir is the session folder.
	Dir string

	podman    Podman
	oldTmp    string
	hadTmp    bool
	closeOnce sync.Once
	stop      chan struct{}
}

// Begin sweeps what earlier, killed sessions left (Sweep), then starts a
// session for this test process: it makes the session folder, records the
// owner, and points TMPDIR and RunEnv at the session. Call Close when the
// tests are done, and CloseOnSignal to clean up on an interrupt too.
func Begin(name string, podman Podman, log io.Writer) (*Session, error) {
	base := os.TempDir()
	for _, line := range Sweep(base, podman) {
		fmt.Fprintln(log, "harness: swept", line)
	}
	owner, ok := processIdentity(os.Getpid())
	if !ok {
		owner = strconv.Itoa(os.Getpid())
	}
	// The id names the owner ("pid-starttime"), so that any sweeper can
	// tell a live session from a dead one by the id alone (a container's
	// RunLabel, an image's tag), wherever its folder is.
	dir, err := os.MkdirTemp(base, Prefix+name+"-"+strings.ReplaceAll(owner, " ", "-")+"-")
	if err != nil {
		return nil, fmt.Errorf("make the session folder: %w", err)
	}
	s := &Session{ID: filepath.Base(dir), Dir: dir, podman: podman, stop: make(chan struct{})}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(owner+"\n"), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("record the session's owner: %w", err)
	}
	for _, sub := range []string{"pids", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("make the session folder: %w", err)
		}
	}
	s.oldTmp, s.hadTmp = os.LookupEnv("TMPDIR")
	_ = os.Setenv("TMPDIR", filepath.Join(dir, "tmp"))
	_ = os.Setenv(RunEnv, s.ID)
	return s, nil
}

// Track records a started process (cmd.Process must be set) so that a
// later session kills it if this one is killed first. Call Untrack after
// Wait.
func (s *Session) Track(cmd *exec.Cmd) error {
	if s == nil || cmd.Process == nil {
		return nil
	}
	return os.WriteFile(s.pidFile(cmd.Process.Pid), []byte(strings.Join(cmd.Args, "\x00")), 0o600)
}

// Untrack forgets a process recorded by Track.
func (s *Session) Untrack(cmd *exec.Cmd) {
	if s == nil || cmd.Process == nil {
		return
	}
	_ = os.Remove(s.pidFile(cmd.Process.Pid))
}

func (s *Session) pidFile(pid int) string {
	return filepath.Join(s.Dir, "pids", strconv.Itoa(pid))
}

// CloseOnSignal closes the session when the process gets SIGINT or SIGTERM
// and then calls exit (TestMain passes a function that calls os.Exit).
func (s *Session) CloseOnSignal(exit func(sig os.Signal)) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(os.Stderr, "harness: %v: cleaning up session %s\n", sig, s.ID)
			s.Close()
			exit(sig)
		case <-s.stop:
			signal.Stop(ch)
		}
	}()
}

// Close kills the processes still recorded, removes the session's labelled
// containers and images and its folder, and restores TMPDIR. It is safe to
// call more than once and from a signal handler.
func (s *Session) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		sweepSession(s.Dir, s.ID, s.podman)
		if s.hadTmp {
			_ = os.Setenv("TMPDIR", s.oldTmp)
		} else {
			_ = os.Unsetenv("TMPDIR")
		}
		_ = os.Unsetenv(RunEnv)
	})
}

// Sweep removes what sessions under base left when their test process died
// without closing them (killed, or stopped by go test's timeout): it kills
// the processes they recorded (only when the pid still runs the recorded
// command line), removes their labelled containers and images, and their
// folders. Sessions whose owner still runs are left alone, as are labelled
// containers of a session whose folder still exists. It returns one line
// per thing removed.
func Sweep(base string, podman Podman) []string {
	var swept []string
	live := map[string]bool{}
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), Prefix) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if ownerAlive(dir) {
			live[e.Name()] = true
			continue
		}
		swept = append(swept, sweepSession(dir, e.Name(), podman)...)
	}
	if podman == nil {
		return swept
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Build stages (podman's build cache, labelled Label=1 by
	// container.Engine.Build) that no build has made for a day: stale
	// cache, 400 MB each. Fresh ones may belong to a build under way.
	if out, err := podman(ctx, "image", "prune", "--force", "--filter", "label="+Label+"=1", "--filter", "until="+StaleCache.String()).Output(); err == nil {
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			swept = append(swept, fmt.Sprintf("%d build-cache images older than %s", len(ids), StaleCache))
		}
	}
	// Containers and images of sessions whose folder is already gone.
	for _, kind := range []struct{ list, rm []string }{
		{[]string{"ps", "-a", "--format", `{{.ID}} {{index .Labels "` + RunLabel + `"}}`}, []string{"rm", "-f"}},
		// Images by name, not by ID: another process's image can share
		// the ID (the same build under another tag), and rmi of an ID
		// removes every tag of it.
		{[]string{"images", "--format", "{{.Repository}}:{{.Tag}} {{.Tag}}"}, []string{"rmi", "--ignore"}},
	} {
		args := append(append([]string{}, kind.list...), "--filter", "label="+Label+"=1")
		out, err := podman(ctx, args...).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			id, run, _ := strings.Cut(strings.TrimSpace(line), " ")
			if id == "" || !strings.HasPrefix(run, Prefix) || live[run] {
				continue
			}
			// Judge by the owner the id names, not by the folder: a
			// session's folder need not be under this base (a test that
			// runs `go test -list` starts a sweeper whose TMPDIR is inside
			// its own session), and a live session found nowhere here
			// must keep its containers and images.
			if alive, known := idOwnerAlive(run); alive || (!known && dirExists(filepath.Join(base, run))) {
				continue
			}
			if podman(ctx, append(append([]string{}, kind.rm...), id)...).Run() == nil {
				swept = append(swept, fmt.Sprintf("%s %s of session %s", kind.list[0], id, run))
			}
		}
	}
	return swept
}

// sweepSession kills the recorded processes of session dir (id), removes
// its labelled containers and images, then the folder.
func sweepSession(dir, id string, podman Podman) []string {
	var swept []string
	pids, _ := os.ReadDir(filepath.Join(dir, "pids"))
	for _, p := range pids {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		want, err := os.ReadFile(filepath.Join(dir, "pids", p.Name()))
		if err != nil {
			continue
		}
		got, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || string(bytes.TrimSuffix(got, []byte{0})) != string(want) {
			continue // gone, or the pid now runs something else
		}
		if proc, err := os.FindProcess(pid); err == nil && proc.Kill() == nil {
			swept = append(swept, fmt.Sprintf("process %d (%s)", pid, strings.ReplaceAll(string(want), "\x00", " ")))
			waitGone(pid, 5*time.Second)
		}
	}
	if podman != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, kind := range []struct {
			what     string
			list, rm []string
		}{
			{"containers", []string{"ps", "-aq", "--filter", "label=" + RunLabel + "=" + id}, []string{"rm", "-f"}},
			// By name (rmi of an ID would remove every tag of an image
			// another process built the same way).
			{"images", []string{"images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "label=" + Label + "=1", "--filter", "reference=*:" + id}, []string{"rmi", "--ignore"}},
		} {
			out, err := podman(ctx, kind.list...).Output()
			if ids := strings.Fields(string(out)); err == nil && len(ids) > 0 {
				if podman(ctx, append(append([]string{}, kind.rm...), ids...)...).Run() == nil {
					swept = append(swept, fmt.Sprintf("%d %s of session %s", len(ids), kind.what, id))
				}
			}
		}
	}
	if err := os.RemoveAll(dir); err == nil {
		swept = append(swept, "folder "+dir)
	}
	return swept
}

// waitGone waits until /proc/pid disappears (or the process is a zombie
// of ours, which the runtime reaps) or d passes.
func waitGone(pid int, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ownerAlive reports whether the process that made session dir still
// runs. Without /proc (not Linux) every session counts as alive, so
// nothing is swept.
func ownerAlive(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		// Just made, owner not written yet, or not a session: judge by age.
		fi, serr := os.Stat(dir)
		return serr == nil && time.Since(fi.ModTime()) < time.Minute
	}
	if _, err := os.Stat("/proc/self"); err != nil {
		return true
	}
	owner := strings.TrimSpace(string(data))
	pidText, _, _ := strings.Cut(owner, " ")
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return false
	}
	now, ok := processIdentity(pid)
	return ok && now == owner
}

// idOwnerAlive reports whether the process a session id names
// (Prefix+NAME-PID-STARTTIME-RANDOM, as Begin makes it) still runs; known
// is false for an id in another form. Without /proc every session counts
// as alive.
func idOwnerAlive(id string) (alive, known bool) {
	f := strings.Split(id, "-")
	if len(f) < 4 {
		return false, false
	}
	pid, start := f[len(f)-3], f[len(f)-2]
	if _, err := strconv.Atoi(pid); err != nil {
		return false, false
	}
	if _, err := strconv.ParseUint(start, 10, 64); err != nil {
		return false, false
	}
	if _, err := os.Stat("/proc/self"); err != nil {
		return true, true
	}
	n, _ := strconv.Atoi(pid)
	now, ok := processIdentity(n)
	return ok && now == pid+" "+start, true
}

func dirExists(p string) bool { fi, err := os.Stat(p); return err == nil && fi.IsDir() }

// processIdentity is "pid starttime" from /proc/pid/stat: a pid alone may
// be reused by a later process.
func processIdentity(pid int) (string, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", false
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return "", false
	}
	if fields[0] == "Z" {
		return "", false
	}
	return strconv.Itoa(pid) + " " + fields[19], true
}

// Margin is how long before go test's own deadline (-timeout) a bounded
// step must end, so that it fails with its name and the test's clean-up
// still runs, instead of go test panicking with a goroutine dump.
const Margin = 45 * time.Second

// deadliner is what *testing.T offers (testing.TB does not).
type deadliner interface {
	Deadline() (time.Time, bool)
}

// Budget returns max, or less when the test's deadline (go test -timeout)
// comes sooner: the time left before it minus Margin (at least half of the
// time left). t may be any testing.TB; only a *testing.T has a deadline.
func Budget(t any, max time.Duration) time.Duration {
	return budget(t, max, time.Now())
}

func budget(t any, max time.Duration, now time.Time) time.Duration {
	d, ok := t.(deadliner)
	if !ok {
		return max
	}
	end, ok := d.Deadline()
	if !ok {
		return max
	}
	left := end.Sub(now)
	b := left - Margin
	if b < left/2 {
		b = left / 2
	}
	return min(max, b)
}

// SlowError is the cause of a context made by Context when its time ran
// out: it names what was slow and how long it had.
type SlowError struct {
	What  string
	Limit time.Duration
}

func (e *SlowError) Error() string {
	return fmt.Sprintf("%s did not finish in %s; the machine may be overloaded: run it alone or raise go test -timeout", e.What, e.Limit)
}

// Is makes errors.Is(err, context.DeadlineExceeded) hold for a SlowError.
func (e *SlowError) Is(target error) bool { return target == context.DeadlineExceeded }

// Context returns a context derived from parent that ends after
// Budget(t, max), with a *SlowError naming what as its cause. Report a
// failure through Err(ctx, err) so that the name reaches the test's log.
func Context(parent context.Context, t any, what string, max time.Duration) (context.Context, context.CancelFunc) {
	limit := Budget(t, max)
	return context.WithTimeoutCause(parent, limit, &SlowError{What: what, Limit: limit})
}

// Err returns err, or, when ctx has ended, the reason it ended (a
// *SlowError for a context from Context) wrapping err.
func Err(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if cause == nil {
		return err
	}
	if err == nil || errors.Is(err, cause) {
		return cause
	}
	return fmt.Errorf("%w (%v)", cause, err)
}

// ListOnly reports whether the test binary was started only to list its
// tests (go test -list, which the README check runs for every pattern):
// a TestMain then runs m.Run alone, with no sweep and no build. Call it
// from TestMain; it parses the command line.
func ListOnly() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.list")
	return f != nil && f.Value.String() != ""
}
