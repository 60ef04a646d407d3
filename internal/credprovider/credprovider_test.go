package credprovider

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const idToken = "eyJhbGciOiJSUzI1NiJ9.eyJyZXBvc2l0b3J5Ijoib2N0by1vcmcvb2N0by1yZXBvIn0.c2ln"

type fake struct {
	srv       *httptest.Server
	exchanges atomic.Int32
	status    int
	life      int           // expires_in of the tokens issued; 0 means 600
	delay     time.Duration // how long an exchange takes
	tmp       string        // the temp folder (DefaultCacheDir) of serve
	clock     func() time.Time
	stderr    syncBuffer // the provider's warnings
}

// serveIDToken answers the runner's ID-token requests on mux with idToken,
// refusing (400) one for another audience than aud when aud is set, and
// counting those it answers in n when n is not nil.
func serveIDToken(mux *http.ServeMux, aud string, n *atomic.Int32) {
	mux.HandleFunc("GET /_apis/token", func(w http.ResponseWriter, r *http.Request) {
		if aud != "" && r.URL.Query().Get("audience") != aud {
			http.Error(w, "audience", http.StatusBadRequest)
			return
		}
		if n != nil {
			n.Add(1)
		}
		fmt.Fprintf(w, `{"value":%q}`, idToken)
	})
}

func newFake(t *testing.T) *fake {
	f := &fake{status: 200}
	mux := http.NewServeMux()
	serveIDToken(mux, "", nil)
	mux.HandleFunc("POST /access/api/v1/oidc/token", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["subject_token"] != idToken {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if f.status != 200 {
			w.WriteHeader(f.status)
			fmt.Fprint(w, `{"errors":[{"code":"FORBIDDEN","message":"Failed to find a matching identity mapping"}]}`)
			return
		}
		time.Sleep(f.delay)
		n := f.exchanges.Add(1)
		fmt.Fprintf(w, `{"access_token":"tok%d","expires_in":%d}`, n, cmp.Or(f.life, 600))
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// serve runs the provider on the given request lines and returns the
// answer lines after the hello.
func (f *fake) serve(t *testing.T, env map[string]string, lines ...string) []map[string]json.RawMessage {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	env["ACTIONS_ID_TOKEN_REQUEST_URL"] = f.srv.URL + "/_apis/token?api-version=2.0"
	if env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] == "" {
		env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "rt"
	}
	if f.tmp == "" {
		f.tmp = testenv.TempDir(t)
	}
	clock := f.clock
	if clock == nil {
		clock = func() time.Time { return now }
	}
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Serve(context.Background(), Env{
			Getenv: testenv.Getenv(env), Stdin: strings.NewReader(strings.Join(lines, "\n") + "\n"),
			Stdout: &out, HTTP: f.srv.Client(), Now: clock, Stderr: &f.stderr, TempDir: func() string { return f.tmp },
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		// Not the timeout input's: a file that blocks open(2) would outlast it.
		t.Fatal("the provider did not answer within 10 seconds")
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if got[0] != `{"v":[1]}` {
		t.Fatalf("hello = %q", got[0])
	}
	var answers []map[string]json.RawMessage
	for _, l := range got[1:] {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("answer %q is not JSON: %v", l, err)
		}
		answers = append(answers, m)
	}
	if len(answers) != len(lines) {
		t.Fatalf("%d answers for %d requests: %s", len(answers), len(lines), out.String())
	}
	if strings.Contains(out.String(), idToken) {
		t.Errorf("an answer holds the ID token: %s", out.String())
	}
	return answers
}

func request(kind, index string, args ...string) string {
	b, _ := json.Marshal(Request{V: 1, Kind: kind, Operation: "read", Registry: Registry{IndexURL: index, Name: "artifactory"}, Args: args})
	return string(b)
}

func (f *fake) args() []string {
	return []string{"--provider=jfrog", "--url=" + f.srv.URL, "--provider-name=github-oidc", "--repository=cargo-local"}
}

func (f *fake) index() string {
	return "sparse+" + f.srv.URL + "/artifactory/api/cargo/cargo-local/index/"
}

// The second get, in the same process or another, is answered from the
// token cache: one exchange.
func TestSecondGetIsServedFromTheCache(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	answers := f.serve(t, nil, request("get", f.index(), f.args()...), request("get", f.index(), f.args()...))
	answers = append(answers, f.serve(t, nil, request("get", f.index(), f.args()...))...)
	if n := f.exchanges.Load(); n != 1 {
		t.Errorf("%d exchanges for 3 gets, want 1", n)
	}
	for i, a := range answers {
		var ok struct {
			Kind                 string `json:"kind"`
			Token                string `json:"token"`
			Cache                string `json:"cache"`
			Expiration           int64  `json:"expiration"`
			OperationIndependent bool   `json:"operation_independent"`
		}
		if err := json.Unmarshal(a["Ok"], &ok); err != nil {
			t.Fatalf("answer %d: %s", i, a)
		}
		if ok.Kind != "get" || ok.Token != "Bearer tok1" || !ok.OperationIndependent {
			t.Errorf("answer %d = %+v", i, ok)
		}
		// 600 s token: margin 120 s; Cargo stops reusing 60 s before the
		// reported expiry, i.e. 120 s before the real one.
		if want := now.Add(600*time.Second - 120*time.Second + 60*time.Second).Unix(); ok.Cache != "expires" || ok.Expiration != want {
			t.Errorf("cache %q expiration %d, want expires %d", ok.Cache, ok.Expiration, want)
		}
	}
}

func TestErrorsAreAnswers(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	tests := []struct {
		name, line, kind, msg string
	}{
		{"login", request("login", f.index(), f.args()...), "operation-not-supported", ""},
		{"logout", request("logout", f.index(), f.args()...), "operation-not-supported", ""},
		{"other registry", request("get", "sparse+https://other.example/index/", f.args()...), "url-not-supported", ""},
		{"not json", "{nope", "other", "not JSON"},
		{"wrong version", `{"v":2,"kind":"get"}`, "other", "version 2"},
		{"bad argument", request("get", f.index(), "provider=jfrog"), "other", "--name=value"},
		{"unknown argument", request("get", f.index(), "--colour=blue"), "other", "unknown argument --colour"},
		{"invalid config", request("get", f.index(), "--provider=jfrog"), "other", "input url: is required"},
		{"missing token source", request("get", f.index(), append(f.args(), "--id-token-env=NOPE")...), "other", "NOPE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := f.serve(t, nil, tt.line)[0]
			var e errBody
			if err := json.Unmarshal(a["Err"], &e); err != nil {
				t.Fatalf("answer %s is not an Err", a)
			}
			if e.Kind != tt.kind || !strings.Contains(e.Message+strings.Join(e.CausedBy, "\n"), tt.msg) {
				t.Errorf("answer = %+v, want kind %s with %q", e, tt.kind, tt.msg)
			}
		})
	}
	if f.exchanges.Load() != 0 {
		t.Errorf("%d exchanges for requests that should not exchange", f.exchanges.Load())
	}
}

func TestRefusalCarriesClaimsNotTokens(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.status = http.StatusForbidden
	a := f.serve(t, nil, request("get", f.index(), f.args()...))[0]
	raw := string(a["Err"])
	if !strings.Contains(raw, "Failed to find a matching identity mapping") || !strings.Contains(raw, "repository: octo-org/octo-repo") {
		t.Errorf("error answer lacks the message or the claims: %s", raw)
	}
	if strings.Contains(raw, idToken) {
		t.Error("error answer holds the ID token")
	}
}

func TestIDTokenFromAnotherCI(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	write := func(name, content string) string { return testenv.WriteFile(t, dir, name, content) }
	tests := []struct {
		name string
		arg  string
		want string // "" = a token is answered
	}{
		{"variable", "--id-token-env=CIRCLE_OIDC_TOKEN_V2", ""},
		{"file", "--id-token-file=" + write("id", idToken+"\n"), ""},
		{"file missing", "--id-token-file=" + filepath.Join(dir, "none"), "does not exist"},
		{"file empty", "--id-token-file=" + write("empty", "\n"), "is empty"},
		{"file huge", "--id-token-file=" + write("huge", strings.Repeat("a", 64<<10+1)), "larger than"},
		{"file with two lines", "--id-token-file=" + write("two", "abc\ndef"), "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			env := map[string]string{"CIRCLE_OIDC_TOKEN_V2": idToken}
			a := f.serve(t, env, request("get", f.index(), append(f.args(), tt.arg)...))[0]
			if _, ok := a["Ok"]; ok != (tt.want == "") || !strings.Contains(string(a["Err"]), tt.want) {
				t.Fatalf("answer = %s, want %q", a, tt.want)
			}
		})
	}
}

func TestCacheFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		life       time.Duration
		cache      string
		expiration int64
	}{
		{0, "never", 0},
		{5 * time.Second, "expires", now.Add(5*time.Second - time.Second + time.Minute).Unix()},
		{30 * time.Minute, "expires", now.Add(30*time.Minute - 5*time.Minute + time.Minute).Unix()},
		{time.Second, "never", 0},
	}
	for _, tt := range tests {
		tok := &exchange.Token{}
		if tt.life > 0 {
			tok.ExpiresAt = now.Add(tt.life)
		}
		if cache, exp := cacheFor(tok, now, now); cache != tt.cache || exp != tt.expiration {
			t.Errorf("cacheFor(%s) = %q, %d, want %q, %d", tt.life, cache, exp, tt.cache, tt.expiration)
		}
	}
}

// FuzzHandle feeds arbitrary request lines: the provider must answer each
// with exactly one JSON object holding Ok or Err, never panic.
func FuzzHandle(f *testing.F) {
	f.Add(`{"v":1,"kind":"get","registry":{"index-url":"x"},"args":["--provider=jfrog"]}`)
	f.Add(`{"v":1,"kind":"login"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, line string) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no network: a get that gets as far as the exchange fails at once
		a := handle(ctx, Env{Getenv: func(string) string { return "" }, Now: time.Now}, []byte(line))
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 || (m["Ok"] == nil && m["Err"] == nil) {
			t.Fatalf("answer %s", b)
		}
	})
}

// newCratesFake is a crates.io whose exchange issues cio_tp_<n> and whose
// revocation counts.
func newCratesFake(t *testing.T, body func(n int32) string) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	var issued, revoked atomic.Int32
	mux := http.NewServeMux()
	serveIDToken(mux, "", nil)
	mux.HandleFunc("POST /api/v1/trusted_publishing/tokens", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, body(issued.Add(1)))
	})
	mux.HandleFunc("DELETE /api/v1/trusted_publishing/tokens", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); !strings.HasPrefix(got, "Bearer cio_tp_") {
			t.Errorf("revocation with Authorization %q, want a minted token", got)
		}
		revoked.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv, &issued, &revoked
}

func TestCratesIOServesCratesIOOnlyAndRecordsEveryToken(t *testing.T) {
	t.Parallel()
	srv, issued, _ := newCratesFake(t, func(n int32) string { return fmt.Sprintf(`{"token":"cio_tp_minted%02d"}`, n) })
	record := filepath.Join(testenv.TempDir(t), "tokens")
	args := []string{"--provider=crates-io", "--url=" + srv.URL, "--" + RecordArg + "=" + record}
	f := &fake{srv: srv}
	answers := f.serve(t, nil,
		request("get", "https://github.com/rust-lang/crates.io-index", args...),
		request("get", "sparse+https://index.crates.io/", args...),
		request("get", "sparse+https://evil.example/index/", args...),
		request("get", "https://github.com/rust-lang/crates.io-index-fork", args...))
	for i, a := range answers[:2] {
		if !strings.Contains(string(a["Ok"]), `"token":"cio_tp_minted01"`) {
			t.Errorf("answer %d = %s", i, a)
		}
	}
	for i, a := range answers[2:] {
		if !strings.Contains(string(a["Err"]), kindURLNotSupported) {
			t.Errorf("answer for another registry %d = %s", i, a)
		}
	}
	if issued.Load() != 1 {
		t.Errorf("%d exchanges, want 1 (the second get is served from the cache)", issued.Load())
	}
	data, err := os.ReadFile(record)
	if err != nil || string(data) != "cio_tp_minted01\n" {
		t.Fatalf("record = %q, %v", data, err)
	}
	if fi, _ := os.Stat(record); !testenv.PermIs(t, fi.Mode(), 0o600) {
		t.Errorf("record mode %v", fi.Mode())
	}
}

// A token that cannot be recorded (its folder is missing) is revoked at
// once and not answered. A record, or its folder, that a step replaced with
// a symbolic link is not written through: the token is revoked and not
// answered the same way, and the file the link leads to is untouched.
func TestCratesIOUnrecordedTokenIsRevoked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		link func(t *testing.T, dir, outside string) string // returns the record path
		want string
	}{
		{"folder missing", func(t *testing.T, dir, _ string) string {
			return filepath.Join(dir, "missing", "tokens")
		}, "cannot record"},
		{"record linked", func(t *testing.T, dir, outside string) string {
			testenv.Symlink(t, filepath.Join(outside, "tokens"), filepath.Join(dir, "tokens"))
			return filepath.Join(dir, "tokens")
		}, "symbolic link"},
		{"record dangling link", func(t *testing.T, dir, outside string) string {
			testenv.Symlink(t, filepath.Join(outside, "new"), filepath.Join(dir, "tokens"))
			return filepath.Join(dir, "tokens")
		}, "symbolic link"},
		{"folder linked", func(t *testing.T, dir, outside string) string {
			testenv.Symlink(t, outside, filepath.Join(dir, "minted"))
			return filepath.Join(dir, "minted", "tokens")
		}, "symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _, revoked := newCratesFake(t, func(n int32) string { return `{"token":"cio_tp_linkedrecord"}` })
			outside := testenv.TempDir(t)
			if err := os.WriteFile(filepath.Join(outside, "tokens"), []byte("before\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			record := tc.link(t, testenv.TempDir(t), outside)
			f := &fake{srv: srv}
			a := f.serve(t, nil, request("get", "https://github.com/rust-lang/crates.io-index", "--provider=crates-io", "--url="+srv.URL, "--"+RecordArg+"="+record))[0]
			if a["Ok"] != nil || !strings.Contains(string(a["Err"]), tc.want) || strings.Contains(string(a["Err"]), "cio_tp_linkedrecord") {
				t.Errorf("answer = %s", a)
			}
			if revoked.Load() != 1 {
				t.Errorf("%d revocations, want 1", revoked.Load())
			}
			if data, err := os.ReadFile(filepath.Join(outside, "tokens")); err != nil || string(data) != "before\n" {
				t.Errorf("the file outside is %q, %v; want it untouched", data, err)
			}
			if _, err := os.Lstat(filepath.Join(outside, "new")); err == nil {
				t.Error("a file was created through the link")
			}
		})
	}
}

func TestErrorAnswerIsRedacted(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	serveIDToken(mux, "", nil)
	payload := strings.Split(idToken, ".")[1]
	mux.HandleFunc("POST /api/v1/trusted_publishing/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"errors":[{"detail":"bad jwt payload %s"}]}`, payload)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	f := &fake{srv: srv}
	a := f.serve(t, nil, request("get", "https://github.com/rust-lang/crates.io-index", "--provider=crates-io", "--url="+srv.URL))[0]
	if !strings.Contains(string(a["Err"]), "bad jwt payload ***") || strings.Contains(string(a["Err"]), payload) {
		t.Errorf("answer = %s", a)
	}
}

// TestServicesInProviderMode: in provider mode a get makes the service's
// calls with an ID token of its audience, at the endpoints Cargo's
// environment names (AZURE_AUTHORITY_HOST, AWS_ENDPOINT_URL_*); the token is
// answered as the token-scheme says, with its expiry, and served from the
// token cache to the second get; other registries are refused, and no
// credential of the way is in any answer.
func TestServicesInProviderMode(t *testing.T) {
	t.Parallel()
	const tenant, client = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "11111111-2222-3333-4444-555555555555"
	tests := []struct {
		name, aud, index string
		args             []string
		// serve adds the service's handlers to mux, counting each call in n.
		serve   func(mux *http.ServeMux, n *atomic.Int32)
		env     func(url string) map[string]string
		want    string
		calls   int32
		secrets []string
	}{
		{"azure", "api://AzureADTokenExchange", "sparse+https://pkgs.dev.azure.com/contoso/_packaging/crates/Cargo/index/",
			[]string{"--provider=azure", "--client-id=" + client, "--tenant-id=" + tenant, "--token-scheme=Bearer", "--retries=0",
				"--index-url=sparse+https://pkgs.dev.azure.com/contoso/_packaging/crates/Cargo/index/"},
			func(mux *http.ServeMux, n *atomic.Int32) {
				mux.HandleFunc("POST /"+tenant+"/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
					_ = r.ParseForm()
					if r.PostForm.Get("client_assertion") != idToken || r.PostForm.Get("client_id") != client || r.PostForm.Get("grant_type") != "client_credentials" {
						http.Error(w, `{"error":"invalid_client","error_codes":[70021]}`, http.StatusBadRequest)
						return
					}
					fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"entra-token-%d"}`, n.Add(1))
				})
			},
			func(url string) map[string]string { return map[string]string{"AZURE_AUTHORITY_HOST": url} },
			"Bearer entra-token-1", 1, nil},
		{"codeartifact", "sts.amazonaws.com", "sparse+https://my-domain-111122223333.d.codeartifact.eu-west-2.amazonaws.com/cargo/cargo-repo/",
			[]string{"--provider=codeartifact", "--role-to-assume=arn:aws:iam::111122223333:role/cargo-ci", "--aws-region=eu-west-2",
				"--domain=my-domain", "--domain-owner=111122223333", "--repository=cargo-repo", "--duration=1800", "--token-scheme=none", "--retries=0"},
			func(mux *http.ServeMux, n *atomic.Int32) {
				mux.HandleFunc("POST /sts/", func(w http.ResponseWriter, r *http.Request) {
					_ = r.ParseForm()
					if r.PostForm.Get("WebIdentityToken") != idToken || r.PostForm.Get("RoleSessionName") != "cargo-oidc-99-3" {
						http.Error(w, "bad form", http.StatusBadRequest)
						return
					}
					n.Add(1)
					fmt.Fprint(w, `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>`+
						`<AccessKeyId>ASIAKEY1</AccessKeyId><SecretAccessKey>secret1</SecretAccessKey><SessionToken>session1</SessionToken>`+
						`</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`)
				})
				mux.HandleFunc("POST /ca/v1/authorization-token", func(w http.ResponseWriter, r *http.Request) {
					if !strings.Contains(r.Header.Get("Authorization"), "Credential=ASIAKEY1/") ||
						r.URL.Query().Get("duration") != "1800" || r.URL.Query().Get("domain-owner") != "111122223333" {
						http.Error(w, `{"message":"bad"}`, http.StatusForbidden)
						return
					}
					n.Add(1)
					fmt.Fprintf(w, `{"authorizationToken":"ca-token-1","expiration":%d}`, now.Add(30*time.Minute).Unix())
				})
			},
			func(url string) map[string]string {
				return map[string]string{"AWS_ENDPOINT_URL_STS": url + "/sts", "AWS_ENDPOINT_URL_CODEARTIFACT": url + "/ca",
					"GITHUB_RUN_ID": "99", "GITHUB_RUN_ATTEMPT": "3"}
			},
			"ca-token-1", 2, []string{"secret1", "session1", "ASIAKEY1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ids, calls atomic.Int32
			mux := http.NewServeMux()
			serveIDToken(mux, tt.aud, &ids)
			tt.serve(mux, &calls)
			f := &fake{srv: httptest.NewTLSServer(mux)}
			t.Cleanup(f.srv.Close)
			get := request("get", tt.index, tt.args...)
			answers := f.serve(t, tt.env(f.srv.URL), get, get, request("get", "sparse+https://other.example/index/", tt.args...))
			for i, a := range answers[:2] {
				if ok := okToken(t, a); ok.Token != tt.want || ok.Cache != "expires" {
					t.Errorf("answer %d: %+v", i, ok)
				}
			}
			if !strings.Contains(string(answers[2]["Err"]), `"url-not-supported"`) {
				t.Errorf("other registry: %s", answers[2])
			}
			if ids.Load() != 1 || calls.Load() != tt.calls {
				t.Errorf("%d ID tokens and %d service calls, want 1 and %d (the second get is served from the token cache)", ids.Load(), calls.Load(), tt.calls)
			}
			all, _ := json.Marshal(answers)
			for _, s := range tt.secrets {
				if strings.Contains(string(all), s) {
					t.Errorf("an answer holds %s", s)
				}
			}
		})
	}
}
