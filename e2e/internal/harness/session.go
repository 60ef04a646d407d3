package harness

import (
	"bytes"
	"context"
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
	"time"
)

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
