// Command playground shows cargo-oidc working on your machine against the
// local fakes: it runs the action's binary as the runner would, shows the
// step's log (masked), summary and outputs, then runs cargo fetch (or cargo
// publish for crates-io) with only what the action produced. It needs cargo.
//
//	go run ./e2e/cmd/playground [-provider jfrog|cloudsmith|crates-io|codeartifact|azure] [-mode token|provider]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cargo-oidc/cargo-oidc/e2e/cmd/internal/tool"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
)

func main() { os.Exit(harness.Command("playground", run)) }

// providers are the -provider values, in the order the help lists them.
var providers = []string{"jfrog", "cloudsmith", "crates-io", "codeartifact", "azure"}

const usage = `Usage: go run ./e2e/cmd/playground [-provider jfrog|cloudsmith|crates-io|codeartifact|azure] [-mode token|provider]

Runs the cargo-oidc step against local stand-ins of GitHub's OIDC issuer, the token service
and a Cargo registry (127.0.0.1 only), shows its log and step summary, then runs cargo.

`

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("playground", flag.ContinueOnError)
	provider := fs.String("provider", "jfrog", "token service: "+strings.Join(providers, ", ")+" or an alias the action takes")
	mode := fs.String("mode", "token", "credential-mode of the step: token (export a token) or provider (cargo asks cargo-oidc for each token)")
	if err := tool.Parse(fs, stdout, usage, args); err != nil {
		return err
	}
	p, ok := config.ParseProvider(*provider)
	if !ok || !slices.Contains(providers, string(p)) {
		return fmt.Errorf("-provider %q: want one of %s (or an alias the action takes: artifactory, crates.io, aws-codeartifact, azure-artifacts)", *provider, strings.Join(providers, ", "))
	}
	if *mode != "token" && *mode != "provider" {
		return fmt.Errorf("-mode %q: want token or provider", *mode)
	}
	if err := tool.LookPath("install Rust (https://rustup.rs) and run the playground again", "cargo"); err != nil {
		return err
	}

	// Everything shown is masked as the runner masks its log.
	red := exchange.NewRedactor()
	say := func(format string, a ...any) {
		for _, line := range strings.Split(strings.TrimRight(fmt.Sprintf(format, a...), "\n"), "\n") {
			fmt.Fprintln(stdout, red.Redact(line))
		}
	}
	s, err := fakes.Start(fakes.Options{})
	if err != nil {
		return fmt.Errorf("start the local services: %w", err)
	}
	defer s.Close()
	say("== 1. Local services (127.0.0.1 only, TLS with a throw-away CA): GitHub's OIDC issuer at %s,", s.IssuerURL)
	say("   the %s token service and a Cargo registry holding %s %s; the step below names them", p, fakes.DefaultCrate, fakes.DefaultCrateVersion)
	env := map[string]string{
		"SSL_CERT_FILE":     s.CAFile, // the action and the provider trust the local CA
		"CARGO_HTTP_CAINFO": s.CAFile, // and so does cargo
		"CARGO_TERM_COLOR":  "never",
		"CARGO_NET_RETRY":   "0",
	}
	switch p {
	case config.CodeArtifact:
		maps.Copy(env, s.AWSEnv()) // the local endpoints, as a VPC endpoint would be given
	case config.Azure:
		maps.Copy(env, s.AzureEnv()) // the local authority, as a sovereign cloud's would be given
	}
	inputs := map[config.Provider]func() map[string]string{config.JFrog: s.JFrogInputs, config.Cloudsmith: s.CloudsmithInputs,
		config.CratesIO: s.CratesIOInputs, config.CodeArtifact: s.CodeArtifactInputs, config.Azure: s.AzureInputs}[p]()
	inputs["provider"] = *provider // as given: the action reads the alias itself
	inputs["credential-mode"] = *mode

	// Quotes where YAML would read another type: an AWS account ID read as
	// a number loses its leading zeros.
	job, err := yaml.Marshal(map[string]any{"env": env, "steps": []any{map[string]any{
		"uses": "cargo-oidc/cargo-oidc@v1", "id": "registry", "with": inputs}}})
	if err != nil {
		return err
	}
	say("\n== 2. The job (building cargo-oidc first)\n%s", indent("     ", string(job)))
	dir, err := os.MkdirTemp("", "cargo-oidc-playground-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	j, res, err := tool.RunAction(ctx, s, dir, env, inputs)
	if err != nil {
		return err
	}
	for _, m := range res.Masks {
		red.Add(m)
	}
	say("\n== 3. The step's log, as the Actions page shows it\n%s", renderLog(res))
	say("\n== 4. The step summary it wrote (GITHUB_STEP_SUMMARY, markdown)\n%s", indent("   ", res.Summary))
	if res.Failed() {
		return fmt.Errorf("the action step failed (exit %d)", res.ExitCode)
	}
	say("\n== 5. Its outputs (steps.registry.outputs.*; the log shows what it exported to GITHUB_ENV)")
	for _, k := range slices.Sorted(maps.Keys(res.Outputs)) {
		if res.Outputs[k] != "" {
			say("     %-17s %s", k, res.Outputs[k])
		}
	}

	cmd, err := cargo(j, s, p, res.Outputs["registry-name"])
	if err != nil {
		return err
	}
	cargoRes, err := j.RunCmd(ctx, cmd)
	if err != nil {
		return err
	}
	say("\n== 6. A later step: cargo %s\n%s", strings.Join(cmd.Args, " "), indent("   ", cargoRes.Combined()))
	if cargoRes.Failed() {
		return fmt.Errorf("cargo %s failed (exit %d)", cmd.Args[0], cargoRes.ExitCode)
	}
	what := fmt.Sprintf("fetched %s %s", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	if p == config.CratesIO {
		what = "published playground 0.1.0"
	}
	how := "with the exported token"
	if *mode == "provider" {
		how = fmt.Sprintf("through the credential provider (%d exchange(s): the step's token seeds the provider's cache, cargo reuses it)", s.Store.Exchanges(string(p)))
	}
	say("\nOK: cargo %s %s. Try the other -mode, or another -provider: %s.", what, how, strings.Join(providers, ", "))
	return nil
}

func indent(prefix, text string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", "\n"+prefix)
}

// cargo writes a crate into j's workspace and returns the later step that
// publishes it (crates.io) or fetches its dependency from registry.
func cargo(j *runner.Job, s *fakes.Stack, p config.Provider, registry string) (runner.Cmd, error) {
	manifest := "[package]\nname = \"playground\"\nversion = \"0.1.0\"\nedition = \"2021\"\n" +
		"description = \"cargo-oidc playground\"\nlicense = \"MIT\"\n\n[lib]\npath = \"lib.rs\"\n"
	cmd := runner.Cmd{Name: "cargo", Args: []string{"publish", "--allow-dirty", "--no-verify"},
		Env: map[string]string{fakes.CratesIOURLEnv: s.CratesIOIndex}}
	if p != config.CratesIO {
		manifest += "\n[dependencies]\n" + fakes.DefaultCrate + " = { version = \"1\", registry = \"" + registry + "\" }\n"
		cmd = runner.Cmd{Name: "cargo", Args: []string{"fetch"}}
	}
	return cmd, errors.Join(os.WriteFile(filepath.Join(j.Workspace(), "lib.rs"), nil, 0o644),
		os.WriteFile(filepath.Join(j.Workspace(), "Cargo.toml"), []byte(manifest), 0o644))
}

// renderLog turns the step's output into what the Actions page shows.
func renderLog(res *runner.StepResult) string {
	var b strings.Builder
	cmds, indent := res.Commands, "   "
	for _, line := range strings.Split(strings.TrimRight(res.Stdout+"\n"+res.Stderr, "\n"), "\n") {
		if len(cmds) == 0 || !strings.HasPrefix(strings.TrimSpace(line), "::"+cmds[0].Name) {
			fmt.Fprintf(&b, "%s%s\n", indent, strings.TrimRight(line, "\r"))
			continue
		}
		c := cmds[0]
		cmds = cmds[1:]
		switch c.Name {
		case "add-mask", "debug":
		case "group":
			fmt.Fprintf(&b, "   > %s\n", c.Data)
			indent = "     "
		case "endgroup":
			indent = "   "
		case "notice", "warning", "error":
			label := strings.ToUpper(c.Name[:1]) + c.Name[1:]
			if t := c.Properties["title"]; t != "" {
				label += " (" + t + ")"
			}
			fmt.Fprintf(&b, "   %s: %s\n", label, strings.ReplaceAll(c.Data, "\n", "\n     "))
		default:
			fmt.Fprintf(&b, "%s%s\n", indent, line)
		}
	}
	return b.String()
}
