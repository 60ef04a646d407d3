package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

type fakeDeadline struct {
	end time.Time
	ok  bool
}

func (f fakeDeadline) Deadline() (time.Time, bool) { return f.end, f.ok }

func TestBudget(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for tt, want := range map[any]time.Duration{
		fakeDeadline{}: 6 * time.Minute, // no deadline
		struct{}{}:     6 * time.Minute, // not a *testing.T
		fakeDeadline{now.Add(30 * time.Minute), true}: 6 * time.Minute,
		fakeDeadline{now.Add(5 * time.Minute), true}:  5*time.Minute - margin,
		fakeDeadline{now.Add(time.Minute), true}:      30 * time.Second, // half of what is left
	} {
		if got := budget(tt, 6*time.Minute, now); got != want {
			t.Errorf("budget(%v) = %s, want %s", tt, got, want)
		}
	}
}

// TestExecOneWriterForBoth: a writer given as both Stdout and Stderr (as
// act's runner does) gets both streams whole, without a data race.
func TestExecOneWriterForBoth(t *testing.T) {
	t.Parallel()
	var both strings.Builder
	cmd := exec.Command("sh", "-c", "for i in 1 2 3 4 5 6 7 8; do echo out$i; echo err$i >&2; done")
	cmd.Stdout, cmd.Stderr = &both, &both
	if _, _, code, err := Output(cmd); err != nil || code != 0 || strings.Count(both.String(), "\n") != 16 {
		t.Fatalf("exit %d, %v, output %q: want 16 lines", code, err, both.String())
	}
}

func TestContextNamesWhatWasSlow(t *testing.T) {
	t.Parallel()
	ctx, cancel := Context(context.Background(), fakeDeadline{}, "act run of workflow w.yml", 10*time.Millisecond)
	defer cancel()
	<-ctx.Done()
	err := Err(ctx, errors.New("signal: killed"))
	var slow *SlowError
	if !errors.As(err, &slow) || slow.Limit != 10*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "act run of workflow w.yml did not finish in 10ms") || !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("Err = %v, want a *SlowError naming the act run, matching context.DeadlineExceeded, holding the cause", err)
	}
	if err := Err(context.Background(), os.ErrNotExist); err != os.ErrNotExist {
		t.Errorf("Err of a live context = %v, want the error unchanged", err)
	}
}

// fakePodman answers listings (command line -> output) and records calls.
type fakePodman struct {
	listings map[string]string
	calls    []string
}

func (f *fakePodman) command(ctx context.Context, args ...string) *exec.Cmd {
	line := strings.Join(args, " ")
	f.calls = append(f.calls, line)
	if out, ok := f.listings[line]; ok {
		return exec.CommandContext(ctx, "printf", "%s", out)
	}
	return exec.CommandContext(ctx, "true")
}

// check fails unless podman's rm and rmi calls are exactly want (sorted).
func (f *fakePodman) check(t *testing.T, want ...string) {
	t.Helper()
	got := slices.DeleteFunc(slices.Clone(f.calls), func(c string) bool { return !strings.HasPrefix(c, "rm") })
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("podman removed %q, want %q", got, want)
	}
}

func listings(containers, images string) map[string]string {
	label := " --filter label=" + Label + "=1"
	return map[string]string{
		`ps -a --format {{.ID}} {{index .Labels "` + RunLabel + `"}}` + label: containers,
		"images --format {{.Repository}}:{{.Tag}} {{.Tag}}" + label:           images,
	}
}

// sessionID is the id Begin gives session name of the process owner.
func sessionID(name, owner string) string {
	return Prefix + name + "-" + strings.ReplaceAll(owner, " ", "-") + "-42"
}

// sleeper starts `sleep 60`, killed at the test's end; done receives its Wait.
func sleeper(t *testing.T) (cmd *exec.Cmd, done <-chan error) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("skipping: no /proc on this system; Sweep leaves every session alone there")
	}
	cmd = exec.Command("sleep", "60")
	testenv.Must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	return cmd, ch
}

func ended(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s still runs", what)
	}
}

// TestSweep: a session is judged by the owner its id names. A dead one's
// processes (while they run as recorded), folder, containers and images go,
// wherever its folder is; a live one's stay, also with its folder elsewhere
// (a nested `go test -list`), and so does what belongs to no session.
func TestSweep(t *testing.T) {
	t.Parallel()
	// A process the dead session left running, and a pid file whose pid
	// now runs something else.
	orphan, done := sleeper(t)
	bystander, _ := sleeper(t)
	self, ok := processIdentity(os.Getpid())
	if !ok {
		t.Fatal("no identity for this process")
	}
	deadOwner := strconv.Itoa(os.Getpid()) + " 1" // the pid now runs another process
	live, dead, gone, elsewhere := sessionID("live", self), sessionID("dead", deadOwner), sessionID("gone", deadOwner), sessionID("act", self)
	base := t.TempDir()
	for _, dir := range []string{live + "/pids", dead + "/pids", "not-ours"} {
		testenv.Must(t, os.MkdirAll(filepath.Join(base, dir), 0o700))
	}
	testenv.WriteFile(t, filepath.Join(base, dead, "pids"), strconv.Itoa(orphan.Process.Pid), strings.Join(orphan.Args, "\x00"))
	testenv.WriteFile(t, filepath.Join(base, dead, "pids"), strconv.Itoa(bystander.Process.Pid), "podman\x00system\x00service")

	podman := &fakePodman{listings: listings(
		"c1 "+dead+"\nc2 "+live+"\nc3 "+gone+"\nc4 \nc5 "+elsewhere+"\n",
		"localhost/x:"+dead+" "+dead+"\nlocalhost/x:"+gone+" "+gone+"\nlocalhost/y:latest latest\nlocalhost/x:"+live+" "+live+"\nlocalhost/a:"+elsewhere+" "+elsewhere+"\n")}
	swept := Sweep(base, podman.command)

	ended(t, done, "the dead session's process")
	if _, running := processIdentity(bystander.Process.Pid); !running {
		t.Error("a pid that runs another command than the one recorded was killed")
	}
	for _, dir := range []string{live, "not-ours"} {
		if _, err := os.Stat(filepath.Join(base, dir)); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, dead)); !os.IsNotExist(err) {
		t.Errorf("the dead session's folder is still there: %v", err)
	}
	podman.check(t, "rm -f c1", "rm -f c3", "rmi --ignore localhost/x:"+dead, "rmi --ignore localhost/x:"+gone)
	if prune := "image prune --force --filter label=" + Label + "=1 --filter until=24h0m0s"; !slices.Contains(podman.calls, prune) {
		t.Errorf("podman was not asked %q; calls: %q", prune, podman.calls)
	}
	if !slices.Contains(swept, "process "+strconv.Itoa(orphan.Process.Pid)+" (sleep)") {
		t.Errorf("Sweep reported %q, want the killed process named", swept)
	}
}

func TestSessionCloseRemovesEverything(t *testing.T) {
	// Not parallel: Begin sets TMPDIR for the process.
	child, done := sleeper(t)
	base := t.TempDir()
	t.Setenv("TMPDIR", base)
	t.Setenv(RunEnv, "")
	podman := &fakePodman{listings: map[string]string{}}
	s, err := Begin("unit", podman.command, &strings.Builder{})
	testenv.Must(t, err)
	if got := os.TempDir(); !strings.HasPrefix(got, s.Dir) {
		t.Errorf("TMPDIR = %s, want it under the session %s", got, s.Dir)
	}
	if got := os.Getenv(RunEnv); got != s.ID || !strings.HasPrefix(s.ID, Prefix+"unit-") {
		t.Errorf("%s = %q, session id %q", RunEnv, got, s.ID)
	}
	testenv.Must(t, s.Track(child))
	// A later Begin leaves a live session alone.
	if swept := Sweep(base, nil); len(swept) != 0 {
		t.Errorf("Sweep of a live session removed %q", swept)
	}
	podman.listings = listings("c1 "+s.ID+"\nc2 "+Prefix+"other\n", "localhost/a:"+s.ID+" "+s.ID+"\n")
	s.Close()
	s.Close() // twice is fine
	ended(t, done, "the tracked process")
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", s.Dir, err)
	}
	if got := os.Getenv("TMPDIR"); got != base {
		t.Errorf("TMPDIR after Close = %q, want %q", got, base)
	}
	podman.check(t, "rm -f c1", "rmi --ignore localhost/a:"+s.ID)
}
