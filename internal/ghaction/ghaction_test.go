package ghaction

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/fspath"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// eol is the line end of the log commands go-githubactions writes to
// stdout: the system's, "\r\n" on Windows (as @actions/core writes
// os.EOL); the runner reads either.
var eol = map[bool]string{false: "\n", true: "\r\n"}[runtime.GOOS == "windows"]

// crlf turns the "\n" of a wanted log into eol.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", eol) }

func TestRunnerCommands(t *testing.T) {
	type test struct {
		debug string
		do    func(r *Runner)
		want  string
	}
	testenv.Run(t, map[string]test{
		"mask":              {"", func(r *Runner) { r.Mask("s3cret"); r.Mask("s3cret"); r.Mask("") }, "::add-mask::s3cret\n"},
		"mask lines":        {"", func(r *Runner) { r.Mask("a\nb") }, "::add-mask::a\n::add-mask::b\n"},
		"debug hidden":      {"", func(r *Runner) { r.Debug("x") }, ""},
		"debug shown":       {"1", func(r *Runner) { r.Debug("100% %s") }, "::debug::100%25 %25s\n"},
		"info not a format": {"", func(r *Runner) { r.Info("50% %d done") }, "50% %d done\n"},
		"notice":            {"", func(r *Runner) { r.Notice("Registry ready", "artifactory") }, "::notice title=Registry ready::artifactory\n"},
		"error multi-line":  {"", func(r *Runner) { r.Error("T", "a\nb") }, "::error title=T::a%0Ab\n"},
		"group":             {"", func(r *Runner) { r.Group("G"); r.EndGroup() }, "::group::G\n::endgroup::\n"},
	}, func(t *testing.T, _ string, tt test) {
		var out bytes.Buffer
		r := New(testenv.Getenv(map[string]string{"RUNNER_DEBUG": tt.debug}), &out)
		tt.do(r)
		if got := out.String(); got != crlf(tt.want) {
			t.Errorf("output = %q, want %q", got, crlf(tt.want))
		}
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestRunnerWriteErrorDoesNotPanic(t *testing.T) {
	t.Parallel()
	r := New(testenv.Getenv(nil), failWriter{})
	r.Mask("x")
	r.Info("y")
	if r.Err() == nil {
		t.Fatal("Err() = nil after a failed write")
	}
}

type fixedReader byte

func (f fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

func TestFileCommandsFormat(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	envPath := filepath.Join(dir, "env")
	outPath := filepath.Join(dir, "out")
	if err := os.WriteFile(envPath, []byte("EXISTING=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := NewFileCommands(testenv.Getenv(map[string]string{"GITHUB_ENV": envPath, "GITHUB_OUTPUT": outPath}), fixedReader(0xab))
	for _, kv := range [][2]string{{"A", "1"}, {"B", "x=y <<EOF"}} {
		if err := c.Set(EnvFile, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(OutputFile, "token", "t"); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	d := "ghadelimiter_" + strings.Repeat("ab", 16)
	want := "EXISTING=1\nA<<" + d + "\n1\n" + d + "\nB<<" + d + "\nx=y <<EOF\n" + d + "\n"
	if got, _ := os.ReadFile(envPath); string(got) != want {
		t.Errorf("GITHUB_ENV =\n%s\nwant\n%s", got, want)
	}
	if got, _ := os.ReadFile(outPath); string(got) != "token<<"+d+"\nt\n"+d+"\n" {
		t.Errorf("GITHUB_OUTPUT = %q", got)
	}
}

func TestFileCommandsRefuse(t *testing.T) {
	d := "ghadelimiter_" + strings.Repeat("ab", 16)
	type test struct{ key, value string }
	testenv.Run(t, map[string]test{
		"newline value":      {"A", "1\nNODE_OPTIONS=--require /tmp/x"},
		"carriage return":    {"A", "1\rB"},
		"delimiter in value": {"A", d},
		"empty name":         {"", "v"},
		"equals in name":     {"A=B", "v"},
		"heredoc in name":    {"A<<X", "v"},
	}, func(t *testing.T, _ string, tt test) {
		path := filepath.Join(testenv.TempDir(t), "env")
		c := NewFileCommands(testenv.Getenv(map[string]string{"GITHUB_ENV": path}), fixedReader(0xab))
		err := c.Set(EnvFile, tt.key, tt.value)
		if !errors.Is(err, ErrUnsafeValue) {
			t.Fatalf("Set(%q, %q) error = %v, want ErrUnsafeValue", tt.key, tt.value, err)
		}
		if strings.Contains(err.Error(), tt.value) && tt.value != "v" {
			t.Errorf("error %q repeats the value", err)
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("file written for a refused entry: %v", err)
		}
	})
}

func TestFileCommandsUnwritable(t *testing.T) {
	t.Parallel()
	c := NewFileCommands(testenv.Getenv(map[string]string{"GITHUB_ENV": filepath.Join(testenv.TempDir(t), "missing", "env")}), nil)
	if err := c.Set(EnvFile, "A", "1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err == nil || !strings.Contains(err.Error(), "cannot write GITHUB_ENV") {
		t.Fatalf("Open() = %v, want a GITHUB_ENV error", err)
	}
	c2 := NewFileCommands(testenv.Getenv(nil), nil)
	_ = c2.Set(OutputFile, "A", "1")
	if err := c2.Flush(); err == nil || !strings.Contains(err.Error(), "GITHUB_OUTPUT is not set") {
		t.Fatalf("Flush() = %v, want GITHUB_OUTPUT is not set", err)
	}
}

// FuzzFileCommands checks that whatever Set accepts reads back as exactly
// one entry with the same name and value, parsed the way the runner does.
func FuzzFileCommands(f *testing.F) {
	for _, s := range []string{"v", "", "a=b", "x<<EOF", "ghadelimiter_", "\u2028", "EOF\nX=1"} {
		f.Add("NAME", s)
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		path := filepath.Join(testenv.TempDir(t), "env")
		c := NewFileCommands(testenv.Getenv(map[string]string{"GITHUB_ENV": path}), nil)
		if err := c.Set(EnvFile, name, value); err != nil {
			return
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("entry has %d lines: %q", len(lines), data)
		}
		k, delim, ok := strings.Cut(lines[0], "<<")
		if !ok || k != name || lines[2] != delim || lines[1] != value {
			t.Fatalf("entry %q does not read back as %q=%q", data, name, value)
		}
	})
}

// containerPaths is NewPaths as the container action calls it, always on
// Linux. On Windows, where NewPaths takes the Windows rules (setup/ runs
// the action there outside a container; paths_windows_test.go), the same
// cases run through the Unix rules.
func containerPaths(getenv func(string) string, hostWorkspace, hostTemp string) Paths {
	if fspath.Native != fspath.Unix {
		return newPaths(fspath.Unix, getenv, hostWorkspace, hostTemp)
	}
	return NewPaths(getenv, hostWorkspace, hostTemp)
}

func TestPaths(t *testing.T) {
	container := containerPaths(testenv.Getenv(map[string]string{
		"GITHUB_WORKSPACE": "/github/workspace", "RUNNER_TEMP": "/github/runner_temp", "HOME": "/github/home",
	}), "/home/runner/work/r/r", "/home/runner/work/_temp")
	host := containerPaths(testenv.Getenv(map[string]string{"GITHUB_WORKSPACE": "/w", "RUNNER_TEMP": "/t", "HOME": "/h"}), "", "")
	type test struct {
		p    Paths
		in   string
		want string
	}
	testenv.Run(t, map[string]test{
		"workspace file":   {container, "/github/workspace/.cargo/config.toml", "/home/runner/work/r/r/.cargo/config.toml"},
		"temp file":        {container, "/github/runner_temp/creds.toml", "/home/runner/work/_temp/creds.toml"},
		"home file":        {container, "/github/home/.cargo-oidc/bin/cargo-oidc", "/home/runner/work/_temp/_github_home/.cargo-oidc/bin/cargo-oidc"},
		"elsewhere":        {container, "/etc/passwd", "/etc/passwd"},
		"prefix lookalike": {container, "/github/workspace2/x", "/github/workspace2/x"},
		"host mode":        {host, "/w/x", "/w/x"},
	}, func(t *testing.T, _ string, tt test) {
		if got := tt.p.ToHost(tt.in); got != tt.want {
			t.Errorf("ToHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	})
}

func TestResolve(t *testing.T) {
	t.Parallel()
	p := containerPaths(testenv.Getenv(map[string]string{"GITHUB_WORKSPACE": "/github/workspace", "RUNNER_TEMP": "/github/runner_temp"}), "/hw", "/ht")
	tests := []struct {
		value, want, err string
	}{
		{".cargo/config.toml", "/github/workspace/.cargo/config.toml", ""},
		{"/hw/sub/c.toml", "/github/workspace/sub/c.toml", ""},
		{"/ht/creds.toml", "/github/runner_temp/creds.toml", ""},
		{"/github/runner_temp/c.toml", "/github/runner_temp/c.toml", ""},
		{"../outside.toml", "", "leaves the workspace"},
		{"/etc/cargo.toml", "", "outside the workspace"},
		{"~/.cargo/credentials.toml", "", "${{ runner.temp }}"},
		{"~", "", "starts with ~"},
		{"~runner/.cargo/config.toml", "", "starts with ~"},
		{"", "", ""},
	}
	for _, tt := range tests {
		got, err := p.Resolve("config-file", tt.value)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "config-file") {
				t.Errorf("Resolve(%q) error = %v, want %q naming the input", tt.value, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.value, got, err, tt.want)
		}
	}
}

// TestPathsRunnerLayouts covers the layouts a container action meets: a
// runner that mounts runner.temp (v2.331.0 on), an older one that leaves
// RUNNER_TEMP a host path, nektos/act (HOME and runner.temp of the
// container's own), and the action run on the runner's machine.
func TestPathsRunnerLayouts(t *testing.T) {
	t.Parallel()
	const hw, ht = "/home/runner/work/r/r", "/home/runner/work/_temp"
	layout := func(temp, home string, inContainer bool) Paths {
		ws := "/github/workspace"
		if !inContainer {
			ws = hw
		}
		p := containerPaths(testenv.Getenv(map[string]string{"GITHUB_WORKSPACE": ws, "RUNNER_TEMP": temp, "HOME": home}), hw, ht)
		p.Container = inContainer
		return p
	}
	current := layout(ContainerTemp, ContainerHome, true)
	older := layout(ht, ContainerHome, true)
	act := containerPaths(testenv.Getenv(map[string]string{"GITHUB_WORKSPACE": "/tmp/act/repo", "RUNNER_TEMP": "/tmp", "HOME": "/root"}), "/tmp/act/repo", "/tmp")
	act.Container = true
	host := layout(ht, ht+"/_github_home", false)

	for _, tt := range []struct {
		name     string
		p        Paths
		homeOK   bool
		path     string // a credentials file, as Resolve returns it
		sharedOK bool
	}{
		{"current runner", current, true, ContainerTemp + "/creds.toml", true},
		{"older runner", older, true, ht + "/creds.toml", false},
		{"older runner, workspace file", older, true, "/github/workspace/.cargo/credentials.toml", true},
		{"act", act, false, "/tmp/creds.toml", false},
		{"act, workspace under /tmp", act, false, "/tmp/act/repo/.cargo/credentials.toml", true},
		{"on the runner's machine", host, true, ht + "/creds.toml", true},
	} {
		if err := tt.p.CheckHomeShared(); (err == nil) != tt.homeOK {
			t.Errorf("%s: CheckHomeShared() = %v, want ok=%v", tt.name, err, tt.homeOK)
		}
		err := tt.p.CheckShared("credentials-file", tt.path)
		if (err == nil) != tt.sharedOK {
			t.Errorf("%s: CheckShared(%q) = %v, want ok=%v", tt.name, tt.path, err, tt.sharedOK)
		}
		if err != nil && !strings.Contains(err.Error(), "input credentials-file:") {
			t.Errorf("%s: error %q does not name the input", tt.name, err)
		}
	}
	// An older runner leaves RUNNER_TEMP untranslated but still mounts
	// _github_home at /github/home: later steps find HOME's files there.
	if got := older.ToHost(ContainerHome + "/.cargo-oidc/bin/cargo-oidc"); got != ht+"/_github_home/.cargo-oidc/bin/cargo-oidc" {
		t.Errorf("older runner: ToHost(home file) = %q", got)
	}
}

func TestLogLinesAreRedactedByValue(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	r := New(func(string) string { return "1" }, &out)
	jwt := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz"
	r.Mask(jwt)
	sig := "c2lnbmF0dXJlLWJ5dGVz"
	r.Info("info " + sig)
	r.Debug("debug " + jwt)
	r.Warning("warn "+sig, "body "+sig)
	r.Error("err", "payload eyJzdWIiOiJ4In0")
	got := out.String()
	_, rest, _ := strings.Cut(got, eol) // after the ::add-mask:: line
	if strings.Contains(rest, sig) || strings.Contains(rest, "eyJzdWIiOiJ4In0") {
		t.Fatalf("a secret or one of its parts shows:\n%s", got)
	}
	if !strings.HasPrefix(got, "::add-mask::"+jwt+eol) || !strings.Contains(rest, "info ***") {
		t.Fatalf("output:\n%s", got)
	}
}
