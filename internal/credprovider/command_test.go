package credprovider

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// carried is the part of a configuration the credential-provider setting
// carries to the provider.
type carried struct {
	Provider                                                config.Provider
	URL, ProviderName, IdentityMappingName, ProjectKey      string
	Namespace, ServiceSlug, Audience, IndexURL, TokenScheme string
	ClientID, TenantID                                      string
	Retries                                                 int
	Timeout                                                 time.Duration
}

func carriedOf(c *config.Config) carried {
	return carried{c.Provider, c.URL, c.ProviderName, c.IdentityMappingName, c.ProjectKey,
		c.Namespace, c.ServiceSlug, c.Audience, c.IndexURL, c.TokenScheme, c.ClientID, c.TenantID, c.Retries, c.Timeout}
}

// TestCommandRoundTrip: what Command writes, ParseArgs reads back as the same
// configuration, for every provider and option the setting carries.
func TestCommandRoundTrip(t *testing.T) {
	t.Parallel()
	const bin = "/home/runner/work/_temp/_github_home/.cargo-oidc/bin/cargo-oidc"
	tests := []struct {
		name   string
		inputs map[string]string
		record string
		want   string // the setting, with bin replaced by BIN
	}{
		{"jfrog", map[string]string{"provider": "jfrog", "url": "https://x.jfrog.io", "provider-name": "gh", "repository": "cargo-local"}, "",
			"BIN --provider=jfrog --url=https://x.jfrog.io --provider-name=gh --index-url=sparse+https://x.jfrog.io/artifactory/api/cargo/cargo-local/index/ --token-scheme=Bearer --retries=3 --timeout=1m0s"},
		{"jfrog every option", map[string]string{"provider": "artifactory", "url": "https://x.jfrog.io", "provider-name": "gh", "identity-mapping-name": "map",
			"project-key": "proj", "audience": "jfrog-aud", "index-url": "sparse+https://mirror.example/index/", "token-scheme": "none", "retries": "0"}, "",
			"BIN --provider=jfrog --url=https://x.jfrog.io --provider-name=gh --identity-mapping-name=map --project-key=proj --audience=jfrog-aud --index-url=sparse+https://mirror.example/index/ --token-scheme=none --retries=0 --timeout=1m0s"},
		{"cloudsmith", map[string]string{"provider": "cloudsmith", "namespace": "octo", "service-slug": "ci-bot", "repository": "crates", "token-scheme": "Token"}, "",
			"BIN --provider=cloudsmith --url=https://api.cloudsmith.io --namespace=octo --service-slug=ci-bot --index-url=sparse+https://cargo.cloudsmith.io/octo/crates/ --token-scheme=Token --retries=3 --timeout=1m0s"},
		{"crates-io", map[string]string{"provider": "crates-io", "retries": "10", "timeout": "5m"}, "/tmp/home/.cargo-oidc/minted-x/tokens",
			"BIN --provider=crates-io --url=https://crates.io --audience=crates.io --retries=10 --timeout=5m0s --minted-record=/tmp/home/.cargo-oidc/minted-x/tokens"},
		{"azure", map[string]string{"provider": "azure", "client-id": "11111111-2222-3333-4444-555555555555", "tenant-id": "contoso.onmicrosoft.com",
			"organization": "contoso", "project": "Web App", "feed": "crates"}, "",
			"BIN --provider=azure --client-id=11111111-2222-3333-4444-555555555555 --tenant-id=contoso.onmicrosoft.com --index-url=sparse+https://pkgs.dev.azure.com/contoso/Web%20App/_packaging/crates/Cargo/index/ --token-scheme=Bearer --retries=3 --timeout=1m0s"},
		{"azure every option", map[string]string{"provider": "Azure-Artifacts", "client-id": "11111111-2222-3333-4444-555555555555", "tenant-id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
			"index-url": "sparse+https://tfs.example/DefaultCollection/_packaging/crates/Cargo/index/", "audience": "aud-x", "token-scheme": "none", "registry-name": "ado", "timeout": "2m"}, "",
			"BIN --provider=azure --client-id=11111111-2222-3333-4444-555555555555 --tenant-id=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee --audience=aud-x --index-url=sparse+https://tfs.example/DefaultCollection/_packaging/crates/Cargo/index/ --token-scheme=none --retries=3 --timeout=2m0s"},
		{"crates-io with audience", map[string]string{"provider": "crates-io", "url": "https://staging.crates.io", "audience": "staging.crates.io"}, "",
			"BIN --provider=crates-io --url=https://staging.crates.io --audience=staging.crates.io --retries=3 --timeout=1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.inputs["credential-mode"] = "provider"
			cfg, err := config.Load(func(name string) string { return tt.inputs[name] })
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := Command(cfg, bin, tt.record)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Replace(cmd, bin, "BIN", 1); got != tt.want {
				t.Errorf("setting\n got %s\nwant %s", got, tt.want)
			}
			fields := strings.Fields(cmd) // as Cargo splits it
			if fields[0] != bin {
				t.Fatalf("the setting starts with %q, want the binary", fields[0])
			}
			o, err := ParseArgs(fields[1:])
			if err != nil {
				t.Fatalf("ParseArgs of the written setting: %v", err)
			}
			if got, want := carriedOf(o.Config()), carriedOf(cfg); got != want {
				t.Errorf("read back\n got %+v\nwant %+v", got, want)
			}
			if o.Record != tt.record {
				t.Errorf("record read back %q, want %q", o.Record, tt.record)
			}
		})
	}
}

// TestCommandRefusesWhitespace: Cargo splits the setting on every Unicode
// space (Rust's split_whitespace), so a path or value holding one, or a
// control or format character, is refused with the input's name.
func TestCommandRefusesWhitespace(t *testing.T) {
	type test struct {
		cfg  config.Config
		bin  string
		rec  string
		want string
	}
	testenv.Run(t, map[string]test{
		"space and tab":                  {config.Config{ProviderName: "git hub", ProjectKey: "a\tb"}, "", "", "input provider-name (U+0020), project-key (U+0009) holds"},
		"no-break space smuggling a url": {config.Config{ProviderName: "gh\u00a0--url=https://other.example"}, "", "", "input provider-name (U+00A0) holds"},
		"carriage return":                {config.Config{IdentityMappingName: "m\r--url=https://other.example"}, "", "", "input identity-mapping-name (U+000D)"},
		"vertical tab":                   {config.Config{ProjectKey: "p\v--url=x"}, "", "", "input project-key (U+000B)"},
		"form feed":                      {config.Config{Audience: "a\f--url=x"}, "", "", "input audience (U+000C)"},
		"next line":                      {config.Config{Audience: "a\u0085b"}, "", "", "input audience (U+0085)"},
		"line separator":                 {config.Config{ProviderName: "a\u2028b"}, "", "", "input provider-name (U+2028)"},
		"ideographic space":              {config.Config{ProviderName: "a\u3000b"}, "", "", "input provider-name (U+3000)"},
		"zero-width space":               {config.Config{ProviderName: "a\u200bb"}, "", "", "input provider-name (U+200B)"},
		"bidi override":                  {config.Config{IndexURL: "sparse+https://x/\u202e/"}, "", "", "input index-url (U+202E)"},
		"not utf-8":                      {config.Config{ProviderName: "a\xffb"}, "", "", "input provider-name (U+FFFD)"},
		"home with a space":              {config.Config{}, "/home/my runner/cargo-oidc", "", "provider binary \"/home/my runner/cargo-oidc\" holds U+0020"},
		"home with a no-break space":     {config.Config{}, "/home/my\u00a0runner/cargo-oidc", "", `provider binary "/home/my\u00a0runner/cargo-oidc" holds U+00A0`},
		"record with a no-break space":   {config.Config{}, "", "/tmp/a\u00a0--url=x/tokens", `minted-token record "/tmp/a\u00a0--url=x/tokens" holds U+00A0`},
	}, func(t *testing.T, _ string, tt test) {
		cfg := tt.cfg
		cfg.Provider, cfg.URL, cfg.Retries, cfg.Timeout = config.JFrog, "https://x.jfrog.io", 3, time.Minute
		if cfg.ProviderName == "" {
			cfg.ProviderName = "gh"
		}
		bin := tt.bin
		if bin == "" {
			bin = "/bin/cargo-oidc"
		}
		cmd, err := Command(&cfg, bin, tt.rec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Command = %q, %v; want an error saying %q", cmd, err, tt.want)
		}
	})
}

// TestParseArgsRefuses: an argument given twice is refused rather than the
// later one winning, and so is one holding a character Cargo splits on.
func TestParseArgsRefuses(t *testing.T) {
	t.Parallel()
	base := []string{"--provider=jfrog", "--url=https://x.jfrog.io", "--provider-name=gh", "--index-url=sparse+https://x.jfrog.io/i/"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"url twice", append(base, "--url=https://other.example"), "argument --url is given twice"},
		{"provider twice", append(base, "--provider=cloudsmith"), "argument --provider is given twice"},
		{"record twice", append(base, "--minted-record=/tmp/a", "--minted-record=/tmp/b"), "argument --minted-record is given twice"},
		{"id token file twice", append(base, "--id-token-file=/tmp/a", "--id-token-file=/tmp/b"), "argument --id-token-file is given twice"},
		{"id token env twice", append(base, "--id-token-env=A", "--id-token-env=B"), "argument --id-token-env is given twice"},
		{"no-break space", append(base[:2:2], "--provider-name=gh\u00a0--url=https://other.example"), `holds U+00A0`},
		{"zero-width space", append(base[:2:2], "--provider-name=g\u200bh"), `holds U+200B`},
		{"line separator", append(base[:2:2], "--provider-name=g\u2028h"), `holds U+2028`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := ParseArgs(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseArgs = %+v, %v; want an error saying %q", o, err, tt.want)
			}
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r != ' ' && config.SplitsArgument(r) }) {
				t.Errorf("the error prints the character itself: %q", err)
			}
		})
	}
}

// FuzzParseArgs: ParseArgs never panics, never accepts an argument twice
// or one holding a character Cargo splits on, and what it accepts Command
// writes back into a setting that reads back the same.
func FuzzParseArgs(f *testing.F) {
	f.Add("--provider=jfrog", "--url=https://x.jfrog.io", "--provider-name=gh", "--index-url=sparse+https://x/i/")
	f.Add("--provider=crates-io", "--minted-record=/tmp/r", "--id-token-file=/tmp/t", "--timeout=5m")
	f.Add("--provider=jfrog", "--url=https://x.jfrog.io", "--provider-name=gh\u00a0--url=https://o", "--repository=r")
	f.Add("--provider=cloudsmith", "--namespace=a", "--service-slug=b", "--namespace=c")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		args := []string{a, b, c, d}
		o, err := ParseArgs(args)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, arg := range args {
			name, _, _ := strings.Cut(arg, "=")
			if seen[name] {
				t.Fatalf("accepted %s twice in %q", name, args)
			}
			seen[name] = true
			if strings.ContainsFunc(arg, config.SplitsArgument) {
				t.Fatalf("accepted %q, which Cargo would split", arg)
			}
		}
		cmd, err := Command(o.Config(), "/bin/cargo-oidc", o.Record)
		if err != nil {
			t.Fatalf("Command of accepted arguments %q: %v", args, err)
		}
		back, err := ParseArgs(strings.Fields(cmd)[1:])
		if err != nil {
			t.Fatalf("ParseArgs of %q: %v", cmd, err)
		}
		if got, want := carriedOf(back.Config()), carriedOf(o.Config()); got != want || back.Record != o.Record {
			t.Fatalf("read back\n got %+v\nwant %+v", got, want)
		}
	})
}

// TestCommandWritesProviderInputs: for every provider, the arguments
// Command writes are the config.ProviderInputs that provider reads (or
// every provider reads), none of another provider's even when the
// configuration holds them, and together they are all of
// config.ProviderInputs, the inputs config checks for characters Cargo
// splits on in provider mode.
func TestCommandWritesProviderInputs(t *testing.T) {
	t.Parallel()
	all := map[string]bool{}
	for _, p := range config.Providers() {
		cfg := &config.Config{Provider: p, URL: "https://x", ProviderName: "a", IdentityMappingName: "b", ProjectKey: "c",
			Namespace: "d", ServiceSlug: "e", RoleARN: "f", Region: "g", Domain: "h", DomainOwner: "i", Duration: time.Hour,
			RoleSessionName: "j", ClientID: "l", TenantID: "m", Audience: "k", IndexURL: "sparse+https://x/", TokenScheme: "Bearer", Retries: 1, Timeout: time.Minute}
		cmd, err := Command(cfg, "/bin/cargo-oidc", "/tmp/record")
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, a := range strings.Fields(cmd)[1:] {
			name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if name != RecordArg {
				got = append(got, name)
				all[name] = true
			}
		}
		for _, in := range config.ProviderInputs {
			if slices.Contains(p.Inputs(), in) || in == "provider" || in == "retries" || in == "timeout" {
				want = append(want, in)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: Command writes %q,\nwant %q", p, got, want)
		}
	}
	for _, in := range config.ProviderInputs {
		if !all[in] {
			t.Errorf("no provider's setting carries %s", in)
		}
	}
}
