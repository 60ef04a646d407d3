package act

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	actharness "github.com/cargo-oidc/cargo-oidc/e2e/internal/act"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// actionFiles are what `uses: ./` needs of the repository: action.yml and
// everything the Dockerfile copies.
var actionFiles = []string{"action.yml", "Dockerfile", "go.mod", "go.sum", "main.go", "exchange", "cargoconf", "internal"}

// jfrogWorkflow is the job a user writes: the action, a later step that
// reads its outputs, cargo fetch with only what the action exported, a
// composite action wrapping it, the organisation wrapper of
// examples/composite, and replace-crates-io with an existing
// .cargo/config.toml. @NAME@ are filled in by the test.
const jfrogWorkflow = `name: act-jfrog
on: push
permissions:
  id-token: write
  contents: read
jobs:
  jfrog:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        id: reg
        with:
          provider: jfrog
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
      - name: read the outputs
        run: |
@ECHO_REG@
          echo "ENV_TOKEN_SET=${CARGO_REGISTRIES_ARTIFACTORY_TOKEN:+yes}"
      - run: echo /opt/rust/bin >> "$GITHUB_PATH"
      - name: cargo fetch
        working-directory: crate
        env:
          CARGO_HTTP_CAINFO: @CA@
        run: cargo fetch && echo "FETCH=ok"
      - uses: ./.github/actions/wrap
        id: wrap
        with:
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
      - name: read the wrapper's outputs
        run: |
@ECHO_WRAP@
      - uses: ./.github/actions/setup-cargo-registry
        id: org
        with:
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
      - name: read the example wrapper's outputs
        run: |
@ECHO_ORG@
      - uses: ./
        id: replace
        with:
          provider: jfrog
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
          replace-crates-io: true
          config-file: replaced/.cargo/config.toml
      - name: cargo fetch through the replacement
        working-directory: replaced
        env:
          CARGO_HTTP_CAINFO: @CA@
        run: |
          echo "REPLACE_CONFIG_FILE=${{ steps.replace.outputs.config-file }}"
          cargo fetch && echo "REPLACED_FETCH=ok"
`

// failureWorkflow has a wrong provider-name, and settings act's layout
// cannot deliver (provider mode needs a HOME shared with later steps, a
// credentials file under runner.temp needs runner.temp mounted).
const failureWorkflow = `name: act-failures
on: push
permissions:
  id-token: write
jobs:
  wrong-provider:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        id: reg
        with:
          provider: jfrog
          url: @JFROG_URL@
          provider-name: no-such-integration
          repository: @REPO@
      - if: always()
        run: |
          echo "OUTCOME=${{ steps.reg.outcome }}"
          echo "CARGO_VARS=$(env | grep -c '^CARGO_REGISTR' || true)"
          echo "TOKEN_OUTPUT=[${{ steps.reg.outputs.token }}]"
  act-layout:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        id: provider
        continue-on-error: true
        with:
          provider: jfrog
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
          credential-mode: provider
      - uses: ./
        id: temp
        continue-on-error: true
        with:
          provider: jfrog
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
          credentials-file: ${{ runner.temp }}/cargo-credentials.toml
      - run: echo "OUTCOMES=${{ steps.provider.outcome }},${{ steps.temp.outcome }}"
`

// refusedWorkflow uses a container action whose runs.args names the github
// context, as cargo-oidc's action.yml once did.
const refusedWorkflow = `name: act-refused
on: push
jobs:
  refused:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/refused
`

// refusedAction is a container action GitHub's runner refuses to load.
const refusedAction = `name: refused
description: runs.args may use the inputs context only.
inputs:
  host-temp:
    default: ${{ runner.temp }}
runs:
  using: docker
  image: Dockerfile
  args:
    - --host-workspace=${{ github.workspace }}
    - --host-temp=${{ inputs.host-temp }}
`

// userConfig is a .cargo/config.toml the user already has.
const userConfig = `# Team settings: keep this comment.
[net]
retry = 3 # retries on spurious network errors

[alias]
b = "build" # short
`

// TestAct runs the action through nektos/act over Podman's Docker API, from
// the real Dockerfile, the way a user's workflow would on GitHub.
func TestAct(t *testing.T) {
	actBin, toolchain := requireAct(t)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	root := harness.Root(t)
	engine, err := container.New("")
	if err != nil {
		t.Fatal(err)
	}
	engine.Log = os.Stdout
	// act builds the Dockerfile and cannot pull its FROM image.
	if _, err := engine.EnsureBaseImage(ctx, filepath.Join(root, "Dockerfile"), root); err != nil {
		t.Fatal(err)
	}
	r, err := actharness.Start(ctx, engine, actharness.Options{Act: actBin, Toolchain: toolchain, Log: os.Stdout})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	caDir := t.TempDir()
	s := fakes.StartT(t, fakes.Options{Dir: caDir})
	action, err := runner.LoadAction(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	repo := makeRepo(t, ctx, root, action)
	fill := strings.NewReplacer("@JFROG_URL@", s.JFrogURL, "@PROVIDER@", s.JFrog.ProviderName,
		"@REPO@", jfrogRepo(s.JFrogIndex), "@CA@", s.CAFile,
		"@ECHO_REG@", echoOutputs(action, "reg", "OUT"), "@ECHO_WRAP@", echoOutputs(action, "wrap", "WRAP"),
		"@ECHO_ORG@", echoOutputs(action, "org", "ORG"))
	writeFile(t, filepath.Join(repo, ".github/workflows/jfrog.yml"), fill.Replace(jfrogWorkflow))
	writeFile(t, filepath.Join(repo, ".github/workflows/failures.yml"), fill.Replace(failureWorkflow))
	writeFile(t, filepath.Join(repo, ".github/workflows/refused.yml"), refusedWorkflow)
	writeCodeArtifact(t, repo, s)
	writeFile(t, filepath.Join(repo, ".github/actions/refused/action.yml"), refusedAction)
	writeFile(t, filepath.Join(repo, ".github/actions/refused/Dockerfile"), "FROM scratch\n")
	if err := actharness.InitRepo(ctx, repo); err != nil {
		t.Fatal(err)
	}

	run := func(workflow, job string) *actharness.Result {
		t.Helper()
		res, err := r.Run(ctx, actharness.Run{
			Dir: repo, Workflow: ".github/workflows/" + workflow, Job: job,
			// What GitHub gives a job with permissions: id-token: write,
			// and the fake services' CA for the action (as a proxy's CA
			// would be given).
			Env: map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": s.RequestURL,
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.RequestToken, "SSL_CERT_FILE": s.CAFile},
			Mounts:  []actharness.Mount{{Host: caDir, Container: caDir, ReadOnly: true}, {Host: toolchain, Container: "/opt/rust", ReadOnly: true}},
			Timeout: 8 * time.Minute,
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, tail(res))
		}
		t.Logf("act %s (job %s): exit %d in %s", workflow, job, res.ExitCode, res.Duration.Round(10*time.Millisecond))
		for _, line := range strings.Split(res.Output, "\n") {
			if strings.Contains(line, "Success - ") || strings.Contains(line, "Failure - ") {
				t.Log(strings.TrimSpace(line))
			}
		}
		return res
	}

	var logs []*actharness.Result
	t.Run("jfrog", func(t *testing.T) {
		res := run("jfrog.yml", "jfrog")
		logs = append(logs, res)
		if res.Failed() {
			t.Fatalf("the job failed:\n%s", res.Output)
		}
		want := map[string]string{"token": "***", "registry-name": "artifactory", "index-url": s.JFrogIndex,
			"config-file": "", "credentials-file": ""}
		for _, prefix := range []string{"OUT", "WRAP", "ORG"} {
			for _, out := range action.Outputs {
				got, ok := res.Value(prefix + "_" + out.Name)
				if !ok {
					t.Errorf("%s_%s: a later step did not print the output", prefix, out.Name)
					continue
				}
				if w, fixed := want[out.Name]; fixed && got != w {
					t.Errorf("%s_%s = %q, want %q", prefix, out.Name, got, w)
				}
				if out.Name == "expires-at" {
					// Each wrapper exchanges anew: its own expiry.
					if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(got) {
						t.Errorf("%s_expires-at %q is not RFC 3339", prefix, got)
					}
					continue
				}
				if first, _ := res.Value("OUT_" + out.Name); got != first {
					t.Errorf("%s_%s = %q, but the action's own output is %q: the wrapper did not forward it", prefix, out.Name, got, first)
				}
			}
		}
		for key, want := range map[string]string{"ENV_TOKEN_SET": "yes", "FETCH": "ok", "REPLACED_FETCH": "ok",
			"REPLACE_CONFIG_FILE": filepath.Join(repo, "replaced/.cargo/config.toml")} {
			if got, _ := res.Value(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		cfg, err := os.ReadFile(filepath.Join(repo, "replaced/.cargo/config.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(cfg), userConfig) || !strings.Contains(string(cfg), `replace-with = "artifactory"`) {
			t.Errorf("replaced/.cargo/config.toml lost the user's settings or has no replacement:\n%s", cfg)
		}
		if _, err := os.Stat(filepath.Join(repo, "crate/Cargo.lock")); err != nil {
			t.Errorf("cargo fetch left no Cargo.lock: %v", err)
		}
	})

	t.Run("wrong provider-name", func(t *testing.T) {
		res := run("failures.yml", "wrong-provider")
		logs = append(logs, res)
		if !res.Failed() {
			t.Fatalf("the job passed with a wrong provider-name:\n%s", res.Output)
		}
		if !regexp.MustCompile(`::error title=cargo-oidc%3A JFrog refused the token exchange::.*no-such-integration`).MatchString(res.Output) {
			t.Errorf("no ::error annotation naming the integration:\n%s", res.Output)
		}
		for key, want := range map[string]string{"OUTCOME": "failure", "CARGO_VARS": "0", "TOKEN_OUTPUT": "[]"} {
			if got, ok := res.Value(key); got != want {
				t.Errorf("the if: always() step: %s = %q (printed %v), want %q", key, got, ok, want)
			}
		}
	})

	t.Run("act layout", func(t *testing.T) {
		before := s.Store.Exchanges("")
		res := run("failures.yml", "act-layout")
		logs = append(logs, res)
		if got, _ := res.Value("OUTCOMES"); got != "failure,failure" {
			t.Errorf("outcomes %q, want failure,failure:\n%s", got, res.Output)
		}
		for _, want := range []string{
			`::error title=cargo-oidc%3A cannot use credential-mode%3A provider on this runner::credential-mode: provider installs the provider under HOME, but HOME is "[^"]*", not /github/home`,
			`::error title=cargo-oidc%3A this runner cannot deliver the file::input credentials-file: "/tmp/cargo-credentials.toml" is under runner.temp \(/tmp\), which this runner does not mount`,
		} {
			if !regexp.MustCompile(want).MatchString(res.Output) {
				t.Errorf("no annotation %q:\n%s", want, res.Output)
			}
		}
		if n := s.Store.Exchanges("") - before; n != 0 {
			t.Errorf("%d exchanges: the checks must come before the exchange", n)
		}
	})

	// The emulation and act agree on what the runner refuses to load.
	t.Run("disallowed context", func(t *testing.T) {
		_, err := runner.LoadAction(filepath.Join(repo, ".github/actions/refused/action.yml"))
		if err == nil || !strings.Contains(err.Error(), "runs.args[0]: Unrecognized named-value: 'github'") {
			t.Errorf("the emulation loaded it: %v", err)
		}
		res := run("refused.yml", "refused")
		logs = append(logs, res)
		if !res.Failed() || !strings.Contains(res.Output, "Unknown Variable Access github") {
			t.Errorf("act did not refuse runs.args with the github context:\n%s", res.Output)
		}
	})

	t.Run("codeartifact", func(t *testing.T) {
		res := run("codeartifact.yml", "codeartifact")
		logs = append(logs, res)
		checkCodeArtifact(t, s, res)
	})

	t.Run("no secret in any log", func(t *testing.T) {
		kinds := map[string]int{}
		for _, tok := range s.Store.Tokens() {
			kinds[tok.Kind]++
		}
		// The jfrog job exchanges four times, the wrong provider-name once.
		if kinds[fakes.KindIDToken] < 5 || kinds[fakes.KindAccessToken] < 4 {
			t.Fatalf("the fakes issued %v; want at least 5 ID tokens and 4 access tokens", kinds)
		}
		secrets := s.Store.Secrets()
		for i, res := range logs {
			for _, sec := range secrets {
				if strings.Contains(res.Output, sec) {
					t.Errorf("act log %d (%v) contains a secret the fakes issued (%d chars)", i, res.Args[:3], len(sec))
				}
			}
		}
		t.Logf("scanned %d act logs (%d bytes) for %d secrets", len(logs), totalLen(logs), len(secrets))
	})
	fmt.Printf("e2e act: %d act runs, %s in all (including the Podman service and the job image)\n", len(logs), time.Since(start).Round(100*time.Millisecond))
}

// requireAct skips under -short and checks what every act test needs:
// Podman, act and a Rust toolchain. It returns act's path and the
// toolchain's sysroot (mounted read-only into the job container).
func requireAct(t *testing.T) (actBin, toolchain string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: -short")
	}
	harness.Require(t, "Podman", container.Available())
	actBin, err := actharness.Find()
	harness.Require(t, "act", err)
	rustc, err := exec.LookPath("rustc")
	harness.Require(t, "rustc", err)
	sysroot, err := exec.Command(rustc, "--print", "sysroot").Output()
	harness.Require(t, "a Rust toolchain", err)
	return actBin, strings.TrimSpace(string(sysroot))
}

// makeRepo lays out the repository act runs: the action's files, a
// composite action wrapping it, examples/composite with its uses: pointed
// at ./, a crate depending on the registry and one using the user's
// config with crates.io replaced.
func makeRepo(t *testing.T, ctx context.Context, root string, action *runner.Action) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if err := actharness.CopyFiles(root, repo, actionFiles...); err != nil {
		t.Fatal(err)
	}
	var outs strings.Builder
	for _, o := range action.Outputs {
		fmt.Fprintf(&outs, "  %s:\n    description: %q\n    value: ${{ steps.inner.outputs.%s }}\n", o.Name, o.Description, o.Name)
	}
	writeFile(t, filepath.Join(repo, ".github/actions/wrap/action.yml"), `name: wrap
description: A composite action around cargo-oidc that forwards every output.
inputs:
  url:
    required: true
  provider-name:
    required: true
  repository:
    required: true
outputs:
`+outs.String()+`runs:
  using: composite
  steps:
    - uses: ./
      id: inner
      with:
        provider: jfrog
        url: ${{ inputs.url }}
        provider-name: ${{ inputs.provider-name }}
        repository: ${{ inputs.repository }}
`)
	example, err := os.ReadFile(filepath.Join(root, "examples/composite/action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	local := strings.Replace(string(example), "uses: cargo-oidc/cargo-oidc@v1", "uses: ./", 1)
	if local == string(example) {
		t.Fatal("examples/composite/action.yml has no `uses: cargo-oidc/cargo-oidc@v1` line to point at ./")
	}
	writeFile(t, filepath.Join(repo, ".github/actions/setup-cargo-registry/action.yml"), local)
	// The emulation holds both composite actions to the runner's rules too.
	for _, p := range []string{".github/actions/wrap/action.yml", ".github/actions/setup-cargo-registry/action.yml"} {
		if _, err := runner.LoadAction(filepath.Join(repo, p)); err != nil {
			t.Fatal(err)
		}
	}
	manifest := func(name, dep string) string {
		return fmt.Sprintf("[package]\nname = %q\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n%s\n", name, dep)
	}
	dep := fmt.Sprintf("%s = { version = %q, registry = \"artifactory\" }", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	writeFile(t, filepath.Join(repo, "crate/Cargo.toml"), manifest("act-e2e", dep))
	writeFile(t, filepath.Join(repo, "crate/src/lib.rs"), "")
	writeFile(t, filepath.Join(repo, "replaced/Cargo.toml"), manifest("act-e2e-replaced", fmt.Sprintf("%s = %q", fakes.DefaultCrate, fakes.DefaultCrateVersion)))
	writeFile(t, filepath.Join(repo, "replaced/src/lib.rs"), "")
	writeFile(t, filepath.Join(repo, "replaced/.cargo/config.toml"), userConfig)
	return repo
}

// echoOutputs returns run: lines printing every output of the action as
// step id's outputs, as PREFIX_<name>=<value>.
func echoOutputs(a *runner.Action, id, prefix string) string {
	var b strings.Builder
	for _, o := range a.Outputs {
		fmt.Fprintf(&b, "          echo \"%s_%s=${{ steps.%s.outputs.%s }}\"\n", prefix, o.Name, id, o.Name)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// jfrogRepo is the repository key in a JFrog index URL.
func jfrogRepo(index string) string {
	_, rest, _ := strings.Cut(index, "/api/cargo/")
	repo, _, _ := strings.Cut(rest, "/")
	return repo
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tail(res *actharness.Result) string {
	if res == nil {
		return ""
	}
	if len(res.Output) > 6000 {
		return "...\n" + res.Output[len(res.Output)-6000:]
	}
	return res.Output
}

func totalLen(rs []*actharness.Result) int {
	n := 0
	for _, r := range rs {
		n += len(r.Output)
	}
	return n
}
