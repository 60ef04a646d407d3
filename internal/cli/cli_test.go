package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// jwt is an unsigned GitLab-shaped ID token for aud.
func jwt(aud string) string {
	p, _ := json.Marshal(map[string]any{"iss": "https://gitlab.com", "aud": aud, "project_path": "grp/app", "namespace_id": "7",
		"ci_config_ref_uri": "gitlab.com/grp/app//.gitlab-ci.yml@refs/heads/main", "jti": "jti-1", "exp": 4102444800})
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(`{"alg":"RS256"}`)) + "." + e(p) + "." + e([]byte("signature"))
}

const registryToken = "cio_tp_registrytoken0123456789"

// cratesFake plays crates.io trusted publishing, asserting each request.
type cratesFake struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []string
	revoked []string
}

func newCratesFake(t *testing.T, idToken string) *cratesFake {
	f := &cratesFake{}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, r.Method+" "+r.URL.Path)
		if r.URL.Path != "/api/v1/trusted_publishing/tokens" {
			t.Errorf("path %s", r.URL.Path)
		}
		switch r.Method {
		case http.MethodPost:
			var body struct{ JWT string }
			b, _ := io.ReadAll(r.Body)
			if json.Unmarshal(b, &body) != nil || body.JWT != idToken || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("exchange body %q", b)
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"token":"`+registryToken+`"}`)
		case http.MethodDelete:
			f.revoked = append(f.revoked, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("method %s", r.Method)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

type run struct {
	code           int
	stdout, stderr string
}

func runMain(t *testing.T, hc *http.Client, env map[string]string, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	environ := func() []string {
		l := []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range env {
			l = append(l, k+"="+v)
		}
		return l
	}
	code := Main(context.Background(), Env{Getenv: testenv.Getenv(env), Environ: environ,
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, HTTP: hc,
		Executable: func() (string, error) { return "/opt/cargo-oidc", nil }}, args)
	return run{code, out.String(), errb.String()}
}

func noLeak(t *testing.T, r run, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.stderr, s) {
			t.Errorf("stderr holds a secret:\n%s", r.stderr)
		}
	}
}

// TestExec: exec from a GitLab job gives the command the crates.io token
// in CARGO_REGISTRY_TOKEN (for it alone); a signal received while the
// command runs goes to the command, whose exit status exec returns; the
// token is revoked afterwards.
func TestExec(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("the command run is sh, and signals are Unix's; the Linux and macOS runs cover exec")
	}
	idt := jwt("crates.io")
	f := newCratesFake(t, idt)
	seen := filepath.Join(testenv.TempDir(t), "seen")
	sigs := make(chan os.Signal, 1)
	var out, errb bytes.Buffer
	env := map[string]string{"GITLAB_CI": "true", "CARGO_OIDC_ID_TOKEN": idt}
	done := make(chan int)
	go func() {
		done <- Main(context.Background(), Env{Getenv: testenv.Getenv(env), Stdout: &out, Stderr: &errb, HTTP: f.Client(), Signals: sigs},
			[]string{"exec", "--provider=crates-io", "--url=" + f.URL, "--", "/bin/sh", "-c",
				`trap 'echo got-term; exit 5' TERM; printf %s "$CARGO_REGISTRY_TOKEN/$CARGO_REGISTRY_CREDENTIAL_PROVIDER" > "$0"; ` +
					`i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; exit 9`, seen})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for got := ""; got != registryToken+"/cargo:token"; {
		if time.Now().After(deadline) {
			sigs <- syscall.SIGTERM // ends the command
			t.Fatalf("the command saw %q, want the token and cargo:token", got)
		}
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(seen)
		got = string(b)
	}
	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 5 || !strings.Contains(out.String(), "got-term") {
			t.Errorf("exit %d, stdout %q: the command did not get the signal", code, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("exec did not end after the signal")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.revoked) != 1 || f.revoked[0] != registryToken {
		t.Errorf("revoked %v, want the token once", f.revoked)
	}
	if strings.Join(f.calls, ",") != "POST /api/v1/trusted_publishing/tokens,DELETE /api/v1/trusted_publishing/tokens" {
		t.Errorf("calls %v", f.calls)
	}
	noLeak(t, run{stderr: errb.String()}, idt, registryToken)
}

// TestExecNamedRegistry: another registry gets its index, its token as
// Cargo sends it and cargo:token as provider.
func TestExecNamedRegistry(t *testing.T) {
	t.Parallel()
	vars := cargoEnvNames(t, "--provider=cloudsmith", "--namespace=ns", "--service-slug=bot", "--repository=cargo", "--registry-name=my_reg")
	want := "CARGO_REGISTRIES_MY_REG_INDEX=sparse+https://cargo.cloudsmith.io/ns/cargo/,CARGO_REGISTRIES_MY_REG_TOKEN=Bearer T,CARGO_REGISTRIES_MY_REG_CREDENTIAL_PROVIDER=cargo:token"
	if vars != want {
		t.Errorf("vars\n%s\nwant\n%s", vars, want)
	}
}

func cargoEnvNames(t *testing.T, args ...string) string {
	o, _, err := parse(append(args, "--", "x"), true)
	if err != nil {
		t.Fatal(err)
	}
	var l []string
	for _, kv := range cargoEnv(o.Config(), &tokenT) {
		l = append(l, kv[0]+"="+kv[1])
	}
	return strings.Join(l, ",")
}

// TestUsageErrors: bad command lines are refused with status 2 before any
// request.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"exec", "--provider=crates-io"}, "needs the command to run after --"},
		{[]string{"token", "--provider=crates-io", "--", "x"}, "runs no other command"},
		{[]string{"token", "--provider=nope"}, `"nope" is not a known provider`},
		{[]string{"token", "--provider=crates-io", "--provider=jfrog"}, "given twice"},
		{[]string{"token", "--bogus=1"}, "unknown argument --bogus in the command line"},
		{[]string{"configure", "--provider=crates-io"}, "cargo-oidc exec --provider=crates-io"},
		{[]string{"exec", "--provider=jfrog", "--url=https://x.example", "--provider-name=p", "--repository=r", "--replace-crates-io=true", "--", "x"}, "exec writes none"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runMain(t, nil, map[string]string{"GITLAB_CI": "true"}, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || !strings.HasPrefix(r.stderr, "cargo-oidc: error: ") {
				t.Errorf("exit %d, stderr:\n%s\nwant 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// TestToken: the token on stdout alone, the warning on stderr; a wrong
// audience is refused before any request, naming the GitLab setting.
func TestToken(t *testing.T) {
	t.Parallel()
	idt := jwt("crates.io")
	f := newCratesFake(t, idt)
	r := runMain(t, f.Client(), map[string]string{"GITLAB_CI": "true", "CARGO_OIDC_ID_TOKEN": idt}, "token", "--provider=crates-io", "--url="+f.URL)
	if r.code != 0 || r.stdout != registryToken+"\n" || !strings.Contains(r.stderr, "now in your hands") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	noLeak(t, r, idt, registryToken)
	if len(f.revoked) != 0 {
		t.Errorf("token revoked a token it handed out")
	}

	wrong := jwt("other")
	g := newCratesFake(t, wrong)
	r = runMain(t, g.Client(), map[string]string{"GITLAB_CI": "true", "CARGO_OIDC_ID_TOKEN": wrong}, "token", "--provider=crates-io", "--url="+g.URL)
	for _, w := range []string{"cargo-oidc: error: no ID token from GitLab CI's CARGO_OIDC_ID_TOKEN (crates.io was not contacted)", "cargo-oidc: hint:   id_tokens:", "aud: crates.io"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
		}
	}
	if r.code != 1 || r.stdout != "" || len(g.calls) != 0 {
		t.Errorf("exit %d, stdout %q, %d requests", r.code, r.stdout, len(g.calls))
	}
	noLeak(t, r, wrong)
}

// TestConfigure: the registry and this binary as its provider, with the
// explicit token variable, merged into $CARGO_HOME/config.toml, comments
// kept.
func TestConfigure(t *testing.T) {
	t.Parallel()
	home := testenv.TempDir(t)
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("# mine\n[net]\nretry = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	idt := jwt("jfrog")
	env := map[string]string{"GITLAB_CI": "true", "REG_ID": idt, "CARGO_HOME": home}
	r := runMain(t, nil, env, "configure", "--provider=jfrog", "--url=https://x.example", "--provider-name=gl", "--repository=cargo", "--audience=jfrog", "--id-token-env=REG_ID")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(filepath.Join(home, "config.toml"))
	for _, w := range []string{"# mine\n[net]\nretry = 3\n", `[registries.artifactory]`, `index = "sparse+https://x.example/artifactory/api/cargo/cargo/index/"`,
		`credential-provider = "/opt/cargo-oidc --provider=jfrog --url=https://x.example --provider-name=gl --audience=jfrog`, "--id-token-env=REG_ID\""} {
		if !strings.Contains(string(got), w) {
			t.Errorf("config.toml lacks %q:\n%s", w, got)
		}
	}
	noLeak(t, r, idt)
	// A token for another audience: nothing written.
	home2 := testenv.TempDir(t)
	env["CARGO_HOME"] = home2
	r = runMain(t, nil, env, "configure", "--provider=jfrog", "--url=https://x.example", "--provider-name=gl", "--repository=cargo", "--audience=other", "--id-token-env=REG_ID")
	if r.code != 1 || !strings.Contains(r.stderr, `needs "other"`) {
		t.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(home2, "config.toml")); err == nil {
		t.Errorf("config.toml written after a refused token")
	}
}

var tokenT = exchange.Token{Value: "T"}

// FuzzParse: any command line is either read or refused as a usage error
// (status 2), never a panic; exec's command is exactly what follows the
// first "--".
func FuzzParse(f *testing.F) {
	f.Add("--provider=crates-io\x00--\x00cargo\x00publish", true)
	f.Add("--provider=jfrog\x00--url=https://x.example\x00--provider-name=p\x00--repository=r", false)
	f.Add("--provider=crates-io\x00--provider=crates-io", false)
	f.Add("--\x00--\x00--cargo-plugin", true)
	f.Fuzz(func(t *testing.T, joined string, wantCommand bool) {
		args := strings.Split(joined, "\x00")
		o, rest, err := parse(args, wantCommand)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parse(%q) = %v, not a usage error", args, err)
			}
			return
		}
		if o == nil || o.Config() == nil {
			t.Fatalf("parse(%q) gave no configuration", args)
		}
		if wantCommand {
			i := slices.Index(args, "--")
			if i < 0 || !slices.Equal(rest, args[i+1:]) || len(rest) == 0 {
				t.Fatalf("parse(%q) command %q", args, rest)
			}
		}
	})
}
