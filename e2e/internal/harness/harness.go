// Package harness builds the action's binary once per test process, finds
// the repository's root, and (through internal/testenv) decides what a test
// does when a tool it needs is missing, for the e2e tests, the benchmark and
// the playground.
//
// It also keeps the e2e tests bounded and tidy. Context gives everything a
// test starts a deadline below go test's -timeout, so a slow run fails with
// a *SlowError naming what was slow instead of a goroutine dump; Exec runs
// a command within it. A Session (Begin, from TestMain) holds every
// temporary folder, long-lived process, container and image of the test
// process, under an id that names its owner; Begin first sweeps what killed
// sessions left, and Close (also on SIGINT/SIGTERM) removes what this one
// made.
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
		_, errA := os.Stat(filepath.Join(dir, "action.yml"))
		_, errG := os.Stat(filepath.Join(dir, "go.mod"))
		if errA == nil && errG == nil {
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
	return Exec(context.Background(), nil, cmd)
}

// Exec runs cmd (made with ctx) like Output, and also copies its output to
// cmd.Stdout and cmd.Stderr when they are set, gives it a WaitDelay so that
// a child holding the output open cannot outlive ctx, and records it in s
// while it runs (Track; s may be nil). err is set when cmd could not run
// or ctx ended; then it carries ctx's cause (Err), a *SlowError for a
// context from Context.
func Exec(ctx context.Context, s *Session, cmd *exec.Cmd) (stdout, stderr string, code int, err error) {
	var out, errOut bytes.Buffer
	if cmd.Stdin == nil {
		cmd.Stdin = bytes.NewReader(nil)
	}
	cmd.Stdout, cmd.Stderr = tee(&out, cmd.Stdout), tee(&errOut, cmd.Stderr)
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	if err = cmd.Start(); err == nil {
		if terr := s.Track(cmd); terr != nil {
			fmt.Fprintln(os.Stderr, "harness:", terr)
		}
		err = cmd.Wait()
		s.Untrack(cmd)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		code, err = ee.ExitCode(), nil
	}
	if err != nil {
		err = Err(ctx, err)
	}
	return out.String(), errOut.String(), code, err
}

func tee(buf *bytes.Buffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
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

// RunEnv is the environment variable that holds the session's id for the
// test process (container.New reads it to label what Podman runs).
const RunEnv = "CARGO_OIDC_TEST_RUN"

// staleCache is the age from which Sweep prunes the tests' build-cache
// images (dangling build stages labelled Label=1, 400 MB each); fresher
// ones may belong to a build under way.
const staleCache = 24 * time.Hour

// Podman runs podman with the tests' configuration (container.Engine's
// Command) for Sweep and Session.Close. Nil: Podman is not used.
type Podman func(ctx context.Context, args ...string) *exec.Cmd

// Session is one test process's claim on the machine: a folder under
// os.TempDir() named Prefix+NAME-PID-STARTTIME-* (its id names its owner)
// holding every temporary folder of the process (TMPDIR points into it, so
// t.TempDir and os.MkdirTemp land there) and a pid file for every
// long-lived process it started.
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

// Begin sweeps what killed sessions left (Sweep), then makes this test
// process's session folder and points TMPDIR and RunEnv at it. Call Close
// when the tests are done, and CloseOnSignal to clean up on an interrupt.
func Begin(name string, podman Podman, log io.Writer) (*Session, error) {
	base := os.TempDir()
	for _, line := range Sweep(base, podman) {
		fmt.Fprintln(log, "harness: swept", line)
	}
	owner, ok := processIdentity(os.Getpid())
	if !ok {
		owner = strconv.Itoa(os.Getpid())
	}
	dir, err := os.MkdirTemp(base, Prefix+name+"-"+strings.ReplaceAll(owner, " ", "-")+"-")
	if err == nil {
		err = os.Mkdir(filepath.Join(dir, "pids"), 0o700)
	}
	if err == nil {
		err = os.Mkdir(filepath.Join(dir, "tmp"), 0o700)
	}
	if err == nil { // for checkouts of older versions, whose sweep judges by it
		err = os.WriteFile(filepath.Join(dir, "owner"), []byte(owner+"\n"), 0o600)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("make the session folder: %w", err)
	}
	s := &Session{ID: filepath.Base(dir), Dir: dir, podman: podman, stop: make(chan struct{})}
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
	if s != nil && cmd.Process != nil {
		_ = os.Remove(s.pidFile(cmd.Process.Pid))
	}
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
		removeSession(s.Dir)
		removeLabelled(s.podman, func(id string) bool { return id == s.ID })
		if s.hadTmp {
			_ = os.Setenv("TMPDIR", s.oldTmp)
		} else {
			_ = os.Unsetenv("TMPDIR")
		}
		_ = os.Unsetenv(RunEnv)
	})
}

// Sweep removes what sessions left when their test process died without
// closing them (killed, or stopped by go test's timeout): the folders under
// base of sessions whose owner is gone, after killing the processes they
// recorded, and every labelled container and image of such a session,
// wherever its folder was. Build-cache images older than a day are pruned.
// It returns one line per thing removed.
func Sweep(base string, podman Podman) []string {
	var swept []string
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if dir := filepath.Join(base, e.Name()); e.IsDir() && strings.HasPrefix(e.Name(), Prefix) && !sessionAlive(dir) {
			swept = append(swept, removeSession(dir)...)
		}
	}
	if podman == nil {
		return swept
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := podman(ctx, "image", "prune", "--force", "--filter", "label="+Label+"=1", "--filter", "until="+staleCache.String()).Output(); err == nil && len(bytes.Fields(out)) > 0 {
		swept = append(swept, fmt.Sprintf("%d build-cache images older than %s", len(bytes.Fields(out)), staleCache))
	}
	return append(swept, removeLabelled(podman, func(id string) bool {
		return strings.HasPrefix(id, Prefix) && !sessionAlive(filepath.Join(base, id))
	})...)
}

// removeSession kills the processes recorded in the session folder dir
// (only when the pid still runs the recorded command line), then removes
// the folder.
func removeSession(dir string) []string {
	var swept []string
	pids, _ := os.ReadDir(filepath.Join(dir, "pids"))
	for _, p := range pids {
		pid, _ := strconv.Atoi(p.Name())
		want, err := os.ReadFile(filepath.Join(dir, "pids", p.Name()))
		got, gerr := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || gerr != nil || string(bytes.TrimSuffix(got, []byte{0})) != string(want) {
			continue // gone, or the pid now runs something else
		}
		if proc, err := os.FindProcess(pid); err == nil && proc.Kill() == nil {
			swept = append(swept, fmt.Sprintf("process %d (%s)", pid, strings.ReplaceAll(string(want), "\x00", " ")))
			waitGone(pid, 5*time.Second)
		}
	}
	if os.RemoveAll(dir) == nil {
		swept = append(swept, "folder "+dir)
	}
	return swept
}

// removeLabelled removes, through podman (nil: nothing), the labelled
// containers and images of the sessions whose id remove reports.
func removeLabelled(podman Podman, remove func(id string) bool) []string {
	if podman == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var swept []string
	for _, kind := range []struct{ list, rm []string }{
		{[]string{"ps", "-a", "--format", `{{.ID}} {{index .Labels "` + RunLabel + `"}}`}, []string{"rm", "-f"}},
		// Images by name, not by ID: another process's image can share
		// the ID (the same build under another tag), and rmi of an ID
		// removes every tag of it.
		{[]string{"images", "--format", "{{.Repository}}:{{.Tag}} {{.Tag}}"}, []string{"rmi", "--ignore"}},
	} {
		out, err := podman(ctx, append(kind.list, "--filter", "label="+Label+"=1")...).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			name, id, _ := strings.Cut(strings.TrimSpace(line), " ")
			if name != "" && remove(id) && podman(ctx, append(kind.rm, name)...).Run() == nil {
				swept = append(swept, fmt.Sprintf("%s %s of session %s", kind.list[0], name, id))
			}
		}
	}
	return swept
}

// waitGone waits until /proc/pid disappears (or the process is a zombie
// of ours, which the runtime reaps) or d passes.
func waitGone(pid int, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
	}
}

// sessionAlive reports whether the session in folder dir (which need not
// exist) is alive: whether the process its id names
// (Prefix+NAME-PID-STARTTIME-RANDOM, as Begin makes it) still runs. An id
// of another form counts as alive while its folder is younger than a
// minute. Without /proc (not Linux) every session counts as alive, so
// nothing is swept.
func sessionAlive(dir string) bool {
	if _, err := os.Stat("/proc/self"); err != nil {
		return true
	}
	f := strings.Split(filepath.Base(dir), "-")
	if len(f) >= 4 {
		pid, err1 := strconv.Atoi(f[len(f)-3])
		_, err2 := strconv.ParseUint(f[len(f)-2], 10, 64)
		if err1 == nil && err2 == nil {
			now, ok := processIdentity(pid)
			return ok && now == f[len(f)-3]+" "+f[len(f)-2]
		}
	}
	fi, err := os.Stat(dir)
	return err == nil && time.Since(fi.ModTime()) < time.Minute
}

// processIdentity is "pid starttime" from /proc/pid/stat: a pid alone may
// be reused by a later process. A zombie has none.
func processIdentity(pid int) (string, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// The command name (field 2) is in parentheses and may hold spaces;
	// after it come the state (field 3) and, at field 22, the start time.
	i := bytes.LastIndexByte(data, ')')
	if err != nil || i < 0 {
		return "", false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 || fields[0] == "Z" {
		return "", false
	}
	return strconv.Itoa(pid) + " " + fields[19], true
}

// margin is how long before go test's own deadline (-timeout) a bounded
// step must end, so that it fails with its name and the test's clean-up
// still runs, instead of go test panicking with a goroutine dump.
const margin = 45 * time.Second

// Budget returns max, or less when the test's deadline (go test -timeout)
// comes sooner: the time left before it minus a margin of 45 s (at least
// half of the time left). t may be any testing.TB; only a *testing.T has a
// deadline.
func Budget(t any, most time.Duration) time.Duration {
	return budget(t, most, time.Now())
}

func budget(t any, most time.Duration, now time.Time) time.Duration {
	d, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return most
	}
	end, ok := d.Deadline()
	if !ok {
		return most
	}
	left := end.Sub(now)
	return min(most, max(left-margin, left/2))
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
func Context(parent context.Context, t any, what string, most time.Duration) (context.Context, context.CancelFunc) {
	limit := Budget(t, most)
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
