package e2e

// The rows of the fault matrix, the binary end to end (error texts, retries and
// parsing are the unit tests'), one provider per row unless their code differs.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// mxNoNet marks a row as failing before any request.
func mxNoNet(r mxRow) mxRow {
	r.idReqs, r.svcReqs = mxN(0), mxN(0)
	return r
}

func mxRows() []mxRow {
	// outside is a folder of the job outside both folders the step may write.
	outside := func(w *mxWorld, rel string) string { return filepath.Join(w.job.Root(), "outside", rel) }
	// unchanged checks that the outside folder holds only name with data.
	unchanged := func(w *mxWorld, name, data string) []string {
		entries, _ := os.ReadDir(outside(w, ""))
		got, _ := os.ReadFile(outside(w, name))
		return mxWant(map[string]bool{fmt.Sprintf("the folder outside to hold only %s, unchanged; got %d entries, %q", name, len(entries), got): len(entries) == 1 && string(got) == data})
	}
	const theirs = "[registries.other]\ntoken = \"not-for-the-workspace\"\n"
	otherSubject := func(w *mxWorld) {
		w.s.Azure.Entra.SetCredentials(fakes.FederatedCredential{Issuer: w.s.IssuerURL,
			Subject: "repo:octo-org/octo-repo:environment:release", Audience: fakes.EntraAudience})
	}
	// server starts a server of the fakes' CA as the row's url.
	server := func(w *mxWorld, h http.HandlerFunc) {
		srv := w.s.CA.StartServer(h)
		w.t.Cleanup(srv.Close)
		w.inputs["url"] = srv.URL
	}
	rows := []mxRow{
		// ---- the ID token endpoint (a fork's PR: exchange's TestGitHubIDTokensMissing)
		mxNoNet(mxRow{name: "id-token/variables-missing", expected: "fail: names permissions: id-token: write", provider: "jfrog",
			job:  func(o *runner.Options) { o.IDTokenURL, o.IDTokenToken = "", "" },
			want: []string{"ACTIONS_ID_TOKEN_REQUEST_", "permissions: id-token: write"}, notWant: []string{"fork"}}),
		{name: "id-token/always-503", expected: "fail in bounded time: endpoint and last status", provider: "jfrog",
			inputs: map[string]string{"retries": "2"},
			setup:  func(w *mxWorld) { w.s.Issuer.Faults.Push(fakes.Status(503), fakes.Status(503), fakes.Status(503)) },
			want:   []string{"github id token", "/_apis/token", "503"},
			idReqs: mxN(3), svcReqs: mxN(0), maxTime: 10 * time.Second},
		{name: "id-token/hang-timeout-5s", expected: "fail after timeout 5s", provider: "jfrog",
			inputs: map[string]string{"timeout": "5s"},
			setup:  func(w *mxWorld) { w.s.Issuer.Faults.Push(fakes.Of(fakes.FaultHang)) },
			want:   []string{"timeout"}, svcReqs: mxN(0), minTime: 4 * time.Second, maxTime: 12 * time.Second},

		// ---- the token services
		{name: "service/500-502-503-then-ok", expected: "ok after 4 exchange requests", provider: "jfrog", ok: true,
			setup:   func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Status(500), fakes.Status(502), fakes.Status(503)) },
			svcReqs: mxN(4), maxTime: 10 * time.Second},
		{name: "service/429-retry-after-3600-always", expected: "fail within timeout 5s", provider: "jfrog",
			inputs: map[string]string{"timeout": "5s"},
			setup: func(w *mxWorld) {
				for range 11 {
					w.s.JFrog.Faults.Push(fakes.StatusRetryAfter(429, "3600"))
				}
			},
			want: []string{"429"}, maxTime: 9 * time.Second},
		{name: "service/tls-untrusted", expected: "fail at once: certificate", provider: "jfrog",
			setup: func(w *mxWorld) {
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
					if st == http.StateNew {
						w.tlsConns.Add(1)
					}
				}
				srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
				srv.StartTLS()
				w.t.Cleanup(srv.Close)
				w.inputs["url"] = srv.URL
			},
			want:   []string{"certificate"},
			idReqs: mxN(1), svcReqs: mxN(0), maxTime: 5 * time.Second,
			check: func(w *mxWorld) []string {
				n := w.tlsConns.Load()
				return mxWant(map[string]bool{fmt.Sprintf("2 connections to the untrusted server (the file's roots, then the system's, loaded lazily; no retry), got %d", n): n == 2})
			}},
		{name: "service/newline-token", expected: "fail: token refused, not shown", provider: "jfrog",
			setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultNewlineToken)) },
			want:   []string{"refused"},
			idReqs: mxN(1), svcReqs: mxN(1)},
		{name: "service/100MB-body", expected: "fail: too large; peak RSS < 50 MB", provider: "jfrog",
			setup: func(w *mxWorld) {
				_, err := os.Stat("/proc/self/status")
				harness.Require(w.t, "/proc/<pid>/status (Linux) to measure the action's peak memory", err)
				w.mem = &mxMem{}
				w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultHugeBody))
			},
			want:   []string{"too large"},
			idReqs: mxN(1), svcReqs: mxN(1), maxTime: 10 * time.Second,
			check: func(w *mxWorld) []string {
				kb := w.mem.hwm
				return mxWant(map[string]bool{fmt.Sprintf("peak RSS below 50 MB, got %d KB (VmHWM; 0: not measured)", kb): kb > 0 && kb < 50<<10})
			}},

		// Each redirect status: exchange's TestRedirectRefused.
		{name: "service/redirect-307-other-host", expected: "fail: redirects refused; ID token not sent there", provider: "jfrog",
			setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultRedirect307)) },
			want:   []string{"redirects are refused", "localhost"},
			idReqs: mxN(1), svcReqs: mxN(1)},

		// ---- inputs: a refused input fails before any request
		mxNoNet(mxRow{name: "input/provider-missing", expected: "fail: provider is required", provider: "jfrog",
			inputs: map[string]string{"provider": mxDrop}, want: []string{"input provider", "required"}}),
		// An audience with a line break would print a workflow command.
		mxNoNet(mxRow{name: "input/audience-control-character", expected: "fail before any request: audience refused", provider: "jfrog",
			inputs: map[string]string{"audience": "aud\n::warning title=injected::x"},
			want:   []string{"input audience", "control character"},
			check: func(w *mxWorld) []string {
				injected := slices.ContainsFunc(w.res.Commands, func(c runner.Command) bool { return c.Properties["title"] == "injected" })
				return mxWant(map[string]bool{"no workflow command from the audience": !injected})
			}}),

		// ---- AWS CodeArtifact: STS, then CodeArtifact (svcReqs counts both)
		{name: "codeartifact/ok-files-and-default", expected: "ok: raw token, AWS secrets masked, config merged", provider: "codeartifact", ok: true,
			inputs: map[string]string{"replace-crates-io": "true", "default-registry": "true", "credentials-file": "{temp}/ca-creds/credentials.toml"},
			idReqs: mxN(1), svcReqs: mxN(2),
			check: func(w *mxWorld) []string {
				tok, env := w.res.Outputs["token"], w.res.Env
				session := "cargo-oidc-" + w.job.Env()["GITHUB_RUN_ID"] + "-" + w.job.Env()["GITHUB_RUN_ATTEMPT"]
				cfg, _ := os.ReadFile(filepath.Join(w.job.Workspace(), ".cargo", "config.toml"))
				creds, _ := os.ReadFile(w.credentials)
				return append(mxAWSSecretsMasked(w), mxWant(map[string]bool{
					"CARGO_REGISTRIES_CODEARTIFACT_TOKEN the raw token":                             w.s.Store.Valid(tok) && env["CARGO_REGISTRIES_CODEARTIFACT_TOKEN"] == tok,
					"CARGO_REGISTRY_DEFAULT codeartifact":                                           env["CARGO_REGISTRY_DEFAULT"] == "codeartifact",
					"no token saved as state (nothing revokes it)":                                  w.res.State["token"] == "",
					"username output an assumed role, got " + w.res.Outputs["username"]:             strings.HasPrefix(w.res.Outputs["username"], "arn:aws:sts::"+fakes.DefaultAWSAccount+":assumed-role/"),
					fmt.Sprintf("role session names [%s], got %v", session, w.s.STS.SessionNames()): slices.Equal(w.s.STS.SessionNames(), []string{session}),
					"config file merged, got:\n" + string(cfg): strings.Contains(string(cfg), `replace-with = "codeartifact"`) &&
						strings.Contains(string(cfg), "[registries.codeartifact]") && strings.Contains(string(cfg), `index = "`+w.s.CodeArtifactIndex+`"`),
					"the raw token in the credentials file": strings.Contains(string(creds), `token = "`+tok+`"`),
				})...)
			}},
		{name: "codeartifact/503-then-ok", expected: "ok: the retry is signed afresh", provider: "codeartifact", ok: true,
			setup:  func(w *mxWorld) { w.s.CodeArtifact.Faults.Push(fakes.Status(503)) },
			idReqs: mxN(1), svcReqs: mxN(3), maxTime: 8 * time.Second},
		{name: "codeartifact/newline-token", expected: "fail: token refused, not shown", provider: "codeartifact",
			setup:  func(w *mxWorld) { w.s.CodeArtifact.Faults.Push(fakes.Of(fakes.FaultNewlineToken)) },
			want:   []string{"authorization token", "refused"},
			idReqs: mxN(1), svcReqs: mxN(2), check: mxAWSSecretsMasked},

		// ---- files: a link out of the step's folders is refused before any request; a
		// failed step changes nothing; the post stage deletes nothing outside.
		{name: "files/read-only-workspace", expected: "fail: nothing written, workspace unchanged", provider: "jfrog",
			inputs: map[string]string{"replace-crates-io": "true"},
			setup: func(w *mxWorld) {
				writeFile(w.t, filepath.Join(w.job.Workspace(), "Cargo.toml"), "[package]\nname = \"app\"\nversion = \"0.1.0\"\n", 0o644)
				mxImmutable(w, w.job.Workspace())
			},
			want: []string{"config.toml"}},
		{name: "files/read-only-config-dir", expected: "fail: config unchanged, credentials rolled back", provider: "cloudsmith",
			inputs: map[string]string{"replace-crates-io": "true", "credentials-file": "{temp}/mx-creds/credentials.toml"},
			setup: func(w *mxWorld) {
				writeFile(w.t, filepath.Join(w.job.Workspace(), ".cargo", "config.toml"), "# keep me\n[build]\njobs = 2\n", 0o644)
				mxImmutable(w, filepath.Join(w.job.Workspace(), ".cargo"))
			},
			want: []string{"config.toml"}},
		mxNoNet(mxRow{name: "files/config-link-outside", expected: "fail before the exchange: link leaves the workspace", provider: "jfrog",
			inputs: map[string]string{"replace-crates-io": "true"},
			setup: func(w *mxWorld) {
				cargoDir := filepath.Join(w.job.Workspace(), ".cargo")
				if err := os.Mkdir(cargoDir, 0o755); err != nil {
					w.t.Fatal(err)
				}
				testenv.Symlink(w.t, writeFile(w.t, outside(w, "config.toml"), theirs, 0o644), filepath.Join(cargoDir, "config.toml"))
			},
			want:  []string{"symbolic link", "outside the workspace", "config.toml"},
			check: func(w *mxWorld) []string { return unchanged(w, "config.toml", theirs) }}),
		mxNoNet(mxRow{name: "files/provider-home-linked-outside", expected: "fail before the exchange: no binary installed outside", provider: "jfrog",
			inputs: map[string]string{"credential-mode": "provider"},
			setup: func(w *mxWorld) {
				writeFile(w.t, outside(w, "keep"), "x", 0o644)
				testenv.Symlink(w.t, outside(w, ""), filepath.Join(w.job.GitHubHome(), ".cargo-oidc"))
			},
			want:  []string{"symbolic link", ".cargo-oidc"},
			check: func(w *mxWorld) []string { return unchanged(w, "keep", "x") }}),
		// The post stage deletes only the file the main stage created: not a
		// file of the same name in a folder a later step linked in its place.
		{name: "files/post-after-cargo-repointed-outside", expected: "ok; post leaves <outside>/credentials.toml alone", provider: "jfrog", ok: true,
			inputs: map[string]string{"credentials-file": ".cargo/credentials.toml"},
			check: func(w *mxWorld) []string {
				writeFile(w.t, outside(w, "credentials.toml"), theirs, 0o644)
				ws, moved := w.job.Workspace(), filepath.Join(w.job.Root(), "moved")
				if err := os.Rename(filepath.Join(ws, ".cargo"), moved); err != nil {
					w.t.Fatal(err)
				}
				testenv.Symlink(w.t, outside(w, ""), filepath.Join(ws, ".cargo"))
				_, p := mxPost(w)
				_ = os.RemoveAll(moved) // holds the token; the scan follows
				return append(p, unchanged(w, "credentials.toml", theirs)...)
			}},

		// ---- Azure Artifacts through Entra (AADSTS texts: exchange's TestAzureErrors)
		{name: "azure/throttled-429-then-ok", expected: "ok: AADSTS50196 429 retried after Retry-After", provider: "azure", ok: true,
			setup:   func(w *mxWorld) { w.s.Azure.Entra.Faults.Push(fakes.EntraThrottled("1")) },
			svcReqs: mxN(2), minTime: 900 * time.Millisecond, maxTime: 8 * time.Second},
		{name: "azure/deny-70021", expected: "fail at once: federated credential subject/audience hint", provider: "azure",
			setup:  otherSubject,
			want:   []string{"no federated credential matches the ID token", "repo:octo-org/octo-repo:ref:refs/heads/main", fakes.EntraAudience},
			idReqs: mxN(1), svcReqs: mxN(1), maxTime: 5 * time.Second},
		{name: "azure/deny-echoing-the-id-token", expected: "fail at once: the echoed ID token redacted", provider: "azure",
			setup:  func(w *mxWorld) { otherSubject(w); w.s.Azure.Entra.SetEchoAssertion(true) },
			want:   []string{"no federated credential matches the ID token"},
			idReqs: mxN(1), svcReqs: mxN(1)},
		{name: "azure/token-in-error-body", expected: "fail: the error's token not shown", provider: "azure",
			setup: func(w *mxWorld) {
				f, _ := w.s.Azure.Entra.EntraLeakyFault()
				w.s.Azure.Entra.Faults.Push(f)
			},
			want:   []string{"AADSTS700027"},
			idReqs: mxN(1), svcReqs: mxN(1)},

		// ---- secrets: services and transports that echo the ID token; bounded revocation
		// An echoed ID token and signature in a long message: removed by value before the cut.
		{name: "secrets/echoed-id-token-before-cut", expected: "fail: message kept, ID token and parts removed", provider: "jfrog",
			setup: func(w *mxWorld) {
				server(w, func(rw http.ResponseWriter, r *http.Request) {
					idt := mxRequestIDToken(r)
					parts := strings.Split(idt, ".")
					msg := "signature " + parts[len(parts)-1] + " " + strings.Repeat("x_ ", 80) + "token " + idt + " payload " + parts[min(1, len(parts)-1)]
					b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"code": "FORBIDDEN", "message": msg}}})
					rw.Header().Set("Content-Type", "application/json")
					rw.WriteHeader(http.StatusForbidden)
					_, _ = rw.Write(b)
				})
			},
			want:   []string{"403", "signature ***", "x_ x_"},
			idReqs: mxN(1)},
		// A transport error quoting an answer that holds the ID token.
		{name: "secrets/transport-error-echoes-id-token", expected: "fail: transport error, ID token removed", provider: "jfrog",
			inputs: map[string]string{"retries": "1"},
			setup: func(w *mxWorld) {
				ln, err := tls.Listen("tcp", "127.0.0.1:0", w.s.CA.ServerTLS())
				if err != nil {
					w.t.Fatal(err)
				}
				w.t.Cleanup(func() { ln.Close() })
				go mxEchoGarbage(ln)
				w.inputs["url"] = "https://" + ln.Addr().String()
			},
			want:   []string{"malformed HTTP response"},
			idReqs: mxN(1)},
		{name: "secrets/redirect-location-is-id-token", expected: "fail: redirect refused, host redacted", provider: "cloudsmith",
			setup: func(w *mxWorld) {
				server(w, func(rw http.ResponseWriter, r *http.Request) {
					idt := mxRequestIDToken(r)
					rw.Header().Set("Location", "https://"+strings.ReplaceAll(idt, ".", "-")+"."+idt+"/x")
					rw.WriteHeader(http.StatusTemporaryRedirect)
				})
			},
			want:   []string{"redirects are refused"},
			idReqs: mxN(1)},
		// GITHUB_ENV unwritable after the exchange, the revocation hangs:
		// the step ends within its timeout, its summary the failure alone.
		{name: "secrets/late-failure-revoke-hangs-timeout-3s", expected: "fail within timeout 3s; failure summary only", provider: "crates-io",
			inputs: map[string]string{"timeout": "3s"},
			setup: func(w *mxWorld) {
				w.inputs["url"] = mxHangingDelete(w)
				d := filepath.Join(w.job.Temp(), "env-dir")
				if err := os.MkdirAll(d, 0o755); err != nil {
					w.t.Fatal(err)
				}
				w.override = map[string]string{"GITHUB_ENV": d}
			},
			want:    []string{"GITHUB_ENV"},
			maxTime: 8 * time.Second,
			check: func(w *mxWorld) []string {
				sum := w.res.Files["GITHUB_STEP_SUMMARY"]
				return mxWant(map[string]bool{
					"the failure alone in the summary, got:\n" + sum: strings.Contains(sum, "GITHUB_ENV") && !strings.Contains(sum, "registry ready") &&
						!strings.Contains(sum, "Exported") && !strings.Contains(sum, "CARGO_REGISTRY_TOKEN"),
					"no exported variables listed in the log": !strings.Contains(w.res.Stdout, "Exported "),
				})
			}},
		// The post stage's revocation hangs: bounded by the timeout input.
		{name: "secrets/post-revoke-hangs-timeout-2s", expected: "ok; post stage ends within timeout 2s, warns", provider: "crates-io", ok: true,
			inputs: map[string]string{"timeout": "2s"},
			setup:  func(w *mxWorld) { w.inputs["url"] = mxHangingDelete(w) },
			check: func(w *mxWorld) []string {
				post, p := mxPost(w)
				if post != nil && (post.Duration > 6*time.Second || !strings.Contains(post.Stdout, "not revoked")) {
					p = append(p, fmt.Sprintf("the post stage took %s with timeout 2s, or did not warn that the token is not revoked:\n%s", post.Duration.Round(100*time.Millisecond), post.Stdout))
				}
				return p
			}},
	}
	// Every provider's refusal of an ID token from another repository: the
	// service's own message and the claims hint, at once, without a retry.
	for _, p := range providers {
		want := []string{p.wrongClaim, "repository: " + evilRepo, "environment: release",
			"iss: ", "aud: ", "sub: ", "ref: ", "job_workflow_ref: "}
		if p.name == "codeartifact" {
			want = append(want, "trust policy", `token.actions.githubusercontent.com:aud = "sts.amazonaws.com"`, "token.actions.githubusercontent.com:sub", fakes.DefaultAWSRole)
		}
		rows = append(rows, mxRow{name: "service/" + p.name + "-wrong-repository", expected: "fail at once: message + claims hint", provider: p.name,
			setup: func(w *mxWorld) {
				w.s.Issuer.Override(map[string]any{"repository": evilRepo, "environment": "release"})
			},
			want:   want,
			idReqs: mxN(1), svcReqs: mxN(1), maxTime: 5 * time.Second})
	}
	return rows
}

// mxAWSSecretsMasked checks that the step masked every AWS secret and CodeArtifact token.
func mxAWSSecretsMasked(w *mxWorld) []string {
	var p []string
	for _, it := range w.s.Store.Tokens() {
		switch it.Kind {
		case fakes.KindAWSAccessKeyID, fakes.KindAWSSecretAccessKey, fakes.KindAWSSessionToken, fakes.KindAccessToken:
			if !slices.Contains(w.res.Masks, it.Value) {
				p = append(p, "no ::add-mask:: for the "+it.Kind)
			}
		}
	}
	return p
}

// mxWant returns "want " and every condition that does not hold, sorted.
func mxWant(conds map[string]bool) []string {
	var p []string
	for what, ok := range conds {
		if !ok {
			p = append(p, "want "+what)
		}
	}
	slices.Sort(p)
	return p
}

// mxMem is the peak resident memory (VmHWM, KB) of the action's process, sampled from
// /proc/<pid>/status every 2 ms: a child's rusage Maxrss is the test process's (Go uses vfork).
type mxMem struct{ hwm int64 }

// watch samples the process's VmHWM (afresh at exec) until it exits; a runner.HostRuntime.Watch.
func (m *mxMem) watch(p *os.Process) func(*os.ProcessState) {
	stop := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Go(func() {
		for {
			data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
			if _, v, ok := strings.Cut(string(data), "VmHWM:"); ok {
				var kb int64
				_, _ = fmt.Sscan(v, &kb)
				m.hwm = max(m.hwm, kb)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	return func(*os.ProcessState) {
		close(stop)
		sampling.Wait()
	}
}

// mxPost runs the post stage and returns its problems: a failure, a piece of a secret.
func mxPost(w *mxWorld) (*runner.StepResult, []string) {
	ctx, cancel := harness.Context(context.Background(), w.t, "the post stage of "+w.row.name, 30*time.Second)
	defer cancel()
	res, err := w.job.RunPost(ctx, scnStepID)
	if err != nil || res == nil {
		return nil, []string{fmt.Sprintf("post stage: %v", harness.Err(ctx, err))}
	}
	p := mxScanText(w, "post stage", res.Stdout+"\n"+res.Stderr)
	if res.ExitCode != 0 {
		p = append(p, fmt.Sprintf("post stage exit %d", res.ExitCode))
	}
	return res, p
}

func mxRequestIDToken(r *http.Request) string {
	var body map[string]any
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
	for _, k := range []string{"subject_token", "oidc_token", "jwt"} {
		if s, ok := body[k].(string); ok {
			return s
		}
	}
	return ""
}

// mxEchoGarbage answers every request on ln with its own body as the
// status line: not HTTP, so the client's error quotes it.
func mxEchoGarbage(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err != nil {
				return
			}
			// No space: Go reports `malformed HTTP response "<line>"`.
			_, _ = io.WriteString(c, `{"jwt":"`+mxRequestIDToken(req)+`"}`+"\r\n\r\n")
		}()
	}
}

// mxHangingDelete starts a crates.io whose exchange works and revocation never answers;
// it returns its URL.
func mxHangingDelete(w *mxWorld) string {
	crates := w.s.CratesIO.Handler()
	srv := w.s.CA.StartServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			select {
			case <-r.Context().Done():
			case <-time.After(60 * time.Second):
			}
			return
		}
		crates.ServeHTTP(rw, r)
	}))
	w.t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

// mxScanText reports every secret a 16-character piece of which shows in text (::add-mask::
// lines left out): the runner masks by exact match, so a split or cut secret is a leak.
func mxScanText(w *mxWorld, where, text string) []string {
	var p []string
	for s := range w.mxSecrets() {
		var pieces []string
		for _, part := range strings.Split(s, ".") {
			for i := 0; i+16 <= len(part); i += 4 {
				pieces = append(pieces, part[i:i+16])
			}
		}
		if len(secretLeaks(where, text, pieces)) > 0 {
			p = append(p, fmt.Sprintf("LEAK: the %s holds a piece of a secret (%s...)", where, secretPrefix(s)))
		}
	}
	return p
}

// mxImmutable makes dir immutable (chattr +i, as file modes do not stop
// root) or, not as root, read-only, until the test ends.
func mxImmutable(w *mxWorld, dir string) {
	w.t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			w.t.Fatal(err)
		}
		w.t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		harness.Require(w.t, "chattr +i", fmt.Errorf("%s: %v: %s (root ignores file modes; the read-only rows need chattr on a file system with the immutable attribute)", dir, err, out))
	}
	w.t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
}
