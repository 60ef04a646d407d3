package e2e

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

func TestCLIHelpVersionPlugin(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	// The help lists everything the binary and its credential provider
	// accept: the stages, every flag, --cargo-plugin, the provider's own
	// arguments and every input (credprovider.ParseArgs takes --<input>=).
	help := []string{"Usage:", "post", "--cargo-plugin", "--help", "-h", "--version", "--host-workspace=DIR", "--host-temp=DIR",
		"--<input>=value", "--id-token-env=VAR", "--id-token-file=PATH"}
	help = append(help, config.Inputs...)
	tests := []struct {
		args       []string
		wantStdout []string
		wantStderr []string
		wantCode   int
	}{
		{args: []string{"--help"}, wantStdout: help},
		{args: []string{"-h"}, wantStdout: help},
		{args: []string{"-help"}, wantStdout: help},
		{args: []string{"--version"}, wantStdout: []string{"cargo-oidc e2e"}},
		{args: []string{"--bogus"}, wantStderr: []string{"unknown flag --bogus", "--help"}, wantCode: 2},
		{args: []string{"-x=1"}, wantStderr: []string{"unknown flag -x"}, wantCode: 2},
		{args: []string{"post", "--nope"}, wantStderr: []string{"unknown flag --nope"}, wantCode: 2},
		{args: []string{"--provider=jfrog"}, wantStderr: []string{"unknown flag --provider", "credential-provider setting", "INPUT_"}, wantCode: 2},
		{args: []string{"--host-temp"}, wantStderr: []string{"--host-temp"}, wantCode: 2},
		{args: []string{"extra"}, wantStderr: []string{`unexpected argument "extra"`}, wantCode: 2},
		{args: []string{"--cargo-plugin"}, wantStdout: []string{"{\"v\":[1]}\n"}},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Stdin = strings.NewReader("")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.wantCode {
			t.Errorf("cargo-oidc %v: exit %d, want %d; stderr %q", tt.args, code, tt.wantCode, stderr.String())
		}
		for _, w := range tt.wantStdout {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("cargo-oidc %v: stdout lacks %q:\n%s", tt.args, w, stdout.String())
			}
		}
		for _, w := range tt.wantStderr {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("cargo-oidc %v: stderr lacks %q:\n%s", tt.args, w, stderr.String())
			}
		}
		if tt.wantCode == 2 && stdout.Len() != 0 {
			t.Errorf("cargo-oidc %v: a command-line error wrote to stdout: %q", tt.args, stdout.String())
		}
	}
}

// TestCLIHelpListsOnlyWhatIsAccepted: every --name= the help shows is
// accepted: the stage flags by the binary, the provider's arguments and
// inputs by credprovider.ParseArgs.
func TestCLIHelpListsOnlyWhatIsAccepted(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	help := string(out)
	flagsPart, providerPart, ok := strings.Cut(help, "Credential provider:")
	if !ok {
		t.Fatalf("help has no credential provider section:\n%s", help)
	}
	names := func(s string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`--([a-z][a-z-]*)=`).FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	stageFlags := names(flagsPart)
	if len(stageFlags) == 0 {
		t.Fatal("help lists no stage flags")
	}
	for _, f := range stageFlags {
		// The post stage with no state does nothing: only the flag is judged.
		cmd := exec.Command(bin, "post", "--"+f+"="+t.TempDir())
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("help lists --%s=, which the binary refuses: %v\n%s", f, err, out)
		}
	}
	providerArgs := names(providerPart)
	for _, in := range config.Inputs {
		if !strings.Contains(providerPart, " "+in) {
			t.Errorf("help does not list input %s", in)
		}
		providerArgs = append(providerArgs, in)
	}
	for _, a := range providerArgs {
		args := []string{"--provider=jfrog", "--url=https://example.jfrog.io", "--provider-name=p", "--repository=r"}
		_, err := credprovider.ParseArgs(append(args, "--"+a+"=x"))
		if err != nil && strings.Contains(err.Error(), "unknown argument") {
			t.Errorf("help lists --%s=, which the credential provider refuses: %v", a, err)
		}
	}
	if _, err := credprovider.ParseArgs([]string{"--provider=crates-io", "--nonsense=x"}); err == nil || !strings.Contains(err.Error(), "unknown argument") {
		t.Errorf("ParseArgs accepted an unknown argument (err %v): the check above proves nothing", err)
	}
}

// actionEntries reads action.yml's inputs or outputs: name, default and
// description, in order.
func docActionEntries(t *testing.T, section string) [][3]string {
	t.Helper()
	data, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var out [][3]string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if regexp.MustCompile(`^[a-z]+:`).MatchString(line) {
			in = strings.HasPrefix(line, section+":")
			continue
		}
		if !in {
			continue
		}
		if m := regexp.MustCompile(`^  ([a-z-]+):$`).FindStringSubmatch(line); m != nil {
			out = append(out, [3]string{m[1]})
		} else if m := regexp.MustCompile(`^    (default|description): "?(.*?)"?$`).FindStringSubmatch(line); m != nil && len(out) > 0 {
			if m[1] == "default" {
				out[len(out)-1][1] = m[2]
			} else {
				out[len(out)-1][2] = m[2]
			}
		}
	}
	return out
}

// TestReadmeTablesMatchActionYML keeps README.md's inputs and outputs tables
// identical to action.yml: same names, order, defaults and descriptions.
func TestReadmeTablesMatchActionYML(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"inputs", "outputs"} {
		start := strings.Index(string(readme), "<!-- "+section+":begin -->")
		end := strings.Index(string(readme), "<!-- "+section+":end -->")
		if start < 0 || end < start {
			t.Fatalf("README.md has no %s table markers", section)
		}
		var rows []string
		for _, line := range strings.Split(string(readme)[start:end], "\n") {
			if strings.HasPrefix(line, "| `") {
				rows = append(rows, line)
			}
		}
		var want []string
		for _, e := range docActionEntries(t, section) {
			desc := strings.ReplaceAll(e[2], "|", `\|`)
			if section == "outputs" {
				want = append(want, "| `"+e[0]+"` | "+desc+" |")
				continue
			}
			def := ""
			if e[1] != "" {
				def = "`" + e[1] + "`"
			}
			want = append(want, "| `"+e[0]+"` | "+def+" | "+desc+" |")
		}
		if len(want) == 0 {
			t.Fatalf("no %s read from action.yml", section)
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("README.md %s table differs from action.yml.\nREADME:\n%s\naction.yml:\n%s", section, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestActionYMLMatchesConfig keeps action.yml's inputs and defaults the
// ones the code reads.
func TestActionYMLMatchesConfig(t *testing.T) {
	t.Parallel()
	var names []string
	for _, e := range docActionEntries(t, "inputs") {
		names = append(names, e[0])
		if got := config.Default(e[0]); got != e[1] {
			t.Errorf("input %s: action.yml default %q, code default %q", e[0], e[1], got)
		}
	}
	if strings.Join(names, " ") != strings.Join(config.Inputs, " ") {
		t.Errorf("action.yml inputs %v\ncode inputs %v", names, config.Inputs)
	}
}
