package credprovider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The environment variable that makes the test binary a credential
// provider (TestMain), for tests with real concurrent processes.
const childEnv = "CARGO_OIDC_TEST_PROVIDER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild serves Cargo's protocol on stdin and stdout as the real binary
// does (main.go), trusting the CA that SSL_CERT_FILE names.
func runChild() int {
	hc, err := exchange.BaseHTTPClient(os.Getenv)
	if err == nil {
		err = Serve(context.Background(), Env{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, HTTP: hc})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// okToken is the token of an Ok answer, "" for an error answer.
func okToken(t *testing.T, a map[string]json.RawMessage) okGet {
	t.Helper()
	var ok okGet
	if a["Ok"] == nil {
		t.Fatalf("answer %s is not Ok", a)
	}
	if err := json.Unmarshal(a["Ok"], &ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// cachePath is where serve's provider keeps the token of args (ID token
// request token rt).
func (f *fake) cachePath(args []string) string {
	o, err := ParseArgs(args)
	if err != nil {
		panic(err)
	}
	scope, _ := o.scope(func(k string) string { return map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "rt"}[k] })
	key := cacheKey(registryKey(config.JFrog, f.index()), args, scope)
	return filepath.Join(f.tmp, "cargo-oidc-cache"+userSuffix(), key+".json")
}

// A different registry, different inputs or another job never reuse a
// token; the same ones do.
func TestCacheKeys(t *testing.T) {
	t.Parallel()
	type get struct {
		args    []string
		index   string
		request string            // ACTIONS_ID_TOKEN_REQUEST_TOKEN
		env     map[string]string // more of the environment
	}
	tests := []struct {
		name      string
		second    func(f *fake) get
		exchanges int32
	}{
		{"same registry, inputs and job", func(f *fake) get { return get{f.args(), f.index(), "rt", nil} }, 1},
		{"arguments in another order", func(f *fake) get {
			a := f.args()
			a[0], a[1] = a[1], a[0]
			return get{a, f.index(), "rt", nil}
		}, 1},
		{"another input", func(f *fake) get {
			return get{append(f.args(), "--identity-mapping-name=other"), f.index(), "rt", nil}
		}, 2},
		{"another registry", func(f *fake) get {
			a := append(f.args()[:3:3], "--repository=other-local")
			return get{a, "sparse+" + f.srv.URL + "/artifactory/api/cargo/other-local/index/", "rt", nil}
		}, 2},
		{"another job", func(f *fake) get { return get{f.args(), f.index(), "rt-of-another-job", nil} }, 2},
		{"another token service endpoint", func(f *fake) get {
			return get{f.args(), f.index(), "rt", map[string]string{"AWS_ENDPOINT_URL_STS": "https://sts.example"}}
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			first := okToken(t, f.serve(t, nil, request("get", f.index(), f.args()...))[0])
			g := tt.second(f)
			env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": g.request}
			maps.Copy(env, g.env)
			second := okToken(t, f.serve(t, env, request("get", g.index, g.args...))[0])
			if n := f.exchanges.Load(); n != tt.exchanges {
				t.Errorf("%d exchanges, want %d", n, tt.exchanges)
			}
			if same := first.Token == second.Token; same != (tt.exchanges == 1) {
				t.Errorf("tokens %q and %q", first.Token, second.Token)
			}
		})
	}
}

// A token is renewed when less than its margin (a fifth of a 10-second
// life: 2 seconds) remains, and Cargo is told to stop reusing it then.
func TestCacheRenewsAcrossExpiry(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.life = 10
	var at time.Time
	f.clock = func() time.Time { return at }
	steps := []struct {
		after      time.Duration
		token      string
		exchanges  int32
		expiration time.Duration // from now; Cargo reuses until 60 s before it
	}{
		{0, "Bearer tok1", 1, 8*time.Second + time.Minute},
		{7 * time.Second, "Bearer tok1", 1, 8*time.Second + time.Minute},
		{8 * time.Second, "Bearer tok2", 2, 16*time.Second + time.Minute},
		{15 * time.Second, "Bearer tok2", 2, 16*time.Second + time.Minute},
		{time.Hour, "Bearer tok3", 3, time.Hour + 8*time.Second + time.Minute},
	}
	for _, s := range steps {
		at = now.Add(s.after)
		ok := okToken(t, f.serve(t, nil, request("get", f.index(), f.args()...))[0])
		if ok.Token != s.token || f.exchanges.Load() != s.exchanges || ok.Cache != "expires" || ok.Expiration != now.Add(s.expiration).Unix() {
			t.Errorf("at +%s: token %q, %d exchanges, cache %s %d; want %q, %d, expires %d",
				s.after, ok.Token, f.exchanges.Load(), ok.Cache, ok.Expiration, s.token, s.exchanges, now.Add(s.expiration).Unix())
		}
	}
}

// unixModes skips on Windows, where a file's owner and mode bits are not
// what decides who may read it (its ACLs do; notPrivate trusts them).
func unixModes(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("skipping on Windows: owners and mode bits do not decide access there (ACLs do)")
	}
}

// plant writes a valid cache entry holding token "planted" at path.
func plant(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	data, _ := json.Marshal(cacheEntry{V: 1, Token: "planted", Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// A cache file that cannot be trusted is ignored with a warning and
// replaced by the fresh token's; nothing is read or written through a link.
func TestUntrustedCacheFileIsIgnoredAndReplaced(t *testing.T) {
	type test struct {
		plant func(t *testing.T, path, outside string)
		warn  string
	}
	testenv.Run(t, map[string]test{
		"not JSON": {func(t *testing.T, path, _ string) {
			if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a cargo-oidc cache entry"},
		"a token with a newline": {func(t *testing.T, path, _ string) {
			data, _ := json.Marshal(cacheEntry{V: 1, Token: "a\nb", Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a cargo-oidc cache entry"},
		"group-writable": {func(t *testing.T, path, _ string) { unixModes(t); plant(t, path, 0o620) }, "open to other users"},
		"world-readable": {func(t *testing.T, path, _ string) { unixModes(t); plant(t, path, 0o604) }, "open to other users"},
		"another user's": {func(t *testing.T, path, _ string) {
			unixModes(t)
			if os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root; TestNotPrivate checks the rule with a made-up owner")
			}
			plant(t, path, 0o600)
			if err := os.Chown(path, 4242, 4242); err != nil {
				t.Fatal(err)
			}
		}, "belongs to another user"},
		"oversized": {func(t *testing.T, path, _ string) {
			data, _ := json.Marshal(cacheEntry{V: 1, Token: "planted", Issued: now.Unix(), Expires: now.Add(time.Hour).Unix(), Username: strings.Repeat("u", maxCacheEntry)})
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "larger than"},
		"symbolic link": {func(t *testing.T, path, outside string) {
			plant(t, filepath.Join(outside, "entry"), 0o600)
			testenv.Symlink(t, filepath.Join(outside, "entry"), path)
		}, "symbolic link"},
		"named pipe": {func(t *testing.T, path, _ string) {
			if !makeFIFO(t, path) {
				t.Skip("this system has no named pipes")
			}
		}, "not a regular file"},
	}, func(t *testing.T, _ string, tt test) {
		f := newFake(t)
		f.tmp = testenv.TempDir(t)
		path := f.cachePath(f.args())
		if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		outside := testenv.TempDir(t)
		tt.plant(t, path, outside)
		ok := okToken(t, f.serve(t, nil, request("get", f.index(), f.args()...))[0])
		if ok.Token != "Bearer tok1" || f.exchanges.Load() != 1 {
			t.Errorf("token %q after %d exchanges, want a fresh one", ok.Token, f.exchanges.Load())
		}
		if w := f.stderr.String(); !strings.Contains(w, tt.warn) || !strings.Contains(w, "ignored and replaced") {
			t.Errorf("warning %q, want %q", w, tt.warn)
		}
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() || !testenv.PermIs(t, fi.Mode(), 0o600) {
			t.Fatalf("cache file %v, %v; want a regular file, 0600", fi, err)
		}
		if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"token":"tok1"`) {
			t.Errorf("cache file holds %s", data)
		}
		if data, err := os.ReadFile(filepath.Join(outside, "entry")); err == nil && !strings.Contains(string(data), "planted") {
			t.Errorf("the file outside was changed through the link: %s", data)
		}
	})
}

// A cache folder that cannot be trusted is not used: every get exchanges,
// with a warning, and nothing is written through a link.
func TestUntrustedCacheFolderIsNotUsed(t *testing.T) {
	type test struct {
		make func(t *testing.T, dir, outside string)
		warn string
	}
	testenv.Run(t, map[string]test{
		"open to the group": {func(t *testing.T, dir, _ string) {
			unixModes(t)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o770); err != nil {
				t.Fatal(err)
			}
		}, "open to other users"},
		"a link to a private folder": {func(t *testing.T, dir, outside string) {
			testenv.Symlink(t, outside, dir)
		}, "symbolic link"},
		"a file": {func(t *testing.T, dir, _ string) {
			if err := os.WriteFile(dir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a folder"},
		"another user's": {func(t *testing.T, dir, _ string) {
			unixModes(t)
			if os.Geteuid() != 0 {
				t.Skip("giving a folder to another user needs root; TestNotPrivate checks the rule with a made-up owner")
			}
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, 4242, 4242); err != nil {
				t.Fatal(err)
			}
		}, "belongs to another user"},
	}, func(t *testing.T, _ string, tt test) {
		f := newFake(t)
		f.tmp = testenv.TempDir(t)
		outside := testenv.TempDir(t)
		if err := os.Chmod(outside, 0o700); err != nil {
			t.Fatal(err)
		}
		tt.make(t, filepath.Join(f.tmp, "cargo-oidc-cache"+userSuffix()), outside)
		a := f.serve(t, nil, request("get", f.index(), f.args()...), request("get", f.index(), f.args()...))
		if okToken(t, a[0]).Token != "Bearer tok1" || okToken(t, a[1]).Token != "Bearer tok2" {
			t.Errorf("answers %s", a)
		}
		if w := f.stderr.String(); !strings.Contains(w, tt.warn) || !strings.Contains(w, "not cached") {
			t.Errorf("warning %q, want %q", w, tt.warn)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("%d files written through the link", len(entries))
		}
	})
}

// Both locks let one holder in at a time, and give up when ctx ends.
func TestLocks(t *testing.T) {
	t.Parallel()
	locks := map[string]func(ctx context.Context, path string) (func(), error){
		"flock or the system's": lockFile,
		"exclusive file":        func(ctx context.Context, p string) (func(), error) { return lockExclusive(ctx, p, lockStaleAfter) },
	}
	for name, lock := range locks {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(testenv.TempDir(t), "k.lock")
			var holders, most atomic.Int32
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					for range 10 {
						unlock, err := lock(context.Background(), path)
						if err != nil {
							t.Error(err)
							return
						}
						n := holders.Add(1)
						if n > most.Load() {
							most.Store(n)
						}
						time.Sleep(time.Millisecond)
						holders.Add(-1)
						unlock()
					}
				})
			}
			wg.Wait()
			if most.Load() != 1 {
				t.Errorf("%d holders at once, want 1", most.Load())
			}
			unlock, err := lock(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := lock(ctx, path); err == nil || !strings.Contains(err.Error(), "until the time ran out") {
				t.Errorf("a held lock was taken: %v", err)
			}
		})
	}
}

// A lock file older than the stale age is a dead provider's: taken over.
func TestExclusiveLockTakesOverAStaleLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(testenv.TempDir(t), "k.lock")
	if err := os.WriteFile(path, []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := lockExclusive(ctx, path, time.Minute); err == nil {
		t.Fatal("a fresh lock file was taken over")
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlock, err := lockExclusive(ctx, path, time.Minute)
	if err != nil {
		t.Fatalf("the stale lock was not taken over: %v", err)
	}
	unlock()
	if _, err := os.Lstat(path); err == nil {
		t.Error("the lock file stays after unlock")
	}
}

// Four provider processes that Cargo starts at once (cargo fetch in two
// steps, a build script's cargo) exchange once: the others wait for the
// lock and read the token the first one cached.
func TestConcurrentProviderProcessesExchangeOnce(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t)
	f.delay = 300 * time.Millisecond
	dir := testenv.TempDir(t)
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	line := request("get", f.index(), f.args()...) + "\n"
	const n = 4
	outs := make([]bytes.Buffer, n)
	cmds := make([]*exec.Cmd, n)
	for i := range n {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), childEnv+"=1", exchange.CertFileEnv+"="+ca, "RUNNER_TEMP="+dir,
			"ACTIONS_ID_TOKEN_REQUEST_URL="+f.srv.URL+"/_apis/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=rt")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(line), &outs[i], io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("provider %d: %v", i, err)
		}
		if !strings.Contains(outs[i].String(), `"token":"Bearer tok1"`) {
			t.Errorf("provider %d answered %s", i, outs[i].String())
		}
	}
	if got := f.exchanges.Load(); got != 1 {
		t.Errorf("%d exchanges for %d concurrent providers, want 1", got, n)
	}
}

// The action's own exchange seeds the cache: the provider of the setting
// it writes answers that token without an exchange.
func TestSeededCacheIsServed(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.tmp = testenv.TempDir(t)
	cfg, err := ParseArgs(f.args())
	if err != nil {
		t.Fatal(err)
	}
	setting, err := Command(cfg.Config(), "/opt/cargo-oidc", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testenv.TempDir(t), "cache")
	if setting, err = WithCacheDir(setting, dir); err != nil {
		t.Fatal(err)
	}
	tok := &exchange.Token{Value: "seeded", ExpiresAt: now.Add(time.Hour)}
	name, data, ok, err := SeedCache(setting, tok, now, func(k string) string { return map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "rt"}[k] })
	if err != nil || !ok {
		t.Fatalf("SeedCache: %v, %v", ok, err)
	}
	if CacheDir(setting) != dir || strings.Contains(string(data), "rt") && !strings.Contains(string(data), "seeded") {
		t.Fatalf("CacheDir = %q, entry %s", CacheDir(setting), data)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	a := f.serve(t, nil, request("get", f.index(), strings.Fields(setting)[1:]...))[0]
	if got := okToken(t, a).Token; got != "Bearer seeded" || f.exchanges.Load() != 0 {
		t.Errorf("token %q after %d exchanges, want the seeded one and none", got, f.exchanges.Load())
	}
	if _, _, ok, _ := SeedCache(setting, &exchange.Token{Value: "x"}, now, os.Getenv); ok {
		t.Error("a token of unknown expiry was seeded")
	}
}

// A GitLab ID token (fixed for the job) that crates.io has already
// exchanged gives an error that says so, not a bare 400: here the cached
// token is due for renewal, and the renewal sends the same ID token again.
func TestSpentIDTokenIsExplained(t *testing.T) {
	t.Parallel()
	var issued atomic.Int32
	used := map[string]bool{}
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/trusted_publishing/tokens", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ JWT string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		defer mu.Unlock()
		if used[body.JWT] {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"errors":[{"detail":"JWT has already been used"}]}`)
			return
		}
		used[body.JWT] = true
		fmt.Fprintf(w, `{"token":"cio_tp_spent%02d"}`, issued.Add(1))
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	f := &fake{srv: srv}
	var at time.Time
	f.clock = func() time.Time { return at }
	args := []string{"--provider=crates-io", "--url=" + srv.URL, "--id-token-env=CARGO_OIDC_ID_TOKEN"}
	b, _ := json.Marshal(Request{V: 1, Kind: "get", Operation: "publish", Registry: Registry{IndexURL: "https://github.com/rust-lang/crates.io-index", Name: "crates-io"}, Args: args})
	// A GitLab-shaped token minted for crates.io (a source that checks
	// the audience before sending finds the right one).
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://gitlab.com","aud":"crates.io","project_path":"octo/crate"}`))
	gitlab := "eyJhbGciOiJSUzI1NiJ9." + claims + ".c2ln"
	env := map[string]string{"CARGO_OIDC_ID_TOKEN": gitlab}
	at = now
	if got := okToken(t, f.serve(t, env, string(b))[0]).Token; got != "cio_tp_spent01" {
		t.Fatalf("first token %q", got)
	}
	at = now.Add(26 * time.Minute)
	a := f.serve(t, env, string(b))[0]
	msg := string(a["Err"])
	for _, want := range []string{"this ID token was already exchanged", "On GitLab the job's id_tokens are fixed for the job", "JWT has already been used"} {
		if !strings.Contains(msg, want) {
			t.Errorf("answer %s lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "check the crate's trusted publisher") {
		t.Errorf("answer %s blames the trusted publisher's set-up", msg)
	}
	if strings.Contains(msg, gitlab) || strings.Contains(msg, "cio_tp_spent01") {
		t.Errorf("answer %s holds a secret", msg)
	}
}

// The scope of the cache key is a per-job secret of whichever CI runs the
// job (or the fixed ID token given), so two jobs on one machine never share
// a key; with none, nothing is cached.
func TestCacheScope(t *testing.T) {
	type test struct {
		args []string
		env  map[string]string
		want string // "" = no scope
	}
	testenv.Run(t, map[string]test{
		"GitHub":          {nil, map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "rt", "CI_JOB_TOKEN": "x"}, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=rt"},
		"GitLab":          {nil, map[string]string{"CI_JOB_TOKEN": "glcbt-1"}, "CI_JOB_TOKEN=glcbt-1"},
		"CircleCI":        {nil, map[string]string{"CIRCLE_OIDC_TOKEN_V2": "eyJc"}, "CIRCLE_OIDC_TOKEN_V2=eyJc"},
		"Azure Pipelines": {nil, map[string]string{"SYSTEM_ACCESSTOKEN": "az"}, "SYSTEM_ACCESSTOKEN=az"},
		"Bitbucket":       {nil, map[string]string{"BITBUCKET_STEP_OIDC_TOKEN": "bb"}, "BITBUCKET_STEP_OIDC_TOKEN=bb"},
		"Buildkite":       {nil, map[string]string{"BUILDKITE_AGENT_ACCESS_TOKEN": "ag", "BUILDKITE_JOB_ID": "j1"}, "BUILDKITE_AGENT_ACCESS_TOKEN=ag\x00BUILDKITE_JOB_ID=j1"},
		"--id-token-env":  {[]string{"--id-token-env=MY_TOKEN"}, map[string]string{"MY_TOKEN": " eyJm \n", "CI_JOB_TOKEN": "x"}, "eyJm"},
		"nothing":         {nil, map[string]string{"CI": "true"}, ""},
	}, func(t *testing.T, _ string, tt test) {
		o, err := ParseArgs(append([]string{"--provider=crates-io"}, tt.args...))
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.scope(func(k string) string { return tt.env[k] })
		if err != nil || got != tt.want {
			t.Errorf("scope = %q, %v; want %q", got, err, tt.want)
		}
	})
}

// FuzzParseEntry feeds arbitrary cache file contents: never a panic, and
// an entry only with a token that can go into a header, an expiry after
// its issue, and an error that never quotes the content.
func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(`{"v":1,"token":"tok","issued":1,"expires":2}`))
	f.Add([]byte(`{"v":1,"token":"a\nb","issued":1,"expires":2}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := parseEntry(data)
		if err != nil {
			if len(data) > 8 && strings.Contains(err.Error(), string(data)) {
				t.Fatalf("the error quotes the content: %v", err)
			}
			return
		}
		if exchange.CheckToken("t", e.Token) != nil || e.Expires <= e.Issued || e.Issued <= 0 || e.V != cacheEntryVersion {
			t.Fatalf("accepted %+v", e)
		}
	})
}
