package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeDeadline struct {
	end time.Time
	ok  bool
}

func (f fakeDeadline) Deadline() (time.Time, bool) { return f.end, f.ok }

func TestBudget(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    any
		max  time.Duration
		want time.Duration
	}{
		{"no deadline", fakeDeadline{}, 6 * time.Minute, 6 * time.Minute},
		{"not a *testing.T", struct{}{}, 6 * time.Minute, 6 * time.Minute},
		{"far deadline", fakeDeadline{now.Add(30 * time.Minute), true}, 6 * time.Minute, 6 * time.Minute},
		{"near deadline keeps the margin", fakeDeadline{now.Add(5 * time.Minute), true}, 6 * time.Minute, 5*time.Minute - Margin},
		{"very near deadline: half of what is left", fakeDeadline{now.Add(time.Minute), true}, 6 * time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := budget(tt.t, tt.max, now); got != tt.want {
				t.Errorf("budget = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestContextNamesWhatWasSlow(t *testing.T) {
	t.Parallel()
	ctx, cancel := Context(context.Background(), fakeDeadline{}, "act run of workflow w.yml", 10*time.Millisecond)
	defer cancel()
	<-ctx.Done()
	err := Err(ctx, errors.New("signal: killed"))
	var slow *SlowError
	if !errors.As(err, &slow) || slow.What != "act run of workflow w.yml" || slow.Limit != 10*time.Millisecond {
		t.Fatalf("Err = %v, want a *SlowError naming the act run", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v does not match context.DeadlineExceeded", err)
	}
	for _, want := range []string{"act run of workflow w.yml did not finish in 10ms", "signal: killed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err = %q, want it to hold %q", err, want)
		}
	}
	if err := Err(context.Background(), os.ErrNotExist); err != os.ErrNotExist {
		t.Errorf("Err of a live context = %v, want the error unchanged", err)
	}
}

// fakePodman answers listings from a table keyed by the command line and
// records every command.
type fakePodman struct {
	mu       sync.Mutex
	listings map[string]string // command line -> output
	calls    []string
}

func (f *fakePodman) command(ctx context.Context, args ...string) *exec.Cmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := strings.Join(args, " ")
	f.calls = append(f.calls, line)
	if out, ok := f.listings[line]; ok {
		return exec.CommandContext(ctx, "printf", "%s", out)
	}
	return exec.CommandContext(ctx, "true")
}

// deadIdentity returns the identity of a process that has ended.
func deadIdentity(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(cmd.Process.Pid) + " 1"
}

func TestSweep(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("skipping: no /proc on this system; Sweep leaves every session alone there")
	}
	base := t.TempDir()
	mkSession := func(name, owner string) string {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(dir, "pids"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(owner+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	self, ok := processIdentity(os.Getpid())
	if !ok {
		t.Fatal("no identity for this process")
	}
	live := mkSession(Prefix+"live-1", self)
	dead := mkSession(Prefix+"dead-2", deadIdentity(t))
	other := filepath.Join(base, "not-ours")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	// A process the dead session started and left running, and a pid
	// file whose pid now runs something else.
	orphan := exec.Command("sleep", "60")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- orphan.Wait() }()
	t.Cleanup(func() { _ = orphan.Process.Kill() })
	if err := os.WriteFile(filepath.Join(dead, "pids", strconv.Itoa(orphan.Process.Pid)), []byte(strings.Join(orphan.Args, "\x00")), 0o600); err != nil {
		t.Fatal(err)
	}
	bystander := exec.Command("sleep", "60")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bystander.Process.Kill(); _ = bystander.Wait() })
	if err := os.WriteFile(filepath.Join(dead, "pids", strconv.Itoa(bystander.Process.Pid)), []byte("podman\x00system\x00service"), 0o600); err != nil {
		t.Fatal(err)
	}

	label := " --filter label=" + Label + "=1"
	podman := &fakePodman{listings: map[string]string{
		"ps -aq --filter label=" + RunLabel + "=" + Prefix + "dead-2":                                     "c1\n",
		"images --format {{.Repository}}:{{.Tag}}" + label + " --filter reference=*:" + Prefix + "dead-2": "localhost/x:" + Prefix + "dead-2\n",
		`ps -a --format {{.ID}} {{index .Labels "` + RunLabel + `"}}` + label:                             "c2 " + Prefix + "live-1\nc3 " + Prefix + "gone-3\nc4 \n",
		"images --format {{.Repository}}:{{.Tag}} {{.Tag}}" + label:                                       "localhost/x:" + Prefix + "gone-3 " + Prefix + "gone-3\nlocalhost/y:latest latest\nlocalhost/x:" + Prefix + "live-1 " + Prefix + "live-1\n",
	}}
	swept := Sweep(base, podman.command)

	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("the dead session's process still runs")
	}
	if _, running := processIdentity(bystander.Process.Pid); !running {
		t.Error("a pid that runs another command than the one recorded was killed")
	}
	for _, dir := range []string{live, other} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead session's folder is still there: %v", err)
	}
	for _, want := range []string{
		"rm -f c1", "rmi --ignore localhost/x:" + Prefix + "dead-2", "rm -f c3", "rmi --ignore localhost/x:" + Prefix + "gone-3",
		"image prune --force --filter label=" + Label + "=1 --filter until=24h0m0s",
	} {
		if !slices.Contains(podman.calls, want) {
			t.Errorf("podman was not asked %q; calls: %q", want, podman.calls)
		}
	}
	for _, never := range []string{"rm -f c2", "rm -f c4", "rmi --ignore localhost/y:latest", "rmi --ignore localhost/x:" + Prefix + "live-1"} {
		if slices.Contains(podman.calls, never) {
			t.Errorf("podman was asked %q (a live session's container or image, or one of no session)", never)
		}
	}
	if len(swept) == 0 || !strings.Contains(fmt.Sprint(swept), "process "+strconv.Itoa(orphan.Process.Pid)) {
		t.Errorf("Sweep reported %q, want the killed process named", swept)
	}
}

func TestSessionCloseRemovesEverything(t *testing.T) {
	// Not parallel: Begin sets TMPDIR for the process.
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("skipping: no /proc on this system")
	}
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv(RunEnv, "")
	base := os.Getenv("TMPDIR")
	podman := &fakePodman{listings: map[string]string{}}
	s, err := Begin("unit", podman.command, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if got := os.TempDir(); !strings.HasPrefix(got, s.Dir) {
		t.Errorf("TMPDIR = %s, want it under the session %s", got, s.Dir)
	}
	if got := os.Getenv(RunEnv); got != s.ID || !strings.HasPrefix(s.ID, Prefix+"unit-") {
		t.Errorf("%s = %q, session id %q", RunEnv, got, s.ID)
	}
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	if err := s.Track(child); err != nil {
		t.Fatal(err)
	}
	// A later Begin leaves a live session alone.
	if swept := Sweep(base, nil); len(swept) != 0 {
		t.Errorf("Sweep of a live session removed %q", swept)
	}
	s.Close()
	s.Close() // twice is fine
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("Close left the tracked process running")
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", s.Dir, err)
	}
	if got := os.Getenv("TMPDIR"); got != base {
		t.Errorf("TMPDIR after Close = %q, want %q", got, base)
	}
	if !slices.Contains(podman.calls, "ps -aq --filter label="+RunLabel+"="+s.ID) {
		t.Errorf("Close did not look for the session's containers; calls %q", podman.calls)
	}
}

// TestSweepKeepsLiveSessionsElsewhere is the reason e2e/act can run beside
// the e2e package: a test there runs `go test -list` on both packages, and
// their TestMain sweeps with TMPDIR inside the parent's session, where no
// other session's folder is. A session is judged by the owner its id
// names: a live one's containers and image survive a sweep from any base;
// a dead one's go.
func TestSweepKeepsLiveSessionsElsewhere(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("skipping: no /proc on this system; Sweep leaves every session alone there")
	}
	self, ok := processIdentity(os.Getpid())
	if !ok {
		t.Fatal("no identity for this process")
	}
	id := func(name, owner string) string {
		return Prefix + name + "-" + strings.ReplaceAll(owner, " ", "-") + "-42"
	}
	live, dead := id("act", self), id("e2e", deadIdentity(t))
	label := " --filter label=" + Label + "=1"
	podman := &fakePodman{listings: map[string]string{
		`ps -a --format {{.ID}} {{index .Labels "` + RunLabel + `"}}` + label: "c-live " + live + "\nc-dead " + dead + "\n",
		"images --format {{.Repository}}:{{.Tag}} {{.Tag}}" + label:           "localhost/a:" + live + " " + live + "\nlocalhost/b:" + dead + " " + dead + "\n",
	}}
	Sweep(t.TempDir(), podman.command) // neither session's folder is here
	for _, want := range []string{"rm -f c-dead", "rmi --ignore localhost/b:" + dead} {
		if !slices.Contains(podman.calls, want) {
			t.Errorf("podman was not asked %q (a dead session's); calls: %q", want, podman.calls)
		}
	}
	for _, never := range []string{"rm -f c-live", "rmi --ignore localhost/a:" + live} {
		if slices.Contains(podman.calls, never) {
			t.Errorf("podman was asked %q: a live session's container or image, swept from another base", never)
		}
	}
}
