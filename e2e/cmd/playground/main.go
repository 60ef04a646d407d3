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
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
)

func main() { os.Exit(harness.Command("playground", run)) }

// providers are the -provider values, in the order the help lists them.
var providers = []string{"jfrog", "cloudsmith", "crates-io", "codeartifact", "azure"}

// run is the whole playground; everything it starts or creates is gone when
// it returns. -h and --help print the usage and return flag.ErrHelp.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("playground", flag.ContinueOnError)
	fs.SetOutput(stdout)
	provider := fs.String("provider", "jfrog", "token service: "+strings.Join(providers, ", "))
	mode := fs.String("mode", "token", "credential-mode of the step: token (export a token) or provider (cargo asks cargo-oidc for each token)")
	fs.Usage = func() {
		fmt.Fprint(stdout, "Usage: go run ./e2e/cmd/playground [-provider "+strings.Join(providers, "|")+"] [-mode token|provider]\n\n"+
			"Runs the cargo-oidc step against local stand-ins of GitHub's OIDC issuer, the token service\n"+
			"and a Cargo registry (127.0.0.1 only), shows its log and step summary, then runs cargo.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; see -help", fs.Arg(0))
	}
	p, ok := config.ParseProvider(*provider)
	if !ok || !slices.Contains(providers, string(p)) {
		return fmt.Errorf("-provider %q: want one of %s (or an alias the action takes: artifactory, crates.io, aws-codeartifact, azure-artifacts)", *provider, strings.Join(providers, ", "))
	}
	if *mode != "token" && *mode != "provider" {
		return fmt.Errorf("-mode %q: want token or provider", *mode)
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
	say("   GitHub OIDC issuer        %s", s.IssuerURL)
	env := map[string]string{
		"SSL_CERT_FILE":     s.CAFile, // the action and the provider trust the local CA
		"CARGO_HTTP_CAINFO": s.CAFile, // and so does cargo
		"CARGO_TERM_COLOR":  "never",
		"CARGO_NET_RETRY":   "0",
	}
	var inputs map[string]string
	switch string(p) {
	case "jfrog":
		inputs = s.JFrogInputs()
		say("   JFrog token service       %s (OIDC integration %q)", s.JFrogURL, s.JFrog.ProviderName)
		say("   Cargo registry            %s (auth required, holds %s %s)", s.JFrogIndex, fakes.DefaultCrate, fakes.DefaultCrateVersion)
	case "cloudsmith":
		inputs = s.CloudsmithInputs()
		say("   Cloudsmith token service  %s (workspace %q, service account %q)", s.CloudsmithURL, s.Cloudsmith.Namespace, s.Cloudsmith.ServiceSlug)
		say("   Cargo registry            %s (auth required, holds %s %s)", s.CloudsmithIndex, fakes.DefaultCrate, fakes.DefaultCrateVersion)
	case "crates-io":
		inputs = s.CratesIOInputs()
		say("   crates.io token service   %s (trusted publishing)", s.CratesIOURL)
		say("   stand-in for crates.io    %s (publishing needs a token)", s.CratesIOIndex)
	case "codeartifact":
		inputs = s.CodeArtifactInputs()
		for k, v := range s.AWSEnv() { // the local endpoints, as a VPC endpoint would be given
			env[k] = v
		}
		say("   AWS STS                   %s (role %s)", s.STSURL, fakes.DefaultAWSRole)
		say("   AWS CodeArtifact          %s (domain %s of %s)", s.CodeArtifactURL, fakes.DefaultCADomain, fakes.DefaultAWSAccount)
		say("   Cargo registry            %s (auth required, holds %s %s)", s.CodeArtifactIndex, fakes.DefaultCrate, fakes.DefaultCrateVersion)
	case "azure":
		inputs = s.AzureInputs()
		maps.Copy(env, s.AzureEnv()) // the local authority, as a sovereign cloud's would be given
		say("   Microsoft Entra           %s (tenant %s, app %s)", s.Azure.AuthorityHost, s.Azure.Entra.Tenant, s.Azure.Entra.ClientID)
		say("   Azure Artifacts feed      %s (Bearer tokens from Entra only, holds %s %s)", s.Azure.Index, fakes.DefaultCrate, fakes.DefaultCrateVersion)
	}
	inputs["provider"] = *provider // as given: the action reads the alias itself
	inputs["credential-mode"] = *mode

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
	j, err := runner.New(dir, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: env})
	if err != nil {
		return err
	}
	say("   the step:")
	say("     - uses: cargo-oidc/cargo-oidc@v1")
	say("       id: registry")
	say("       with:")
	for _, k := range slices.Sorted(maps.Keys(inputs)) {
		say("         %s", withLine(k, inputs[k]))
	}

	say("\n== 3. The step's log, as the Actions page shows it")
	res, err := j.RunAction(ctx, runner.Host(bin), a, runner.Step{ID: "registry", Inputs: inputs})
	if err != nil {
		return fmt.Errorf("run the action: %w", err)
	}
	mask := masker(res.Masks)
	fmt.Fprint(stdout, renderLog(res.Combined(), mask))

	say("\n== 4. The step summary it wrote (GITHUB_STEP_SUMMARY, markdown)")
	for _, line := range strings.Split(strings.TrimRight(mask(res.Summary), "\n"), "\n") {
		say("   %s", line)
	}
	if res.Failed() {
		return fmt.Errorf("the action step failed (exit %d)", res.ExitCode)
	}

	say("\n== 5. What later steps get (masked)")
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

	manifest := "[package]\nname = \"playground\"\nversion = \"0.1.0\"\nedition = \"2021\"\n" +
		"description = \"cargo-oidc playground\"\nlicense = \"MIT\"\n"
	cmd := runner.Cmd{Name: "cargo", Args: []string{"fetch"}}
	what := fmt.Sprintf("fetched %s %s", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	if p == config.CratesIO {
		// A test hook of cargo points "crates.io" at the local stand-in.
		cmd = runner.Cmd{Name: "cargo", Args: []string{"publish", "--allow-dirty", "--no-verify"},
			Env: map[string]string{fakes.CratesIOURLEnv: s.CratesIOIndex}}
		what = "published playground 0.1.0"
		say("\n== 6. cargo publish of a new crate (to the local stand-in for crates.io)")
	} else {
		manifest += "\n[dependencies]\n" + fakes.DefaultCrate + " = { version = \"1\", registry = \"" + res.Outputs["registry-name"] + "\" }\n"
		say("\n== 6. cargo fetch in a project depending on %s from the registry", fakes.DefaultCrate)
	}
	files := map[string]string{"Cargo.toml": manifest, "src/lib.rs": "pub fn hello() {}\n"}
	for name, content := range files {
		p := filepath.Join(j.Workspace(), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	say("   $ cargo %s", strings.Join(cmd.Args, " "))
	out, err := j.RunCmd(ctx, cmd)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(mask(out.Combined()), "\n"), "\n") {
		say("   %s", line)
	}
	if out.Failed() {
		return fmt.Errorf("cargo %s failed (exit %d)", cmd.Args[0], out.ExitCode)
	}
	how := "with the exported token"
	if *mode == "provider" {
		how = fmt.Sprintf("through the credential provider (%d exchange(s): the step's token seeds the provider's cache, cargo reuses it)", s.Store.Exchanges(string(p)))
	}
	say("\nOK: cargo %s %s. Try -mode=%s, or -provider with %s.", what, how, other(*mode), strings.Join(without(providers, string(p)), " or "))
	return nil
}

// withLine is the line "key: value" of a step's with: block, the value
// quoted where YAML would not read it as that string: an AWS account ID
// read as a number loses its leading zeros, so README quotes domain-owner.
func withLine(key, value string) string {
	b, err := yaml.Marshal(map[string]string{key: value})
	if err != nil {
		return key + ": " + strconv.Quote(value)
	}
	return strings.TrimSuffix(string(b), "\n")
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

func without(list []string, v string) []string {
	var out []string
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
