package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// withDefaults returns an input lookup that behaves like the runner: every
// input with a default in action.yml arrives with it unless overridden.
func withDefaults(m map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := m[name]; ok {
			return v
		}
		return defaults[name]
	}
}

var jfrogOK = map[string]string{
	"provider": "jfrog", "url": "https://example.jfrog.io", "provider-name": "github-oidc", "repository": "cargo-local",
}

func merge(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestLoadValid(t *testing.T) {
	type test struct {
		in    map[string]string
		check func(t *testing.T, c *Config)
	}
	testenv.Run(t, map[string]test{
		"jfrog defaults": {jfrogOK, func(t *testing.T, c *Config) {
			want := Config{Provider: JFrog, URL: "https://example.jfrog.io", ProviderName: "github-oidc", Repository: "cargo-local",
				IndexURL: "sparse+https://example.jfrog.io/artifactory/api/cargo/cargo-local/index/", RegistryName: "artifactory",
				TokenScheme: "Bearer", ExportEnv: true, Retries: 3, Timeout: 60 * time.Second, Revoke: true,
				ConfigFile: ".cargo/config.toml", Cleanup: true, CredentialMode: ModeToken}
			if *c != want {
				t.Errorf("config =\n%+v\nwant\n%+v", *c, want)
			}
		}},
		"artifactory alias and trailing slash": {merge(jfrogOK, "provider", "artifactory", "url", "https://example.jfrog.io/"), func(t *testing.T, c *Config) {
			if c.Provider != JFrog || c.URL != "https://example.jfrog.io" {
				t.Errorf("provider %q url %q", c.Provider, c.URL)
			}
		}},
		"index-url override gets its slash": {merge(jfrogOK, "repository", "", "index-url", "sparse+https://mirror.example/idx"), func(t *testing.T, c *Config) {
			if c.IndexURL != "sparse+https://mirror.example/idx/" {
				t.Errorf("index %q", c.IndexURL)
			}
		}},
		"token-scheme none": {merge(jfrogOK, "token-scheme", "none"), func(t *testing.T, c *Config) {
			if c.Authorization("t") != "t" {
				t.Errorf("Authorization = %q", c.Authorization("t"))
			}
		}},
		"cloudsmith": {map[string]string{"provider": "cloudsmith", "namespace": "acme", "service-slug": "ci", "repository": "crates"}, func(t *testing.T, c *Config) {
			if c.URL != exchange.DefaultCloudsmithURL || c.IndexURL != "sparse+https://cargo.cloudsmith.io/acme/crates/" || c.RegistryName != "cloudsmith" || c.Authorization("t") != "Bearer t" {
				t.Errorf("config %+v", *c)
			}
		}},
		"crates-io": {map[string]string{"provider": "crates-io"}, func(t *testing.T, c *Config) {
			if c.URL != exchange.DefaultCratesIOURL || c.Audience != "crates.io" || c.IndexURL != "" || c.TokenScheme != "" || !c.Revoke {
				t.Errorf("config %+v", *c)
			}
		}},
		"provider mode, a space in a file path, which Cargo's setting does not carry": {merge(jfrogOK, "credential-mode", "provider", "config-file", "my dir/config.toml"), func(t *testing.T, c *Config) {
			if c.ConfigFile != "my dir/config.toml" {
				t.Errorf("config %+v", *c)
			}
		}},
		"token mode, a no-break space, which goes into JSON only": {merge(jfrogOK, "provider-name", "git\u00a0hub"), func(t *testing.T, c *Config) {
			if c.ProviderName != "git\u00a0hub" {
				t.Errorf("config %+v", *c)
			}
		}},
		"retries 10, timeout 15m": {merge(jfrogOK, "retries", "10", "timeout", "15m"), func(t *testing.T, c *Config) {
			if c.Retries != 10 || c.Timeout != 15*time.Minute {
				t.Errorf("config %+v", *c)
			}
		}},
		"provider mode, retries 0, timeout 2m": {merge(jfrogOK, "credential-mode", "provider", "retries", "0", "timeout", "2m"), func(t *testing.T, c *Config) {
			if c.CredentialMode != ModeProvider || c.Retries != 0 || c.Timeout != 2*time.Minute {
				t.Errorf("config %+v", *c)
			}
		}},
	}, func(t *testing.T, _ string, tt test) {
		c, err := Load(withDefaults(tt.in))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		tt.check(t, c)
	})
}

func TestLoadInvalid(t *testing.T) {
	type test struct {
		in    map[string]string
		input string // the input the error must name
		want  string // and a piece of what it says
	}
	testenv.Run(t, map[string]test{
		"no provider":                           {map[string]string{}, "provider", "is required"},
		"unknown provider":                      {map[string]string{"provider": "nexus"}, "provider", `"nexus" is not a known provider`},
		"unknown provider names the known ones": {map[string]string{"provider": "nexus"}, "provider", "use jfrog (or artifactory), cloudsmith, crates-io"},
		"jfrog no url":                          {merge(jfrogOK, "url", ""), "url", "is required"},
		"jfrog no provider-name":                {merge(jfrogOK, "provider-name", ""), "provider-name", "is required"},
		"jfrog no repository":                   {merge(jfrogOK, "repository", ""), "repository", "or give index-url"},
		"http url":                              {merge(jfrogOK, "url", "http://example.jfrog.io"), "url", "must use https"},
		"url with path":                         {merge(jfrogOK, "url", "https://example.jfrog.io/artifactory"), "url", "must not have a path"},
		"url with query":                        {merge(jfrogOK, "url", "https://example.jfrog.io?x=1"), "url", "must not have a query"},
		"url with credentials":                  {merge(jfrogOK, "url", "https://u:p@example.jfrog.io"), "url", "must not hold credentials"},
		"not a url":                             {merge(jfrogOK, "url", "example"), "url", "is not a URL"},
		"bad registry name":                     {merge(jfrogOK, "registry-name", "my registry"), "registry-name", ""},
		"registry name crates-io":               {merge(jfrogOK, "registry-name", "crates-io"), "registry-name", "Cargo's own name"},
		// Cargo 1.95 refuses it too: "invalid character `.` in registry
		// name: `my.reg`, characters must be Unicode XID characters".
		"dot in a registry name":              {merge(jfrogOK, "registry-name", "my.reg"), "registry-name", `character '.' is not allowed; a registry name must start with a letter or '_' and may contain only letters, digits, '-' and '_' (Cargo's rules)`},
		"bad boolean":                         {merge(jfrogOK, "default-registry", "yes please"), "default-registry", "is not a boolean"},
		"negative retries":                    {merge(jfrogOK, "retries", "-1"), "retries", "from 0 to 10"},
		"huge retries":                        {merge(jfrogOK, "retries", "1000"), "retries", "from 0 to 10"},
		"bad timeout":                         {merge(jfrogOK, "timeout", "soon"), "timeout", "Go duration"},
		"tiny timeout":                        {merge(jfrogOK, "timeout", "1ms"), "timeout", "Go duration"},
		"bad mode":                            {merge(jfrogOK, "credential-mode", "file"), "credential-mode", "not allowed"},
		"audience with a newline":             {merge(jfrogOK, "audience", "aud\n::set-env name=X::1"), "audience", "control character"},
		"audience with a carriage return":     {map[string]string{"provider": "crates-io", "audience": "crates.io\r::warning::x"}, "audience", "control character"},
		"audience with a bidi override":       {merge(jfrogOK, "audience", "a\u202eb"), "audience", "control character"},
		"foreign input":                       {merge(jfrogOK, "service-slug", "ci"), "service-slug", "not used with provider jfrog (it belongs to cloudsmith)"},
		"foreign for crates":                  {map[string]string{"provider": "crates-io", "repository": "x"}, "repository", "not used with provider crates-io"},
		"foreign non-default bool":            {map[string]string{"provider": "crates-io", "default-registry": "true"}, "default-registry", "not used with provider crates-io"},
		"revoke for jfrog":                    {merge(jfrogOK, "revoke", "false"), "revoke", "belongs to crates-io"},
		"index and repository":                {merge(jfrogOK, "index-url", "sparse+https://x/"), "index-url", "inputs index-url and repository are both set; give one of them: "},
		"git index":                           {merge(jfrogOK, "repository", "", "index-url", "https://github.com/x/index"), "index-url", "not a sparse index"},
		"http index":                          {merge(jfrogOK, "repository", "", "index-url", "sparse+http://x/"), "index-url", "sparse+https://"},
		"bad scheme":                          {merge(jfrogOK, "token-scheme", "Bearer x"), "token-scheme", "not an HTTP auth scheme"},
		"cloudsmith no slug":                  {map[string]string{"provider": "cloudsmith", "namespace": "a", "repository": "r"}, "service-slug", "is required"},
		"cloudsmith no namespace":             {map[string]string{"provider": "cloudsmith", "service-slug": "a", "repository": "r"}, "namespace", "is required"},
		"cloudsmith no repository":            {map[string]string{"provider": "cloudsmith", "namespace": "a", "service-slug": "s"}, "repository", "is required"},
		"crates-io url with path":             {map[string]string{"provider": "crates-io", "url": "https://crates.io/api"}, "url", "must not have a path"},
		"codeartifact input for cloudsmith":   {map[string]string{"provider": "cloudsmith", "namespace": "a", "service-slug": "s", "repository": "r", "role-to-assume": "arn:aws:iam::111122223333:role/x"}, "role-to-assume", "belongs to codeartifact"},
		"provider mode with credentials file": {merge(jfrogOK, "credential-mode", "provider", "credentials-file", "c.toml"), "credentials-file", "cannot be used"},
		"huge retries beyond int64":           {merge(jfrogOK, "retries", "99999999999999999999"), "retries", "from 0 to 10"},
		"timeout that overflows":              {merge(jfrogOK, "timeout", "9999999999h"), "timeout", "Go duration"},
		"timeout in seconds without a unit":   {merge(jfrogOK, "timeout", "36028797018964868"), "timeout", "Go duration"},
		// Cargo splits the credential-provider setting on every Unicode
		// space: "gh<no-break space>--url=..." became a second --url.
		"provider mode, no-break space":             {merge(jfrogOK, "credential-mode", "provider", "provider-name", "gh\u00a0--url=https://other.example"), "provider-name", "holds the space character U+00A0"},
		"provider mode, carriage return":            {merge(jfrogOK, "credential-mode", "provider", "project-key", "p\r--url=https://other.example"), "project-key", "U+000D"},
		"provider mode, vertical tab":               {merge(jfrogOK, "credential-mode", "provider", "identity-mapping-name", "m\v--url=x"), "identity-mapping-name", "U+000B"},
		"provider mode, form feed":                  {merge(jfrogOK, "credential-mode", "provider", "audience", "a\f--url=x"), "audience", "U+000C"},
		"provider mode, line separator":             {merge(jfrogOK, "credential-mode", "provider", "provider-name", "a\u2028--url=x"), "provider-name", "U+2028"},
		"provider mode, ideographic space":          {merge(jfrogOK, "credential-mode", "provider", "provider-name", "a\u3000--url=x"), "provider-name", "U+3000"},
		"provider mode, space in a cloudsmith slug": {map[string]string{"provider": "cloudsmith", "namespace": "a b", "service-slug": "s", "index-url": "sparse+https://x/", "credential-mode": "provider"}, "namespace", "U+0020"},
		"zero-width space":                          {merge(jfrogOK, "provider-name", "g\u200bh"), "provider-name", "U+200B, a control character or invisible format character"},
		"byte order mark":                           {merge(jfrogOK, "project-key", "\ufeffp"), "project-key", "U+FEFF"},
		"line separator in token mode":              {merge(jfrogOK, "provider-name", "a\u2028b"), "provider-name", "U+2028"},
		"not utf-8":                                 {merge(jfrogOK, "provider-name", "a\xffb"), "provider-name", "U+FFFD"},
		"newline in a file path":                    {merge(jfrogOK, "config-file", "a\nb.toml"), "config-file", "U+000A"},
		// Azure Artifacts.
		"no client-id":                        {merge(azureOK, "client-id", ""), "client-id", "is required: the Application (client) ID"},
		"client-id not a GUID":                {merge(azureOK, "client-id", "my-app"), "client-id", "is not a GUID"},
		"client-id with braces":               {merge(azureOK, "client-id", "{"+testClientID+"}"), "client-id", "is not a GUID"},
		"no tenant-id":                        {merge(azureOK, "tenant-id", ""), "tenant-id", "is required"},
		"tenant common":                       {merge(azureOK, "tenant-id", "common"), "tenant-id", "names no tenant"},
		"tenant organizations":                {merge(azureOK, "tenant-id", "Organizations"), "tenant-id", "names no tenant"},
		"tenant a URL":                        {merge(azureOK, "tenant-id", "https://login.microsoftonline.com/x"), "tenant-id", "neither a GUID nor a domain name"},
		"tenant one label":                    {merge(azureOK, "tenant-id", "contoso"), "tenant-id", "neither a GUID nor a domain name"},
		"tenant label with a dash at the end": {merge(azureOK, "tenant-id", "contoso-.com"), "tenant-id", "neither a GUID nor a domain name"},
		"no organization":                     {merge(azureOK, "organization", ""), "organization", "is required with feed"},
		"no feed":                             {merge(azureOK, "feed", ""), "feed", "is required with organization"},
		"neither organization nor feed":       {merge(azureOK, "organization", "", "feed", ""), "feed", "or give index-url"},
		"organization URL":                    {merge(azureOK, "organization", "https://dev.azure.com/contoso"), "organization", "is not an Azure DevOps organisation name"},
		"organization with a dash first":      {merge(azureOK, "organization", "-contoso"), "organization", "organisation name"},
		"project with a slash":                {merge(azureOK, "project", "a/b"), "project", "is not an Azure DevOps project name"},
		"project starting with _":             {merge(azureOK, "project", "_x"), "project", "project name"},
		"feed with a space":                   {merge(azureOK, "feed", "my feed"), "feed", "is not an Azure Artifacts feed name"},
		"feed ending with .":                  {merge(azureOK, "feed", "feed."), "feed", "feed name"},
		"feed with @view":                     {merge(azureOK, "feed", "crates@Release"), "feed", "feed name"},
		"index-url and feed":                  {merge(azureOK, "index-url", "sparse+https://x/"), "index-url", "are both set"},
		"http index-url":                      {merge(azureOK, "organization", "", "project", "", "feed", "", "index-url", "sparse+http://x/"), "index-url", "must be sparse+https"},
		"repository is not azure's":           {merge(azureOK, "repository", "crates"), "repository", "is not used with provider azure"},
		"url is not azure's":                  {merge(azureOK, "url", "https://dev.azure.com"), "url", "is not used with provider azure"},
		"client-id is not jfrog's":            {merge(jfrogOK, "client-id", testClientID), "client-id", "is not used with provider jfrog (it belongs to azure)"},
		"space in client-id in provider mode": {merge(azureOK, "credential-mode", "provider", "client-id", testClientID+"\u00a0x"), "client-id", ""},
	}, func(t *testing.T, _ string, tt test) {
		err := loadFails(t, tt.in)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("error %v is not an *InputError", err)
		}
		if ie.Input != tt.input || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error = %q (input %s), want it to name input %s and say %q", err, ie.Input, tt.input, tt.want)
		}
		if ie.With == "" && !strings.Contains(err.Error(), "input "+tt.input+": ") {
			t.Errorf("error = %q, want it to start %q", err, "input "+tt.input+": ")
		}
	})
}

// loadFails loads in, with the defaults, and stops the test when Load
// accepts it; it returns Load's error.
func loadFails(t *testing.T, in map[string]string) error {
	t.Helper()
	_, err := Load(withDefaults(in))
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	return err
}

// TestLoadNoSecondError: an input that is wrong is reported once, and an
// input that was given is not blamed for it.
func TestLoadNoSecondError(t *testing.T) {
	t.Parallel()
	cloudsmithOK := map[string]string{"provider": "cloudsmith", "namespace": "acme", "service-slug": "ci", "repository": "crates"}
	tests := []struct {
		name  string
		in    map[string]string
		input string
	}{
		{"jfrog no url", merge(jfrogOK, "url", ""), "url"},
		{"jfrog url not a url", merge(jfrogOK, "url", "example"), "url"},
		{"jfrog url with a path", merge(jfrogOK, "url", "https://example.jfrog.io/artifactory"), "url"},
		{"jfrog http url", merge(jfrogOK, "url", "http://example.jfrog.io"), "url"},
		{"cloudsmith no namespace", merge(cloudsmithOK, "namespace", ""), "namespace"},
		{"jfrog no repository", merge(jfrogOK, "repository", ""), "repository"},
		{"index-url and repository", merge(jfrogOK, "index-url", "sparse+https://mirror.example/idx/"), "index-url"},
		{"index-url with a control character", merge(jfrogOK, "repository", "", "index-url", "sparse+https://x/\u202e/"), "index-url"},
		{"provider mode, url with a no-break space", merge(jfrogOK, "credential-mode", "provider", "url", "https://x.jfrog.io/\u00a0--url=x"), "url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := loadFails(t, tt.in)
			got := strings.Split(err.Error(), "\n")
			if len(got) != 1 || !strings.HasPrefix(got[0], "input "+tt.input+":") && !strings.HasPrefix(got[0], "inputs "+tt.input+" and ") {
				t.Errorf("errors %q, want exactly one, about input %s", got, tt.input)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Load(withDefaults(map[string]string{"provider": "jfrog", "retries": "x", "timeout": "y"}))
	for _, in := range []string{"url", "provider-name", "repository", "retries", "timeout"} {
		if err == nil || !strings.Contains(err.Error(), "input "+in+":") {
			t.Errorf("error %v does not name input %s", err, in)
		}
	}
}

func TestEveryInputHasAnOwner(t *testing.T) {
	t.Parallel()
	for _, in := range Inputs {
		isCommon := false
		for _, c := range common {
			isCommon = isCommon || c == in
		}
		if !isCommon && len(UsedBy(in)) == 0 {
			t.Errorf("input %s is neither common nor used by a provider", in)
		}
	}
}

// FuzzLoad checks that Load never panics and that whatever it accepts is
// internally consistent.
func FuzzLoad(f *testing.F) {
	f.Add("jfrog", "https://example.jfrog.io", "cargo-local", "", "artifactory", "3", "60s")
	f.Add("cloudsmith", "", "r", "sparse+https://x/y", "x.y", "-1", "1h")
	f.Add("crates-io", "https://crates.io/", "", "", "", "", "")
	f.Add("jfrog", "https://example.jfrog.io", "", "sparse+https://x/\u202e/", "", "99999999999999999999", "9999999999h")
	f.Fuzz(func(t *testing.T, provider, u, repo, index, name, retries, timeout string) {
		in := map[string]string{"provider": provider, "url": u, "repository": repo, "index-url": index,
			"registry-name": name, "retries": retries, "timeout": timeout, "provider-name": "p",
			"namespace": "n", "service-slug": "s"}
		c, err := Load(withDefaults(in))
		if err != nil {
			return
		}
		if !strings.HasPrefix(c.URL, "https://") || strings.HasSuffix(c.URL, "/") {
			t.Errorf("accepted URL %q", c.URL)
		}
		if c.Provider != CratesIO && (!strings.HasPrefix(c.IndexURL, "sparse+https://") || !strings.HasSuffix(c.IndexURL, "/")) {
			t.Errorf("accepted index %q", c.IndexURL)
		}
		if c.Retries < 0 || c.Retries > MaxRetries || c.Timeout < MinTimeout || c.Timeout > MaxTimeout {
			t.Errorf("accepted retries %d timeout %s", c.Retries, c.Timeout)
		}
		for k, v := range in {
			if r, bad := BadCharacter(strings.TrimSpace(v), Hidden); bad {
				t.Errorf("accepted input %s holding %U", k, r)
			}
		}
	})
}

func TestProviderTitle(t *testing.T) {
	t.Parallel()
	for p, want := range map[Provider]string{JFrog: "JFrog", Cloudsmith: "Cloudsmith", CratesIO: "crates.io", CodeArtifact: "AWS CodeArtifact", Azure: "Azure Artifacts", "nexus": "nexus"} {
		if got := p.Title(); got != want {
			t.Errorf("%s.Title() = %q, want %q", p, got, want)
		}
	}
}

// TestParseProvider checks every name and alias the provider input takes,
// in any case and with spaces around, and what an unknown name gives.
func TestParseProvider(t *testing.T) {
	t.Parallel()
	// A name is taken when it gives a provider of the table.
	for in, want := range map[string]Provider{
		"jfrog": JFrog, "Artifactory": JFrog, " JFROG ": JFrog,
		"cloudsmith": Cloudsmith,
		"crates-io":  CratesIO, "crates.io": CratesIO, "CratesIO": CratesIO,
		"codeartifact": CodeArtifact, "aws-codeartifact": CodeArtifact,
		"azure": Azure, "Azure-Artifacts": Azure, "azure-devops": Azure,
		"": "", " ": "", "Nexus": "nexus", "jfrog-cloud": "jfrog-cloud",
	} {
		known := slices.Contains(Providers(), want)
		if got, ok := ParseProvider(in); got != want || ok != known {
			t.Errorf("ParseProvider(%q) = %q, %v; want %q, %v", in, got, ok, want, known)
		}
	}
}
