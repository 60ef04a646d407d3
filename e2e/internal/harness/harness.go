// Package harness builds the action's binary once and keeps the e2e tests
// bounded (Context: a deadline naming what was slow) and tidy (a Session
// holds what a test process starts; Begin first sweeps what killed ones left).
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

// RepoRoot returns the nearest folder up from the working one with action.yml and go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		_, errA := os.Stat(filepath.Join(dir, "action.yml"))
		_, errG := os.Stat(filepath.Join(dir, "go.mod"))
		if errA == nil && errG == nil {
			return dir, nil
		}
	}
	return "", errors.New("no action.yml and go.mod above the working directory")
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
	binDir string // the built binary's folder, removed by Cleanup
	binary = sync.OnceValues(func() (string, error) {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		if binDir, err = os.MkdirTemp("", "cargo-oidc-e2e-bin-"); err != nil {
			return "", err
		}
		path := filepath.Join(binDir, "cargo-oidc")
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "nethttpomithttp2", "-ldflags", "-s -w -X main.version=e2e", "-o", path, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build: %w\n%s", err, out)
		}
		return path, nil
	})
)

// Binary builds cargo-oidc as the Dockerfile does, once; Cleanup removes it.
func Binary() (string, error) { return binary() }

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	_ = os.RemoveAll(binDir) // nothing when ""
}

// Require and Tool are testenv's.
var (
	Require = testenv.Require
	Tool    = testenv.Tool
)

// Output is Exec without a context or a session.
func Output(cmd *exec.Cmd) (stdout, stderr string, code int, err error) {
	return Exec(context.Background(), nil, cmd)
}

// Exec runs cmd (made with ctx; tracked in s unless nil), stdin empty unless set, output also
// to cmd.Stdout/Stderr when set (one writer for both: stdout holds both). A non-zero exit is
// code; err (not run, ctx ended) has ctx's cause.
func Exec(ctx context.Context, s *Session, cmd *exec.Cmd) (stdout, stderr string, code int, err error) {
	var out, errOut bytes.Buffer
	if cmd.Stdin == nil {
		cmd.Stdin = bytes.NewReader(nil)
	}
	if cmd.Stdout != nil && cmd.Stdout == cmd.Stderr {
		// One writer for both stays one (os/exec then copies both streams
		// in one goroutine), and stdout gets both.
		cmd.Stdout = tee(&out, cmd.Stdout)
		cmd.Stderr = cmd.Stdout
	} else {
		cmd.Stdout, cmd.Stderr = tee(&out, cmd.Stdout), tee(&errOut, cmd.Stderr)
	}
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

// Command runs an e2e command's main with a context ending on SIGINT or SIGTERM, removes the
// built binary and returns 0 on success or -help, else prints "name: error" and returns 1.
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

// Prefix starts the name of every session folder.
const Prefix = "cargo-oidc-test-"

// Label (=1) marks every container and image the tests make; RunLabel holds a container's
// session id. A session's image is tagged NAME:ID instead: a label would land on every build
// stage, and removing those would empty the build cache.
const (
	Label    = "cargo-oidc-test"
	RunLabel = "cargo-oidc-test.run"
)

// RunEnv holds the session's id for the process (container.New reads it).
const RunEnv = "CARGO_OIDC_TEST_RUN"

// staleCache: fresher build-cache images may belong to a build under way.
const staleCache = 24 * time.Hour

// Podman runs podman with the tests' configuration; nil: no Podman.
type Podman func(ctx context.Context, args ...string) *exec.Cmd

// Session is one test process's folder, os.TempDir()/Prefix+NAME-PID-STARTTIME-* (the id names
// its owner), holding TMPDIR and a pid file for every long-lived process it started.
type Session struct {
	ID  string // the folder's base name, the value of RunLabel
	Dir string

	podman    Podman
	oldTmp    string
	hadTmp    bool
	closeOnce sync.Once
	stop      chan struct{}
}

// Begin sweeps, then makes the session folder and points TMPDIR and RunEnv at it.
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
		err = errors.Join(os.Mkdir(filepath.Join(dir, "pids"), 0o700), os.Mkdir(filepath.Join(dir, "tmp"), 0o700),
			// for checkouts of older versions, whose sweep judges by it
			os.WriteFile(filepath.Join(dir, "owner"), []byte(owner+"\n"), 0o600))
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

// Track records a started process for a later sweep; Untrack after Wait.
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

// CloseOnSignal closes the session on SIGINT or SIGTERM, then calls exit.
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

// Close kills tracked processes, removes the session's things and restores TMPDIR, once.
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

// Sweep removes what dead sessions left (folders under base, recorded processes, containers,
// images) and build-cache images older than staleCache, returning a line per thing removed.
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

// removeSession kills dir's recorded processes still running as recorded, removes dir.
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
			// The program only: its arguments may hold a job's tokens (act's --env).
			prog, _, _ := strings.Cut(string(want), "\x00")
			swept = append(swept, fmt.Sprintf("process %d (%s)", pid, filepath.Base(prog)))
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
					break
				}
			}
		}
	}
	if os.RemoveAll(dir) == nil {
		swept = append(swept, "folder "+dir)
	}
	return swept
}

// removeLabelled removes the containers and images of the sessions remove picks.
func removeLabelled(podman Podman, remove func(id string) bool) []string {
	if podman == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var swept []string
	for _, kind := range []struct{ list, rm []string }{
		{[]string{"ps", "-a", "--format", `{{.ID}} {{index .Labels "` + RunLabel + `"}}`}, []string{"rm", "-f"}},
		// Images by name, not ID: another process's image can share the ID (same build,
		// another tag), and rmi of an ID removes every tag of it.
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

// sessionAlive reports whether the process an id Prefix+NAME-PID-STARTTIME-RANDOM names still
// runs; another id, while its folder is under a minute old; anything, without /proc.
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

// processIdentity is "pid starttime" (a pid may be reused); a zombie has none. In /proc/pid/stat
// the command (field 2) is in parentheses and may hold spaces; state (3) and start time (22) follow.
func processIdentity(pid int) (string, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
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

// margin is left before go test's -timeout for a named failure and clean-up.
const margin = 45 * time.Second

// Budget returns most, or less when t's deadline comes sooner: the time
// left minus margin, at least half of it. Only a *testing.T has a deadline.
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

// SlowError is why a context of Context ended: what was slow, in Limit.
type SlowError struct {
	What  string
	Limit time.Duration
}

func (e *SlowError) Error() string {
	return fmt.Sprintf("%s did not finish in %s; the machine may be overloaded: run it alone or raise go test -timeout", e.What, e.Limit)
}

// Is makes errors.Is(err, context.DeadlineExceeded) hold for a SlowError.
func (e *SlowError) Is(target error) bool { return target == context.DeadlineExceeded }

// Context ends after Budget(t, most) with a *SlowError naming what; report through Err.
func Context(parent context.Context, t any, what string, most time.Duration) (context.Context, context.CancelFunc) {
	limit := Budget(t, most)
	return context.WithTimeoutCause(parent, limit, &SlowError{What: what, Limit: limit})
}

// Err returns err, or, when ctx has ended, its cause wrapping err.
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

// ListOnly reports whether the binary only lists tests (go test -list); it parses flags.
func ListOnly() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.list")
	return f != nil && f.Value.String() != ""
}
