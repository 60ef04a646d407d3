package e2e

// The rows of the fault matrix about the ID token endpoint, the token
// services and the inputs. What only the exchange code decides (error texts,
// retry policies, answer parsing) is proven by exchange's and
// internal/config's unit tests; these rows prove the binary end to end: the
// step's exit, its one ::error annotation, nothing exported, nothing leaked.

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// mxFail marks a row as a failing step.
func mxFail(r mxRow) mxRow {
	r.exit = 1
	return r
}

// mxNoNet marks a row as failing before any request.
func mxNoNet(r mxRow) mxRow {
	r = mxFail(r)
	r.idReqs, r.svcReqs = mxN(0), mxN(0)
	return r
}

// mxRows is the matrix.
func mxRows() []mxRow {
	var rows []mxRow
	add := func(r mxRow) { rows = append(rows, r) }

	// ---- the ID token endpoint
	add(mxNoNet(mxRow{name: "id-token/variables-missing", expected: "fail: names permissions: id-token: write", provider: "jfrog",
		noIDToken: true, want: []string{"ACTIONS_ID_TOKEN_REQUEST_", "permissions: id-token: write"}, notWant: []string{"fork"}}))
	add(mxNoNet(mxRow{name: "id-token/fork-pull-request", expected: "fail: forks get no ID token", provider: "jfrog",
		noIDToken: true,
		job: func(o *runner.Options) {
			o.EventName, o.Ref, o.Event = "pull_request", "refs/pull/7/merge", mxForkEvent()
		},
		want: []string{"id-token: write", "fork", "forker/octo-repo", "octo-org/octo-repo"}}))
	add(mxRow{name: "id-token/500-503-then-ok", expected: "ok after 3 ID token requests", provider: "jfrog",
		setup:  func(w *mxWorld) { w.s.Issuer.Faults.Push(fakes.Status(500), fakes.Status(503)) },
		idReqs: mxN(3), svcReqs: mxN(1), maxTime: 8 * time.Second})
	add(mxFail(mxRow{name: "id-token/always-503", expected: "fail in bounded time: endpoint and last status", provider: "jfrog",
		inputs: map[string]string{"retries": "2"},
		setup: func(w *mxWorld) {
			w.s.Issuer.Faults.Push(fakes.Status(503), fakes.Status(503), fakes.Status(503), fakes.Status(503))
		},
		want:   []string{"github id token", mxIDTokenPath, "503"},
		idReqs: mxN(3), svcReqs: mxN(0), maxTime: 10 * time.Second}))
	add(mxFail(mxRow{name: "id-token/hang-timeout-5s", expected: "fail after timeout 5s", provider: "jfrog",
		inputs: map[string]string{"timeout": "5s"},
		setup:  func(w *mxWorld) { w.s.Issuer.Faults.Push(fakes.Of(fakes.FaultHang)) },
		want:   []string{"timeout"}, svcReqs: mxN(0), minTime: 4 * time.Second, maxTime: 12 * time.Second}))

	// ---- the token services
	add(mxRow{name: "service/500-502-503-then-ok", expected: "ok after 4 exchange requests", provider: "jfrog",
		setup: func(w *mxWorld) {
			w.s.JFrog.Faults.Push(fakes.Status(500), fakes.Status(502), fakes.Status(503))
		},
		svcReqs: mxN(4), maxTime: 10 * time.Second})
	add(mxFail(mxRow{name: "service/429-retry-after-3600-always", expected: "fail within timeout 5s", provider: "jfrog",
		inputs: map[string]string{"timeout": "5s"},
		setup: func(w *mxWorld) {
			for range 11 {
				w.s.JFrog.Faults.Push(fakes.StatusRetryAfter(429, "3600"))
			}
		},
		want:    []string{"429"},
		maxTime: 9 * time.Second}))
	// Every provider's refusal: its message and the claims hint, at once.
	for _, p := range providers {
		if p.refusal == nil {
			continue
		}
		msg := "mx " + p.name + " refuses: identity mapping does not match"
		body, _ := json.Marshal(p.refusal(403, msg))
		add(mxFail(mxRow{name: "service/" + p.name + "-403-no-retry", expected: "fail at once: message + claims hint", provider: p.name,
			stack: fakes.Options{Issuer: fakes.IssuerConfig{Environment: "release"}},
			setup: func(w *mxWorld) {
				p.faults(w.t, w.s).Push(fakes.Fault{Kind: fakes.FaultStatus, Status: 403, Body: string(body), ContentType: "application/json"})
			},
			want:   append([]string{"403", msg, "environment: release"}, mxHintLines...),
			idReqs: mxN(1), svcReqs: mxN(1), maxTime: 5 * time.Second}))
	}
	add(mxFail(mxRow{name: "service/tls-untrusted", expected: "fail at once: certificate", provider: "jfrog",
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
			// With SSL_CERT_FILE set (the fakes' CA) a handshake first
			// trusts the file alone, then once more with the system's
			// roots added (exchange.BaseHTTPClient loads them lazily);
			// the retry policy adds none: a certificate error is final.
			if n := w.tlsConns.Load(); n != 2 {
				return []string{fmt.Sprintf("the untrusted server saw %d connections, want 2 (the file's roots, then the system's; no retry)", n)}
			}
			return nil
		}}))
	add(mxFail(mxRow{name: "service/newline-token", expected: "fail: token refused, not shown", provider: "jfrog",
		setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultNewlineToken)) },
		want:   []string{"refused"},
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(mxFail(mxRow{name: "service/100MB-body", expected: "fail: too large; peak RSS < 50 MB", provider: "jfrog",
		memory: true,
		setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultHugeBody)) },
		want:   []string{"too large"},
		idReqs: mxN(1), svcReqs: mxN(1), maxTime: 10 * time.Second,
		check: func(w *mxWorld) []string {
			if w.mem == nil || w.mem.peak() == 0 {
				return []string{"no memory measure of the child"}
			}
			if peak := w.mem.peak(); peak >= mxMaxRSS {
				return []string{fmt.Sprintf("peak RSS %d MB (rusage %d KB, VmHWM %d KB), want < %d MB", peak>>20, w.mem.maxrss, w.mem.hwm, mxMaxRSS>>20)}
			}
			return nil
		}}))
	for _, k := range []fakes.FaultKind{fakes.FaultRedirect307, fakes.FaultRedirect308} {
		add(mxFail(mxRow{name: "service/" + k.String() + "-other-host", expected: "fail: redirects refused; ID token not sent there", provider: "jfrog",
			setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(k)) },
			want:   []string{"redirects are refused", "localhost"},
			idReqs: mxN(1), svcReqs: mxN(1), check: mxNoneOf}))
	}

	// ---- inputs: a refused input fails before any request, for every
	// provider (what each input accepts: internal/config's unit tests).
	for _, in := range []struct{ provider, drop string }{
		{"jfrog", "provider"}, {"jfrog", "url"}, {"cloudsmith", "namespace"}, {"crates-io", "provider"}, {"codeartifact", "role-to-assume"},
	} {
		add(mxNoNet(mxRow{name: "input/" + in.provider + "-" + in.drop + "-missing", expected: "fail: " + in.drop + " is required", provider: in.provider,
			inputs: map[string]string{in.drop: mxDrop}, want: []string{"input " + in.drop, "required"}}))
	}

	// ---- AWS CodeArtifact: STS, then CodeArtifact (svcReqs counts both)
	add(mxRow{name: "codeartifact/ok", expected: "ok: raw token, every AWS secret masked", provider: "codeartifact",
		idReqs: mxN(1), svcReqs: mxN(2),
		check: func(w *mxWorld) []string {
			p := mxAWSSecretsMasked(w)
			tok := w.res.Outputs["token"]
			if !w.s.Store.Valid(tok) || w.res.Env["CARGO_REGISTRIES_CODEARTIFACT_TOKEN"] != tok {
				p = append(p, "CARGO_REGISTRIES_CODEARTIFACT_TOKEN is not the raw CodeArtifact token")
			}
			if v, ok := w.res.State["token"]; ok && v != "" {
				p = append(p, "the CodeArtifact token was saved as state (nothing revokes it)")
			}
			if got := w.res.Outputs["username"]; !strings.HasPrefix(got, "arn:aws:sts::"+fakes.DefaultAWSAccount+":assumed-role/") {
				p = append(p, "username output "+got)
			}
			if got := w.s.STS.SessionNames(); len(got) != 1 || got[0] != "cargo-oidc-"+w.job.Env()["GITHUB_RUN_ID"]+"-"+w.job.Env()["GITHUB_RUN_ATTEMPT"] {
				p = append(p, fmt.Sprintf("role session names %v", got))
			}
			return p
		}})
	add(mxRow{name: "codeartifact/files-and-default", expected: "ok: config merged, credentials file raw token", provider: "codeartifact",
		inputs: map[string]string{"replace-crates-io": "true", "default-registry": "true", "credentials-file": "{temp}/ca-creds/credentials.toml"},
		idReqs: mxN(1), svcReqs: mxN(2),
		check: func(w *mxWorld) []string {
			var p []string
			cfg, err := os.ReadFile(filepath.Join(w.job.Workspace(), ".cargo", "config.toml"))
			for _, want := range []string{`replace-with = "codeartifact"`, "[registries.codeartifact]", `index = "` + w.s.CodeArtifactIndex + `"`} {
				if err != nil || !strings.Contains(string(cfg), want) {
					p = append(p, fmt.Sprintf("config file lacks %s: %v\n%s", want, err, cfg))
				}
			}
			if creds, err := os.ReadFile(w.credentials); err != nil || !strings.Contains(string(creds), `token = "`+w.res.Outputs["token"]+`"`) {
				p = append(p, fmt.Sprintf("the credentials file does not hold the raw token: %v", err))
			}
			if w.res.Env["CARGO_REGISTRY_DEFAULT"] != "codeartifact" {
				p = append(p, "CARGO_REGISTRY_DEFAULT is not codeartifact")
			}
			return p
		}})
	add(mxRow{name: "codeartifact/503-then-ok", expected: "ok: the retry is signed afresh", provider: "codeartifact",
		setup:  func(w *mxWorld) { w.s.CodeArtifact.Faults.Push(fakes.Status(503)) },
		idReqs: mxN(1), svcReqs: mxN(3), maxTime: 8 * time.Second})
	add(mxFail(mxRow{name: "codeartifact/sts-access-denied", expected: "fail at once: trust policy + claims", provider: "codeartifact",
		stack: fakes.Options{Issuer: fakes.IssuerConfig{Environment: "release"}, Mapping: map[string]string{"repository": "other-org/other-repo"}},
		want: append([]string{"403", "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity", "trust policy",
			`token.actions.githubusercontent.com:aud = "sts.amazonaws.com"`, "token.actions.githubusercontent.com:sub", fakes.DefaultAWSRole}, mxHintLines...),
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(mxFail(mxRow{name: "codeartifact/newline-token", expected: "fail: token refused, not shown", provider: "codeartifact",
		setup:  func(w *mxWorld) { w.s.CodeArtifact.Faults.Push(fakes.Of(fakes.FaultNewlineToken)) },
		want:   []string{"authorization token", "refused"},
		idReqs: mxN(1), svcReqs: mxN(2), check: mxAWSSecretsMasked}))
	add(mxFail(mxRow{name: "codeartifact/308-other-host", expected: "fail: redirects refused; credentials not sent there", provider: "codeartifact",
		setup:  func(w *mxWorld) { w.s.CodeArtifact.Faults.Push(fakes.Of(fakes.FaultRedirect308)) },
		want:   []string{"redirects are refused"},
		idReqs: mxN(1), svcReqs: mxN(2)}))
	add(mxNoNet(mxRow{name: "codeartifact/http-endpoint", expected: "fail before any request: https only", provider: "codeartifact",
		job:  func(o *runner.Options) { o.Env["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9" },
		want: []string{"AWS_ENDPOINT_URL_STS must be an https URL"}}))

	rows = append(rows, mxFileRows()...)
	rows = append(rows, mxAzureRows()...)
	return append(rows, mxSecretRows()...)
}

// mxAWSSecretsMasked checks that the step masked every AWS secret and the
// CodeArtifact token the fakes issued.
func mxAWSSecretsMasked(w *mxWorld) []string {
	var p []string
	masks := map[string]bool{}
	for _, line := range strings.Split(w.res.Stdout, "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "::add-mask::"); ok {
			masks[m] = true
		}
	}
	for _, it := range w.s.Store.Tokens() {
		switch it.Kind {
		case fakes.KindAWSAccessKeyID, fakes.KindAWSSecretAccessKey, fakes.KindAWSSessionToken, fakes.KindAccessToken:
			if !masks[it.Value] {
				p = append(p, "no ::add-mask:: for the "+it.Kind)
			}
		}
	}
	return p
}

// mxForkEvent is a pull_request payload whose head is a fork.
func mxForkEvent() []byte {
	repo := func(full string) map[string]any {
		owner, name, _ := strings.Cut(full, "/")
		return map[string]any{"full_name": full, "name": name, "owner": map[string]any{"login": owner}, "fork": owner != "octo-org"}
	}
	ev := map[string]any{
		"action": "opened", "number": 7,
		"repository": repo("octo-org/octo-repo"),
		"pull_request": map[string]any{
			"number": 7,
			"head":   map[string]any{"ref": "patch-1", "sha": "ffac537e6cbbf934b08745a378932722df287a53", "repo": repo("forker/octo-repo")},
			"base":   map[string]any{"ref": "main", "repo": repo("octo-org/octo-repo")},
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

// mxNoneOf checks that none of the ID tokens the issuer minted reached the
// redirect target, and that the target got no request at all.
func mxNoneOf(w *mxWorld) []string {
	var p []string
	for _, tok := range w.s.Store.Tokens() {
		if w.s.Sink.Received(tok.Value) {
			p = append(p, fmt.Sprintf("the redirect target received a %s", tok.Kind))
		}
	}
	if n := w.s.Store.Requests(fakes.SinkPathPrefix + fakes.JFrogTokenPath); n != 0 {
		p = append(p, fmt.Sprintf("the redirect target got %d requests", n))
	}
	return p
}

// mxHintLines are the claims the hint block must list for a refused ID token.
var mxHintLines = []string{"iss: ", "aud: ", "sub: ", "repository: ", "ref: ", "environment: ", "job_workflow_ref: "}

// mxMem is the peak memory of the action's process, measured two ways.
//
// The rusage Maxrss of a child started by a Go program is an upper bound
// only: Go starts children with vfork (CLONE_VM), and at exec Linux records
// the high-water mark of the address space being left, which is the test
// process's own (over 80 MB under -race). VmHWM, sampled from
// /proc/<pid>/status every 2 ms, belongs to the child's own address space
// but may miss growth in the last milliseconds before exit.
type mxMem struct {
	maxrss int64 // KB, from wait4's rusage
	hwm    int64 // KB, the largest VmHWM sampled
}

// watch samples the VmHWM of a started process every 2 ms until it exits,
// then reads its rusage (a runner.HostRuntime.Watch).
func (m *mxMem) watch(p *os.Process) func(*os.ProcessState) {
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // VmHWM is per address space: it starts afresh at exec
		defer close(sampled)
		status := fmt.Sprintf("/proc/%d/status", p.Pid)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb := mxVmHWM(status); kb > m.hwm {
				m.hwm = kb
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func(st *os.ProcessState) {
		close(stop)
		<-sampled
		if st == nil {
			return
		}
		if rss, ok := maxRSS(st); ok {
			m.maxrss = rss
		}
	}
}

// peak is the child's peak resident memory in bytes: the sampled VmHWM,
// or Maxrss (an upper bound) when nothing was sampled.
func (m *mxMem) peak() int64 {
	if m.hwm > 0 {
		return m.hwm << 10
	}
	return m.maxrss << 10
}

// mxVmHWM reads VmHWM (KB) from a /proc/<pid>/status file; 0 when absent.
func mxVmHWM(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}
