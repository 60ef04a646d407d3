package e2e

// The helpers the test files share: the providers, the secret scan of logs, file helpers.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// provider is one token service as the tests drive it.
type provider struct {
	name       string // the provider input
	registry   string // the registry name the action gives it
	envName    string // <NAME> of CARGO_REGISTRIES_<NAME>_*; "" for crates.io
	raw        bool   // Cargo gets the raw token, not "Bearer <token>"
	inputs     func(*fakes.Stack) map[string]string
	index      func(*fakes.Stack) string // "" for crates.io
	services   []string                  // the fault queues (fakes.Stack.Faults) of its exchange
	wrongClaim string                    // the answer to an ID token of evilRepo
}

// evilRepo is the repository claim no service's mapping accepts.
const evilRepo = "evil-org/evil-repo"

var providers = []provider{
	{name: "jfrog", registry: "artifactory", envName: "ARTIFACTORY", inputs: (*fakes.Stack).JFrogInputs,
		index: func(s *fakes.Stack) string { return s.JFrogIndex }, services: []string{"jfrog"},
		wrongClaim: "Failed to find a matching identity mapping for the provided token claims: claim 'repository' is '" + evilRepo + "'"},
	{name: "cloudsmith", registry: "cloudsmith", envName: "CLOUDSMITH", inputs: (*fakes.Stack).CloudsmithInputs,
		index: func(s *fakes.Stack) string { return s.CloudsmithIndex }, services: []string{"cloudsmith"},
		wrongClaim: "Incorrect authentication credentials."},
	{name: "crates-io", registry: "crates-io", raw: true, inputs: (*fakes.Stack).CratesIOInputs,
		index: func(*fakes.Stack) string { return "" }, services: []string{"crates-io"},
		wrongClaim: "No Trusted Publishing config found for repository `" + evilRepo + "`."},
	{name: "codeartifact", registry: "codeartifact", envName: "CODEARTIFACT", raw: true, inputs: (*fakes.Stack).CodeArtifactInputs,
		index: func(s *fakes.Stack) string { return s.CodeArtifactIndex }, services: []string{"sts", "codeartifact"},
		wrongClaim: "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"},
}

// azure is Azure Artifacts through Microsoft Entra. It is not in providers:
// Entra matches the ID token's sub, not its repository.
var azure = provider{name: "azure", registry: "azure", envName: "AZURE", inputs: (*fakes.Stack).AzureInputs,
	index: func(s *fakes.Stack) string { return s.Azure.Index }, services: []string{"azure"}}

// providerNamed returns the row of providers (or azure) for name.
func providerNamed(t testing.TB, name string) provider {
	t.Helper()
	all := append(slices.Clip(providers), azure)
	i := slices.IndexFunc(all, func(p provider) bool { return p.name == name })
	if i < 0 {
		t.Fatalf("no provider %q in the table", name)
	}
	return all[i]
}

// registryOf is the registry serving its index in s.
func (p provider) registryOf(s *fakes.Stack) *fakes.Registry {
	if p.name == azure.name {
		return s.Azure.Registry.Registry
	}
	return s.Registry
}

// tokenVar is the variable Cargo reads the registry's token from.
func (p provider) tokenVar() string {
	if p.envName == "" {
		return "CARGO_REGISTRY_TOKEN"
	}
	return "CARGO_REGISTRIES_" + p.envName + "_TOKEN"
}

// providerVar is the variable naming the registry's credential provider.
func (p provider) providerVar() string {
	return strings.TrimSuffix(p.tokenVar(), "TOKEN") + "CREDENTIAL_PROVIDER"
}

// auth is what Cargo sends for tok.
func (p provider) auth(tok string) string {
	if p.raw {
		return tok
	}
	return "Bearer " + tok
}

// azCheckRequests checks that every Entra request is the app's client-credentials grant
// for Azure DevOps, and every token the feed saw is one Entra issued.
func azCheckRequests(t testing.TB, s *fakes.Stack) {
	t.Helper()
	want := fakes.EntraRequest{Tenant: s.Azure.Entra.Tenant, ClientID: s.Azure.Entra.ClientID, GrantType: fakes.EntraGrantType,
		ClientAssertionType: fakes.EntraAssertionType, Scope: fakes.AzureDevOpsScope, Assertion: true}
	got := s.Azure.Entra.Received()
	if len(got) == 0 {
		t.Errorf("Entra got no request")
	}
	for i, r := range got {
		if r != want {
			t.Errorf("Entra request %d: %+v, want %+v", i, r, want)
		}
	}
	for _, aud := range s.Issuer.Audiences() {
		if aud != fakes.EntraAudience {
			t.Errorf("an ID token was asked for audience %q, want %s", aud, fakes.EntraAudience)
		}
	}
	for _, r := range s.Azure.Registry.Requests() {
		if it, ok := s.Store.Lookup(r.Token); r.Token != "" && (!ok || it.Service != "azure") {
			t.Errorf("the feed got %s %s with a token Entra did not issue (status %d)", r.Method, r.Path, r.Status)
		}
	}
}

// secretLeaks returns a line for every secret text shows outside an ::add-mask:: line, its one place.
func secretLeaks(where, text string, secrets []string) []string {
	var leaks []string
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
			continue
		}
		for _, sec := range secrets {
			if sec != "" && strings.Contains(line, sec) {
				leaks = append(leaks, fmt.Sprintf("%s line %d holds a secret (%s...)", where, i+1, secretPrefix(sec)))
			}
		}
	}
	return leaks
}

func secretPrefix(s string) string { return strconv.Quote(s[:min(len(s), 6)]) }

// checkJobNoLeak fails the test for every secret of the fakes (and extra) a step of job shows.
func checkJobNoLeak(t testing.TB, job *runner.Job, s *fakes.Stack, extra ...string) {
	t.Helper()
	secrets := append(s.Secrets(), extra...)
	for _, res := range job.Results() {
		for _, l := range secretLeaks(fmt.Sprintf("step %s (%s)", res.ID, res.Stage), res.Combined(), secrets) {
			t.Error("LEAK: " + l)
		}
	}
}

// cargoEnv is the env of a job whose steps run the real cargo against s,
// extra on top: both trust the fakes' CA; cargo neither colours nor retries.
func cargoEnv(s *fakes.Stack, extra map[string]string) map[string]string {
	env := map[string]string{"SSL_CERT_FILE": s.CAFile, "CARGO_HTTP_CAINFO": s.CAFile, "CARGO_TERM_COLOR": "never",
		"CARGO_NET_RETRY": "0", "CARGO_HTTP_TIMEOUT": "20", fakes.CratesIOURLEnv: s.CratesIOIndex}
	for _, m := range []map[string]string{s.AWSEnv(), s.AzureEnv(), extra} {
		maps.Copy(env, m)
	}
	return env
}

// writeFile writes data to path, making its folders.
func writeFile(t testing.TB, path, data string, perm os.FileMode) string {
	t.Helper()
	testenv.Must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	testenv.Must(t, os.WriteFile(path, []byte(data), perm))
	return path
}

// writeFiles writes files (path relative to dir: content) with mode 0644.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		writeFile(t, filepath.Join(dir, p), c, 0o644)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	testenv.Must(t, err)
	return string(b)
}

// project is a library crate's files with the given [dependencies] lines.
func project(name, version, deps string) map[string]string {
	return map[string]string{
		"Cargo.toml": fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = \"2021\"\ndescription = \"cargo-oidc e2e crate\"\nlicense = \"MIT\"\n\n[dependencies]\n%s", name, version, deps),
		"src/lib.rs": "pub fn f() {}\n",
	}
}

// dependsOn is a [dependencies] line for the fakes' default crate in registry ("": crates.io).
func dependsOn(registry string) string {
	if registry == "" {
		return fmt.Sprintf("%s = %q\n", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	}
	return fmt.Sprintf("%s = { version = %q, registry = %q }\n", fakes.DefaultCrate, fakes.DefaultCrateVersion, registry)
}
