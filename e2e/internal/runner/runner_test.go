package runner

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// fakeAction writes file commands and state, and fails as INPUT_MODE says.
const fakeAction = `#!/bin/sh
if [ "$1" = post ]; then echo "POST_SAW=$STATE_cwd" >>"$GITHUB_ENV"; exit 0; fi
case "$INPUT_MODE" in
bad) printf 'broken<<EOF\nno end\n' >>"$GITHUB_OUTPUT" ;;
fail) echo '::error title=a%3Ab,line=1::it failed%0Ahere' >&2; exit 3 ;;
esac
echo "::add-mask::s3cr3t"
printf 'token<<ghadelimiter_1\ns3cr3t\nghadelimiter_1\n' >>"$GITHUB_OUTPUT"
echo FOO=bar >>"$GITHUB_ENV"
echo "cwd=$PWD" >>"$GITHUB_STATE"
`

const fakeActionYAML = `inputs:
  mode:
    default: ok
  with space:
    default: spaced
  ws:
    default: ${{ github.workspace }}/x
  no-default:
runs:
  using: docker
  image: Dockerfile
  args: ["--ws=${{ inputs.ws }}", "${{ inputs.mode }}"]
  env:
    FROM_RUNS: ${{ inputs.mode }}
  post-entrypoint: /post
`

// TestJob: what the e2e verdicts rest on and the real binary cannot show.
func TestJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := testenv.WriteFile(t, dir, "action", fakeAction)
	testenv.Must(t, os.Chmod(bin, 0o755))
	a, err := LoadAction(testenv.WriteFile(t, dir, "action.yml", fakeActionYAML))
	testenv.Must(t, err)
	j := NewJob(t, Options{IDTokenURL: "https://127.0.0.1:1/token", IDTokenToken: "request-token", Debug: true, Env: map[string]string{"E": "1"}})
	ctx := t.Context()
	res, err := j.RunAction(ctx, Host(bin), a, Step{ID: "auth", Inputs: map[string]string{"unknown": "u"}, Env: map[string]string{"STEP_ENV": "s"}})
	if err != nil || res.Failed() {
		t.Fatalf("%v, exit %d: %s", err, res.ExitCode, res.Combined())
	}
	if want := []string{"--ws=" + j.Workspace() + "/x", "ok"}; !slices.Equal(res.Args, want) {
		t.Errorf("args %q, want %q", res.Args, want)
	}
	for _, kv := range []string{"INPUT_MODE=ok", "INPUT_WITH_SPACE=spaced", "INPUT_WS=" + j.Workspace() + "/x", "INPUT_UNKNOWN=u",
		"FROM_RUNS=ok", "STEP_ENV=s", "E=1", "HOME=" + j.GitHubHome(), "GITHUB_ACTION=auth", "RUNNER_DEBUG=1",
		"ACTIONS_ID_TOKEN_REQUEST_URL=https://127.0.0.1:1/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=request-token", "GITHUB_ACTIONS=true",
		"GITHUB_REPOSITORY=octo-org/octo-repo", "GITHUB_WORKFLOW_REF=octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main"} {
		if !slices.Contains(res.Environ, kv) {
			t.Errorf("the action's environment lacks %s", kv)
		}
	}
	if slices.ContainsFunc(res.Environ, func(kv string) bool { return strings.HasPrefix(kv, "INPUT_NO-DEFAULT=") }) {
		t.Errorf("an input without default and value was set")
	}
	if want := []string{"Unexpected input(s) 'unknown'"}; !slices.Equal(res.Warnings, want) {
		t.Errorf("warnings %q, want %q", res.Warnings, want)
	}
	if res.Outputs["token"] != "s3cr3t" || !slices.Equal(res.Masks, []string{"s3cr3t"}) || res.State["cwd"] != j.Workspace() {
		t.Errorf("outputs %q, masks %q, state %q", res.Outputs, res.Masks, res.State)
	}
	if run, err := j.Run(ctx, "sh", "-c", `echo "$FOO"`); err != nil || run.Stdout != "bar\n" {
		t.Errorf("a later step did not get GITHUB_ENV: %v %+v", err, run)
	}
	post, err := j.RunPost(ctx, "auth")
	if err != nil || post == nil || post.Stage != Post || post.Env["POST_SAW"] != j.Workspace() {
		t.Fatalf("post stage: %v %+v", err, post)
	}
	bad, err := j.RunAction(ctx, Host(bin), a, Step{ID: "bad", Inputs: map[string]string{"mode": "bad"}})
	if fe := (*FileCommandError)(nil); !errors.As(err, &fe) || fe.File != "GITHUB_OUTPUT" || bad == nil {
		t.Errorf("a heredoc without its end: %v", err)
	}
	failed, err := j.RunAction(ctx, Host(bin), a, Step{ID: "fails", Inputs: map[string]string{"mode": "fail"}})
	want := []Command{{Name: "error", Properties: map[string]string{"title": "a:b", "line": "1"}, Data: "it failed\nhere"}}
	if err != nil || failed.ExitCode != 3 || !reflect.DeepEqual(failed.Commands, want) {
		t.Errorf("failing action: %v, exit %d, commands %+v", err, failed.ExitCode, failed.Commands)
	}
	unchecked := &Action{Runs: Runs{Using: "docker", Args: []string{"${{ runner.temp }}"}}}
	if _, err := j.RunAction(ctx, Host(bin), unchecked, Step{}); err == nil || !strings.Contains(err.Error(), "Unrecognized named-value: 'runner'") {
		t.Errorf("an action built in code with runner in runs.args ran: %v", err)
	}
	var stages []string
	for _, r := range j.Results() {
		stages = append(stages, r.ID+"/"+string(r.Stage))
	}
	if want := []string{"auth/main", "step2/", "auth/post", "bad/main", "fails/main"}; !slices.Equal(stages, want) {
		t.Errorf("results %q, want %q", stages, want)
	}
}

// TestValidate: what GitHub refuses to load does not load here either.
func TestValidate(t *testing.T) {
	docker := func(body string) string { return "runs:\n  using: docker\n" + body }
	args := func(a ...string) string { return docker("  args:\n    - " + strings.Join(a, "\n    - ") + "\n") }
	def := func(v string) string { return "inputs:\n  a:\n    default: " + v + "\n" + docker("") }
	out := func(v string) string { return "outputs:\n  t:\n    value: " + v + "\nruns:\n  using: composite\n" }
	step := func(s string) string { return "runs:\n  using: composite\n  steps:\n    - " + s + "\n" }
	testenv.Run(t, map[string]struct{ doc, want string }{ // want "" means valid
		"args inputs": {args("--a=${{ inputs.a }}"), ""},
		"args github": {args("--host-workspace=${{ github.workspace }}"),
			"runs.args[0]: Unrecognized named-value: 'github'. Located at position 1 within expression: github.workspace"},
		"args runner":            {args("x", "${{ runner.temp }}"), "runs.args[1]: Unrecognized named-value: 'runner'"},
		"args hashFiles":         {args("${{ hashFiles('x') }}"), "Unrecognized function: 'hashFiles'"},
		"args builtin function":  {args("${{ format('{0}', inputs.a) }}"), ""},
		"args string literal":    {args("${{ 'github.workspace' }}"), ""},
		"args second expression": {args("${{ inputs.a }}/${{ github.sha }}"), "Located at position 1 within expression: github.sha"},
		"args position": {args("${{ inputs.a || secrets.X }}"),
			"Unrecognized named-value: 'secrets'. Located at position 13 within expression: inputs.a || secrets.X"},
		"args open literal":                 {args("${{ 'x }}"), "Unexpected symbol: ''x'"},
		"env inputs":                        {docker("  env:\n    A: ${{ inputs.a }}\n"), ""},
		"env github":                        {docker("  env:\n    A: ${{ github.token }}\n"), "runs.env.A: Unrecognized named-value: 'github'"},
		"default github runner":             {def("${{ github.workspace }}:${{ runner.temp }}:${{ job.status }}"), ""},
		"default matrix strategy hashFiles": {def("${{ matrix.os }}-${{ strategy.job-index }}-${{ hashFiles('Cargo.lock') }}"), ""},
		"default inputs":                    {def("${{ inputs.b }}"), "inputs.a.default: Unrecognized named-value: 'inputs'"},
		"default env":                       {def("${{ env.X }}"), "Unrecognized named-value: 'env'"},
		"default steps":                     {def("${{ steps.x.outputs.y }}"), "Unrecognized named-value: 'steps'"},
		"output value steps":                {out("${{ steps.a.outputs.t }}${{ env.X }}${{ inputs.y }}${{ github.sha }}"), ""},
		"output value secrets":              {out("${{ secrets.T }}"), "outputs.t.value: Unrecognized named-value: 'secrets'"},
		"output value hashFiles":            {out("${{ hashFiles('x') }}"), "Unrecognized function: 'hashFiles'"},
		"composite step with":               {step("uses: ./\n      if: always() && inputs.a == 'x'\n      with:\n        a: ${{ inputs.a }}${{ env.B }}"), ""},
		"composite step secrets":            {step("run: echo ${{ secrets.X }}\n      shell: bash"), "runs.steps[0].run: Unrecognized named-value: 'secrets'"},
		"composite step if":                 {step("run: x\n      shell: bash\n      if: ${{ vars.X }}"), "runs.steps[0].if: Unrecognized named-value: 'vars'"},
		"composite step bare if":            {step("run: x\n      if: failure() || vars.X"), "runs.steps[0].if: Unrecognized named-value: 'vars'. Located at position 14"},
		"no runs":                           {"name: x\n", "runs.using is missing"},
	}, func(t *testing.T, _ string, c struct{ doc, want string }) {
		_, err := LoadAction(testenv.WriteFile(t, t.TempDir(), "action.yml", c.doc))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Fatalf("error %v, want one containing %q", err, c.want)
		}
	})
}

// FuzzParseAction: parsing and validating never panics or loops.
func FuzzParseAction(f *testing.F) {
	f.Add([]byte(fakeActionYAML))
	f.Add([]byte("inputs:\n  a:\n    required: True\n    default: ${{ github.x }}\noutputs:\n  o:\nruns:\n  using: composite\n  steps:\n    - if: a(')\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if a, err := ParseAction(data); err == nil {
			_ = a.Validate()
		}
	})
}

func TestParseFileCommand(t *testing.T) {
	type result struct {
		want    []Entry
		wantErr string
	}
	ok := func(e ...Entry) result { return result{want: e} }
	testenv.Run(t, map[string]result{
		"":                              ok(),
		"A=1\nB=two words\n":            ok(Entry{"A", "1"}, Entry{"B", "two words"}),
		"URL=https://x/?a=b=c\n":        ok(Entry{"URL", "https://x/?a=b=c"}),
		"A=\n":                          ok(Entry{"A", ""}),
		"A=1":                           ok(Entry{"A", "1"}),
		"\n\nA=1\n\n":                   ok(Entry{"A", "1"}),
		"M<<EOF\nline 1\nline 2\nEOF\n": ok(Entry{"M", "line 1\nline 2"}),
		"M<<EOF\nEOF\n":                 ok(Entry{"M", ""}),
		"M<<EOF\n\nEOF\n":               ok(Entry{"M", ""}),
		"M<<EOF\na\n\nb\nEOF\n":         ok(Entry{"M", "a\n\nb"}),
		"M<<EOF\nv\nEOF":                ok(Entry{"M", "v"}),
		"M<<EOF\nA=1\nEOF\nB=2\n":       ok(Entry{"M", "A=1"}, Entry{"B", "2"}),
		"A=x<<EOF\n":                    ok(Entry{"A", "x<<EOF"}),
		"A<<E=F\nv\nE=F\n":              ok(Entry{"A", "v"}),
		"A=1\r\nB=2\r\n":                ok(Entry{"A", "1\r"}, Entry{"B", "2\r"}),
		// On Linux the runner splits on "\n" only: the delimiter is "EOF\r",
		// which a CRLF file's end line matches, and the value keeps its CR.
		"M<<EOF\r\nv\r\nEOF\r\n": ok(Entry{"M", "v\r"}),
		"M<<EOF\r\nv\nEOF\n":     {nil, "matching delimiter not found"},
		"M<<EOF\nv\r\nEOF\r\n":   {nil, "matching delimiter not found"},
		"\xef\xbb\xbfA=1\n":      ok(Entry{"A", "1"}),
		"M<<EOF\nvalue\n":        {nil, "matching delimiter not found"},
		"M<<EOF\nvalue":          {nil, "EOF marker missing new line"},
		"M<<EOF\nEOFX\n":         {nil, "matching delimiter not found"},
		"=1\n":                   {nil, "name must not be empty"},
		"<<EOF\nx\nEOF\n":        {nil, "name must not be empty"},
		"M<<\nx\n":               {nil, "delimiter must not be empty"},
		"JUSTTEXT\n":             {nil, "invalid format"},
		"A=1\nBAD\n":             {[]Entry{{"A", "1"}}, "invalid format"},
	}, func(t *testing.T, in string, c result) {
		got, err := ParseFileCommand("GITHUB_ENV", []byte(in))
		var fe *FileCommandError
		if c.wantErr == "" && err != nil || c.wantErr != "" && (!errors.As(err, &fe) || fe.File != "GITHUB_ENV" || !strings.Contains(err.Error(), c.wantErr)) {
			t.Fatalf("error %v, want a *FileCommandError containing %q", err, c.wantErr)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("entries %q, want %q", got, c.want)
		}
	})
}

// FuzzParseFileCommand: the parser never panics, stops at a rejected file,
// and reads back any heredoc whose value lacks its delimiter.
func FuzzParseFileCommand(f *testing.F) {
	f.Add([]byte("A=1\nM<<EOF\nx\nEOF\n"), "NAME", "value\nwith lines", "ghadelimiter_123")
	f.Add([]byte("M<<EOF\r\nv\r\n"), "X", "", "EOF")
	f.Add([]byte("=\n<<\n"), "N=Y", "a=b", "D")
	f.Add([]byte("\xef\xbb\xbf"), "N", "EOF\nEOF", "EOF")
	f.Fuzz(func(t *testing.T, data []byte, name, value, delim string) {
		entries, err := ParseFileCommand("GITHUB_OUTPUT", data)
		if fe := (*FileCommandError)(nil); err != nil && !errors.As(err, &fe) {
			t.Fatalf("error of type %T", err)
		}
		for _, e := range entries {
			if e.Name == "" {
				t.Fatalf("entry with an empty name from %q", data)
			}
		}
		if name == "" || delim == "" || strings.ContainsAny(name, "\n=<") || strings.Contains(delim, "\n") ||
			strings.Contains(value+"\n", delim) || strings.Contains("\n"+value, "\n"+delim) {
			return
		}
		text := name + "<<" + delim + "\n" + value + "\n" + delim + "\nAFTER=1\n"
		got, err := ParseFileCommand("GITHUB_OUTPUT", []byte(text))
		if want := []Entry{{name, value}, {"AFTER", "1"}}; err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q: got %q, %v; want %q", text, got, err, want)
		}
	})
}
