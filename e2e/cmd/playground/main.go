// Command playground shows cargo-oidc working on your machine, with no
// registry account and no network beyond loopback. It starts a local GitHub
// OIDC issuer, a JFrog token service and an authenticated Cargo registry
// (e2e/internal/fakes), runs the action binary as the runner would, shows
// the step's log as the Actions page would (masked), the step's outputs and
// exported variables, and then runs `cargo fetch` in a small project that
// depends on a crate of that registry, with what the action produced.
//
//	go run ./e2e/cmd/playground [-mode token|provider] [-provider jfrog|codeartifact]
//
// It exits 0 when cargo fetch succeeded. It needs Go and cargo.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	harness.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "playground:", err)
		os.Exit(1)
	}
}

// run is the whole playground; everything it starts or creates is gone when
// it returns.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("playground", flag.ContinueOnError)
	fs.SetOutput(stdout)
	mode := fs.String("mode", "token", "credential-mode of the step: token (export a token) or provider (cargo asks cargo-oidc for each token)")
	provider := fs.String("provider", "jfrog", "token service: jfrog, or codeartifact (a local STS and CodeArtifact)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mode != "token" && *mode != "provider" {
		return fmt.Errorf("-mode %q: want token or provider", *mode)
	}
	if *provider != "jfrog" && *provider != "codeartifact" {
		return fmt.Errorf("-provider %q: want jfrog or codeartifact", *provider)
	}
	if _, err := exec.LookPath("cargo"); err != nil {
		return errors.New("cargo not found in PATH: install Rust (https://rustup.rs) and run the playground again")
	}

	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	say("== 1. Local services (127.0.0.1 only, TLS with a throw-away CA)")
	s, err := fakes.Start(fakes.Options{})
	if err != nil {
		return fmt.Errorf("start the local services: %w", err)
	}
	defer s.Close()
	say("   GitHub OIDC issuer   %s", s.IssuerURL)
	index := s.JFrogIndex
	if *provider == "codeartifact" {
		index = s.CodeArtifactIndex
		say("   AWS STS              %s (role %s)", s.STSURL, fakes.DefaultAWSRole)
		say("   AWS CodeArtifact     %s (domain %s of %s)", s.CodeArtifactURL, fakes.DefaultCADomain, fakes.DefaultAWSAccount)
	} else {
		say("   JFrog token service  %s (OIDC integration %q)", s.JFrogURL, s.JFrog.ProviderName)
	}
	say("   Cargo registry       %s (auth required, holds %s %s)", index, fakes.DefaultCrate, fakes.DefaultCrateVersion)

	say("\n== 2. Building cargo-oidc")
	bin, err := harness.Binary()
	if err != nil {
		return err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	a, err := runner.LoadAction(filepath.Join(root, "action.yml"))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cargo-oidc-playground-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := map[string]string{
		"SSL_CERT_FILE":     s.CAFile, // the action and the provider trust the local CA
		"CARGO_HTTP_CAINFO": s.CAFile, // and so does cargo
		"CARGO_TERM_COLOR":  "never",
		"CARGO_NET_RETRY":   "0",
	}
	inputs := s.JFrogInputs()
	if *provider == "codeartifact" {
		inputs = s.CodeArtifactInputs()
		for k, v := range s.AWSEnv() { // the local endpoints, as a VPC endpoint would be given
			env[k] = v
		}
	}
	j, err := runner.New(dir, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: env})
	if err != nil {
		return err
	}
	inputs["credential-mode"] = *mode
	say("   the step:")
	say("     - uses: cargo-oidc/cargo-oidc@v1")
	say("       id: registry")
	say("       with:")
	for _, k := range slices.Sorted(maps.Keys(inputs)) {
		say("         %s: %s", k, inputs[k])
	}

	say("\n== 3. The step's log, as the Actions page shows it")
	res, err := j.RunAction(ctx, runner.Host(bin), a, runner.Step{ID: "registry", Inputs: inputs})
	if err != nil {
		return fmt.Errorf("run the action: %w", err)
	}
	mask := masker(res.Masks)
	fmt.Fprint(stdout, renderLog(res.Combined(), mask))
	if res.Failed() {
		return fmt.Errorf("the action step failed (exit %d)", res.ExitCode)
	}

	say("\n== 4. What later steps get (masked)")
	say("   outputs (steps.registry.outputs.*):")
	for _, k := range slices.Sorted(maps.Keys(res.Outputs)) {
		if res.Outputs[k] != "" {
			say("     %-17s %s", k, mask(res.Outputs[k]))
		}
	}
	say("   environment (GITHUB_ENV):")
	for _, e := range res.EnvEntries {
		say("     %s=%s", e.Name, shorten(mask(e.Value)))
	}

	say("\n== 5. cargo fetch in a project depending on %s from the registry", fakes.DefaultCrate)
	files := map[string]string{
		"Cargo.toml": "[package]\nname = \"playground\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n" +
			fakes.DefaultCrate + " = { version = \"1\", registry = \"" + res.Outputs["registry-name"] + "\" }\n",
		"src/lib.rs": "pub fn hello() {}\n",
	}
	for name, content := range files {
		p := filepath.Join(j.Workspace(), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	say("   $ cargo fetch")
	fetch, err := j.Run(ctx, "cargo", "fetch")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(mask(fetch.Combined()), "\n"), "\n") {
		say("   %s", line)
	}
	if fetch.Failed() {
		return fmt.Errorf("cargo fetch failed (exit %d)", fetch.ExitCode)
	}
	how := "with the exported token"
	if *mode == "provider" {
		how = fmt.Sprintf("through the credential provider (%d exchanges: the step's and cargo's)", s.Store.Exchanges(*provider))
	}
	say("\nOK: cargo fetched %s %s %s. Try -mode=%s too.", fakes.DefaultCrate, fakes.DefaultCrateVersion, how, other(*mode))
	return nil
}

// masker replaces every masked value with ***, longest first, as the runner
// does in the log.
func masker(masks []string) func(string) string {
	ms := append([]string(nil), masks...)
	sort.Slice(ms, func(i, j int) bool { return len(ms[i]) > len(ms[j]) })
	var pairs []string
	for _, m := range ms {
		if strings.TrimSpace(m) != "" {
			pairs = append(pairs, m, "***")
		}
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

// renderLog turns the step's output into what a reader of the Actions page
// sees: no ::add-mask:: or ::debug:: lines, groups as headings, annotations
// labelled, masked values as ***.
func renderLog(out string, mask func(string) string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	indent := "   "
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		name, props, data, ok := command(line)
		switch {
		case !ok:
			fmt.Fprintf(&b, "%s%s\n", indent, mask(line))
		case name == "add-mask" || name == "debug" || name == "endgroup":
		case name == "group":
			fmt.Fprintf(&b, "   > %s\n", mask(data))
			indent = "     "
			continue
		case name == "notice" || name == "warning" || name == "error":
			label := strings.ToUpper(name[:1]) + name[1:]
			if t := props["title"]; t != "" {
				label += " (" + t + ")"
			}
			for i, l := range strings.Split(mask(data), "\n") {
				if i == 0 {
					fmt.Fprintf(&b, "   %s: %s\n", label, l)
				} else {
					fmt.Fprintf(&b, "     %s\n", l)
				}
			}
		default:
			fmt.Fprintf(&b, "%s%s\n", indent, mask(line))
		}
		if name == "endgroup" {
			indent = "   "
		}
	}
	return b.String()
}

// command parses a `::name k=v,k=v::data` workflow command line.
func command(line string) (name string, props map[string]string, data string, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(line), "::")
	if !found {
		return "", nil, "", false
	}
	head, data, found := strings.Cut(rest, "::")
	if !found {
		return "", nil, "", false
	}
	name, propText, _ := strings.Cut(head, " ")
	props = map[string]string{}
	for _, p := range strings.Split(propText, ",") {
		if k, v, ok := strings.Cut(p, "="); ok {
			props[k] = unescape(v)
		}
	}
	return name, props, unescape(data), true
}

func unescape(s string) string {
	return strings.NewReplacer("%0D", "", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%").Replace(s)
}

// shorten keeps a long value (the provider's command line) readable.
func shorten(v string) string {
	if len(v) <= 110 {
		return v
	}
	return v[:107] + "..."
}

func other(mode string) string {
	if mode == "token" {
		return "provider"
	}
	return "token"
}
