// Command playground shows cargo-oidc working on your machine, with no
// registry account and no network beyond loopback. It starts a local GitHub
// OIDC issuer, the token service of the chosen provider and an
// authenticated Cargo registry (e2e/internal/fakes), runs the action binary
// as the runner would, shows the step's log as the Actions page would
// (masked), the step summary it wrote, the step's outputs and exported
// variables, and then runs Cargo with only what the action produced:
// `cargo fetch` of a crate from the registry (jfrog, cloudsmith,
// codeartifact, azure) or `cargo publish` (crates-io, to the local stand-in
// for crates.io).
//
//	go run ./e2e/cmd/playground [-provider jfrog|cloudsmith|crates-io|codeartifact|azure] [-mode token|provider]
//
// -provider takes what the action's provider input takes, aliases too
// (artifactory, crates.io, aws-codeartifact, azure-artifacts), and gives it
// to the step as is. azure starts a stand-in for Microsoft Entra's token
// endpoint (reached through AZURE_AUTHORITY_HOST) and an Azure Artifacts feed.
//
// It exits 0 when Cargo succeeded. It needs Go and cargo.
package main

import (
	"context"
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

// run is the whole playground; everything it starts or creates is gone when
// it returns.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("playground", flag.ContinueOnError)
	provider := fs.String("provider", "jfrog", "token service: "+strings.Join(providers, ", "))
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

	out := printer{stdout}
	out.say("== 1. Local services (127.0.0.1 only, TLS with a throw-away CA)")
	s, err := fakes.Start(fakes.Options{})
	if err != nil {
		return fmt.Errorf("start the local services: %w", err)
	}
	defer s.Close()
	inputs, env := services(out, s, p)
	inputs["provider"] = *provider // as given: the action reads the alias itself
	inputs["credential-mode"] = *mode

	out.say("\n== 2. The step (building cargo-oidc first)")
	// Sorted keys, and quotes where YAML would read another type: an AWS
	// account ID read as a number loses its leading zeros.
	with, err := yaml.Marshal(inputs)
	if err != nil {
		return err
	}
	out.lines("     ", "- uses: cargo-oidc/cargo-oidc@v1\n  id: registry\n  with:")
	out.lines("         ", string(with))
	dir, err := os.MkdirTemp("", "cargo-oidc-playground-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	j, res, err := tool.RunAction(ctx, s, dir, env, inputs)
	if err != nil {
		return err
	}
	red := exchange.NewRedactor() // replaces each masked value with ***, as the runner does
	for _, m := range res.Masks {
		red.Add(m)
	}
	if err := out.step(res, red.Redact); err != nil {
		return err
	}

	cmd, what, err := cargo(out, j, s, p, res.Outputs["registry-name"])
	if err != nil {
		return err
	}
	out.say("   $ cargo %s", strings.Join(cmd.Args, " "))
	cargoRes, err := j.RunCmd(ctx, cmd)
	if err != nil {
		return err
	}
	out.lines("   ", red.Redact(cargoRes.Combined()))
	if cargoRes.Failed() {
		return fmt.Errorf("cargo %s failed (exit %d)", cmd.Args[0], cargoRes.ExitCode)
	}
	how := "with the exported token"
	if *mode == "provider" {
		how = fmt.Sprintf("through the credential provider (%d exchange(s): the step's token seeds the provider's cache, cargo reuses it)", s.Store.Exchanges(string(p)))
	}
	out.say("\nOK: cargo %s %s. Try the other -mode, or another -provider: %s.", what, how, strings.Join(providers, ", "))
	return nil
}

// printer writes the playground's report.
type printer struct{ w io.Writer }

func (p printer) say(format string, a ...any) { fmt.Fprintf(p.w, format+"\n", a...) }

// lines says each line of text after indent.
func (p printer) lines(indent, text string) {
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		p.say("%s%s", indent, line)
	}
}

// step shows what the action's step did: its log, as the Actions page shows
// it, its step summary, its outputs and exported variables, all masked. It
// returns an error when the step failed.
func (p printer) step(res *runner.StepResult, mask func(string) string) error {
	p.say("\n== 3. The step's log, as the Actions page shows it")
	fmt.Fprint(p.w, renderLog(res, mask))
	p.say("\n== 4. The step summary it wrote (GITHUB_STEP_SUMMARY, markdown)")
	p.lines("   ", mask(res.Summary))
	if res.Failed() {
		return fmt.Errorf("the action step failed (exit %d)", res.ExitCode)
	}
	p.say("\n== 5. What later steps get (masked)")
	p.say("   outputs (steps.registry.outputs.*):")
	for _, k := range slices.Sorted(maps.Keys(res.Outputs)) {
		if res.Outputs[k] != "" {
			p.say("     %-17s %s", k, mask(res.Outputs[k]))
		}
	}
	p.say("   environment (GITHUB_ENV):")
	for _, e := range res.EnvEntries {
		v := mask(e.Value)
		if len(v) > 110 { // the provider's command line
			v = v[:107] + "..."
		}
		p.say("     %s=%s", e.Name, v)
	}
	return nil
}

// services prints the services of provider p on s and returns the inputs
// and the environment of its step.
func services(out printer, s *fakes.Stack, p config.Provider) (inputs, env map[string]string) {
	out.say("   GitHub OIDC issuer        %s", s.IssuerURL)
	env = map[string]string{
		"SSL_CERT_FILE":     s.CAFile, // the action and the provider trust the local CA
		"CARGO_HTTP_CAINFO": s.CAFile, // and so does cargo
		"CARGO_TERM_COLOR":  "never",
		"CARGO_NET_RETRY":   "0",
	}
	holds := fmt.Sprintf("holds %s %s", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	switch p {
	case config.CratesIO:
		out.say("   crates.io token service   %s (trusted publishing)", s.CratesIOURL)
		out.say("   stand-in for crates.io    %s (publishing needs a token)", s.CratesIOIndex)
		return s.CratesIOInputs(), env
	case config.Cloudsmith:
		out.say("   Cloudsmith token service  %s (workspace %q, service account %q)", s.CloudsmithURL, s.Cloudsmith.Namespace, s.Cloudsmith.ServiceSlug)
		out.say("   Cargo registry            %s (auth required, %s)", s.CloudsmithIndex, holds)
		return s.CloudsmithInputs(), env
	case config.CodeArtifact:
		maps.Copy(env, s.AWSEnv()) // the local endpoints, as a VPC endpoint would be given
		out.say("   AWS STS                   %s (role %s)", s.STSURL, fakes.DefaultAWSRole)
		out.say("   AWS CodeArtifact          %s (domain %s of %s)", s.CodeArtifactURL, fakes.DefaultCADomain, fakes.DefaultAWSAccount)
		out.say("   Cargo registry            %s (auth required, %s)", s.CodeArtifactIndex, holds)
		return s.CodeArtifactInputs(), env
	case config.Azure:
		maps.Copy(env, s.AzureEnv()) // the local authority, as a sovereign cloud's would be given
		out.say("   Microsoft Entra           %s (tenant %s, app %s)", s.Azure.AuthorityHost, s.Azure.Entra.Tenant, s.Azure.Entra.ClientID)
		out.say("   Azure Artifacts feed      %s (Bearer tokens from Entra only, %s)", s.Azure.Index, holds)
		return s.AzureInputs(), env
	}
	out.say("   JFrog token service       %s (OIDC integration %q)", s.JFrogURL, s.JFrog.ProviderName)
	out.say("   Cargo registry            %s (auth required, %s)", s.JFrogIndex, holds)
	return s.JFrogInputs(), env
}

// cargo writes a crate into j's workspace and returns the later step that
// uses what the action produced, and what it does: cargo publish of the
// crate to the local stand-in for crates.io, or cargo fetch of the crate it
// depends on from registry.
func cargo(out printer, j *runner.Job, s *fakes.Stack, p config.Provider, registry string) (runner.Cmd, string, error) {
	manifest := "[package]\nname = \"playground\"\nversion = \"0.1.0\"\nedition = \"2021\"\n" +
		"description = \"cargo-oidc playground\"\nlicense = \"MIT\"\n"
	cmd := runner.Cmd{Name: "cargo", Args: []string{"fetch"}}
	what := fmt.Sprintf("fetched %s %s", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	if p == config.CratesIO {
		// A test hook of cargo points "crates.io" at the local stand-in.
		cmd = runner.Cmd{Name: "cargo", Args: []string{"publish", "--allow-dirty", "--no-verify"},
			Env: map[string]string{fakes.CratesIOURLEnv: s.CratesIOIndex}}
		what = "published playground 0.1.0"
		out.say("\n== 6. cargo publish of a new crate (to the local stand-in for crates.io)")
	} else {
		manifest += "\n[dependencies]\n" + fakes.DefaultCrate + " = { version = \"1\", registry = \"" + registry + "\" }\n"
		out.say("\n== 6. cargo fetch in a project depending on %s from the registry", fakes.DefaultCrate)
	}
	src := filepath.Join(j.Workspace(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return cmd, what, err
	}
	if err := os.WriteFile(filepath.Join(src, "lib.rs"), []byte("pub fn hello() {}\n"), 0o644); err != nil {
		return cmd, what, err
	}
	return cmd, what, os.WriteFile(filepath.Join(j.Workspace(), "Cargo.toml"), []byte(manifest), 0o644)
}

// renderLog turns the step's output into what a reader of the Actions page
// sees: no ::add-mask:: or ::debug:: lines, groups as headings, annotations
// labelled, masked values as ***.
func renderLog(res *runner.StepResult, mask func(string) string) string {
	var b strings.Builder
	cmds, indent := res.Commands, "   "
	for _, line := range strings.Split(strings.TrimRight(res.Stdout+"\n"+res.Stderr, "\n"), "\n") {
		// A line the runner took for a workflow command is the next of cmds.
		rest, isCmd := strings.CutPrefix(strings.TrimSpace(line), "::")
		head, _, found := strings.Cut(rest, "::")
		if name, _, _ := strings.Cut(head, " "); !isCmd || !found || name == "" || len(cmds) == 0 {
			fmt.Fprintf(&b, "%s%s\n", indent, mask(strings.TrimRight(line, "\r")))
			continue
		}
		c := cmds[0]
		cmds = cmds[1:]
		switch c.Name {
		case "add-mask", "debug":
		case "group":
			fmt.Fprintf(&b, "   > %s\n", mask(c.Data))
			indent = "     "
		case "endgroup":
			indent = "   "
		case "notice", "warning", "error":
			label := strings.ToUpper(c.Name[:1]) + c.Name[1:]
			if t := c.Properties["title"]; t != "" {
				label += " (" + t + ")"
			}
			fmt.Fprintf(&b, "   %s: %s\n", label, strings.ReplaceAll(mask(c.Data), "\n", "\n     "))
		default:
			fmt.Fprintf(&b, "%s%s\n", indent, mask(line))
		}
	}
	return b.String()
}
