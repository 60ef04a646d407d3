package e2e

// Rows of the fault matrix about secrets: success answers that are not
// JSON, services and transports that echo the ID token, the step summary,
// revocation within the timeout and of every token the credential provider
// mints, and inputs that could print workflow commands.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
)

// mxSecretRows are the rows about secrets.
func mxSecretRows() []mxRow {
	var rows []mxRow
	add := func(r mxRow) { rows = append(rows, r) }
	fail := func(r mxRow) mxRow {
		r.exit = 1
		return r
	}

	// A 2xx answer is never quoted; a token still findable in it is masked
	// and, for crates.io, revoked.
	malformed := func(name, expected string, wrap func(tok string) string, want ...string) {
		add(fail(mxRow{name: "secrets/crates-io-200-" + name, expected: expected, provider: "crates-io",
			setup: func(w *mxWorld) {
				tok := "cio_tp_" + mxRandomHex(16) // 39 characters, like crates.io's
				w.extraSecrets = append(w.extraSecrets, tok)
				w.s.Store.Add(fakes.KindAccessToken, "crates-io", tok, time.Hour)
				w.s.CratesIO.Faults.Push(fakes.Fault{Kind: fakes.FaultStatus, Status: 200, Body: wrap(tok), ContentType: "application/json"})
			},
			want:   append([]string{"200 OK", "not valid JSON", "not shown", "masked and revoked"}, want...),
			idReqs: mxN(1), svcReqs: mxN(2), // the exchange, then the revocation
			check: func(w *mxWorld) []string {
				p := mxNoFragments(w)
				tok := w.extraSecrets[len(w.extraSecrets)-1]
				if t, ok := w.s.Store.Lookup(tok); !ok || !t.Revoked {
					p = append(p, "the token found in the malformed answer was not revoked")
				}
				if !strings.Contains(w.res.Stdout, "::add-mask::"+tok) {
					p = append(p, "the token found in the malformed answer was not masked")
				}
				return p
			}}))
	}
	malformed("bom", "fail: shape only; token masked, revoked",
		func(tok string) string { return "\ufeff{\"token\":\"" + tok + "\"}" }, "byte order mark")
	malformed("trailing-bytes", "fail: shape only; token masked, revoked",
		func(tok string) string { return "{\"token\":\"" + tok + "\"}\n<!-- " + tok + " -->" }, "followed by")

	// A service echoing the ID token and its signature in a long message:
	// both removed by value before the cut, in the annotation and in the
	// summary (where escaping must not split what is left).
	add(fail(mxRow{name: "secrets/echoed-id-token-before-cut", expected: "fail: message kept, ID token and parts removed", provider: "jfrog",
		setup: func(w *mxWorld) {
			srv := w.s.CA.StartServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				idt := mxRequestIDToken(r)
				parts := strings.Split(idt, ".")
				msg := "signature " + parts[len(parts)-1] + " " + strings.Repeat("x_ ", 80) + "token " + idt + " payload " + parts[min(1, len(parts)-1)]
				b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"code": "FORBIDDEN", "message": msg}}})
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(http.StatusForbidden)
				_, _ = rw.Write(b)
			}))
			w.t.Cleanup(srv.Close)
			w.inputs["url"] = srv.URL
		},
		want:   []string{"403", "signature ***", "x_ x_"},
		idReqs: mxN(1), check: mxNoFragments}))

	// A transport error quoting the answer (Go's `malformed HTTP response
	// "<line>"`) with the ID token in it, also on the debug line.
	add(fail(mxRow{name: "secrets/transport-error-echoes-id-token", expected: "fail: transport error, ID token removed", provider: "jfrog",
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
		idReqs: mxN(1), check: mxNoFragments}))

	// A redirect whose Location host is the ID token.
	add(fail(mxRow{name: "secrets/redirect-location-is-id-token", expected: "fail: redirect refused, host redacted", provider: "cloudsmith",
		setup: func(w *mxWorld) {
			srv := w.s.CA.StartServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				idt := mxRequestIDToken(r)
				rw.Header().Set("Location", "https://"+strings.ReplaceAll(idt, ".", "-")+"."+idt+"/x")
				rw.WriteHeader(http.StatusTemporaryRedirect)
			}))
			w.t.Cleanup(srv.Close)
			w.inputs["url"] = srv.URL
		},
		want:   []string{"redirects are refused"},
		idReqs: mxN(1), check: mxNoFragments}))

	// A late failure (GITHUB_ENV unwritable after the exchange) while the
	// revocation hangs: the step ends within its timeout, and its summary is
	// the failure alone.
	add(fail(mxRow{name: "secrets/late-failure-revoke-hangs-timeout-3s", expected: "fail within timeout 3s; failure summary only", provider: "crates-io",
		inputs: map[string]string{"timeout": "3s"},
		setup:  func(w *mxWorld) { w.inputs["url"] = mxHangingDelete(w) },
		fileEnv: func(w *mxWorld) map[string]string {
			d := filepath.Join(w.job.Temp(), "env-dir")
			if err := os.MkdirAll(d, 0o755); err != nil {
				w.t.Fatal(err)
			}
			return map[string]string{"GITHUB_ENV": d}
		},
		want:    []string{"GITHUB_ENV"},
		maxTime: 8 * time.Second,
		check: func(w *mxWorld) []string {
			p := mxNoFragments(w)
			sum := w.res.Files["GITHUB_STEP_SUMMARY"]
			for _, s := range []string{"registry ready", "Exported", "CARGO_REGISTRY_TOKEN"} {
				if strings.Contains(sum, s) {
					p = append(p, fmt.Sprintf("the summary of a failed step holds %q:\n%s", s, sum))
				}
			}
			if !strings.Contains(sum, "GITHUB_ENV") {
				p = append(p, "the summary lacks the failure: "+sum)
			}
			if strings.Contains(w.res.Stdout, "Exported ") {
				p = append(p, "the log of a failed step lists exported variables")
			}
			return p
		}}))

	// The post stage's revocation hangs: bounded by the timeout input.
	add(mxRow{name: "secrets/post-revoke-hangs-timeout-2s", expected: "ok; post stage ends within timeout 2s, warns", provider: "crates-io",
		inputs: map[string]string{"timeout": "2s"},
		setup:  func(w *mxWorld) { w.inputs["url"] = mxHangingDelete(w) },
		check: func(w *mxWorld) []string {
			post, err := w.job.RunPost(context.Background(), mxStepID)
			if err != nil || post == nil {
				return []string{fmt.Sprintf("post stage: %v", err)}
			}
			var p []string
			if post.Duration > 6*time.Second {
				p = append(p, fmt.Sprintf("the post stage took %s with timeout 2s", post.Duration.Round(100*time.Millisecond)))
			}
			if !strings.Contains(post.Stdout, "not revoked") {
				p = append(p, "the post stage did not warn that the token is not revoked:\n"+post.Stdout)
			}
			return append(p, mxScanText(w, "post stage", post.Stdout+post.Stderr)...)
		}})

	// Provider mode: every token the credential provider mints is revoked
	// by the post stage, and the provider answers for crates.io only.
	add(mxRow{name: "secrets/provider-mode-revokes-minted", expected: "ok; post revokes the step's and 2 minted tokens", provider: "crates-io",
		inputs: map[string]string{"credential-mode": "provider"},
		check:  mxProviderMinted,
	})
	// A later step replaces the record's folder with a link to a folder
	// outside: the post stage neither reads nor deletes there.
	add(mxRow{name: "files/provider-mode-minted-folder-linked-outside", expected: "ok; post reads and deletes nothing outside, warns", provider: "crates-io",
		inputs: map[string]string{"credential-mode": "provider"},
		check:  mxProviderMintedLinkedOutside,
	})

	// An audience with a line break would print a workflow command.
	add(fail(mxRow{name: "input/audience-control-character", expected: "fail before any request: audience refused", provider: "jfrog",
		inputs: map[string]string{"audience": "aud\n::warning title=injected::x"},
		want:   []string{"input audience", "control character"},
		idReqs: mxN(0), svcReqs: mxN(0),
		check: func(w *mxWorld) []string {
			for _, line := range strings.Split(w.res.Stdout, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "::warning title=injected") {
					return []string{"the audience printed a workflow command"}
				}
			}
			return nil
		}}))
	return rows
}

// mxRandomHex is n random bytes in hex.
func mxRandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// mxRequestIDToken is the ID token in a token-exchange request body.
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

// mxHangingDelete starts a crates.io whose exchange works and whose
// revocation never answers (until the client gives up); it returns its URL.
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

// mxNoFragments checks that no piece of 16 characters of any secret (a
// JWT's parts included) shows in the step's log, annotations or summary,
// also once the summary's markdown escapes are undone: the runner masks by
// exact match, so a split or cut secret is a leak.
func mxNoFragments(w *mxWorld) []string {
	sum := w.res.Files["GITHUB_STEP_SUMMARY"]
	return append(mxScanText(w, "log", w.res.Stdout+"\n"+w.res.Stderr),
		mxScanText(w, "step summary", sum+"\n"+strings.ReplaceAll(sum, `\`, ""))...)
}

// mxScanText reports every secret of which a 16-character piece shows in
// text (::add-mask:: lines left out).
func mxScanText(w *mxWorld, where, text string) []string {
	const piece = 16
	var kept []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
			kept = append(kept, line)
		}
	}
	text = strings.Join(kept, "\n")
	var p []string
	for s := range w.mxSecrets() {
		var parts []string
		for _, part := range strings.Split(s, ".") {
			if len(part) >= piece {
				parts = append(parts, part)
			}
		}
		found := false
		for _, part := range parts {
			for i := 0; i+piece <= len(part) && !found; i += 4 {
				found = strings.Contains(text, part[i:i+piece])
			}
		}
		if found {
			p = append(p, fmt.Sprintf("LEAK: the %s holds a piece of a secret (%s...)", where, mxPrefix(s)))
		}
	}
	return p
}

// mxProviderMinted plays Cargo against the credential provider the step
// installed: two gets for crates.io, each with the token cache emptied
// first (two tokens minted), and one for another registry (refused), then
// the post stage, after which every crates.io token of the run must be
// revoked.
func mxProviderMinted(w *mxWorld) []string {
	var p []string
	get, err := mxProviderGet(w, &p)
	if err != nil {
		return []string{err.Error()}
	}
	for range 2 {
		if err := cacheEmpty(w.job); err != nil {
			return append(p, err.Error())
		}
		if out := get("https://github.com/rust-lang/crates.io-index", "crates-io"); !strings.Contains(out, `"Ok"`) {
			p = append(p, "the provider gave no token for crates.io")
		}
	}
	if out := get("sparse+https://other.example/index/", "other"); !strings.Contains(out, "url-not-supported") {
		p = append(p, "the crates-io provider answered for another registry: "+mxScanLine(out))
	}
	post, err := w.job.RunPost(context.Background(), mxStepID)
	if err != nil || post == nil {
		return append(p, fmt.Sprintf("post stage: %v", err))
	}
	issued, revoked := 0, 0
	for _, t := range w.s.Store.Tokens() {
		if t.Service == "crates-io" && t.Kind == fakes.KindAccessToken {
			issued++
			if t.Revoked {
				revoked++
			}
		}
	}
	if issued != 3 || revoked != issued {
		p = append(p, fmt.Sprintf("%d crates.io tokens issued, %d revoked; want 3 issued (the step's and 2 minted), all revoked\npost stage:\n%s", issued, revoked, post.Stdout))
	}
	matches, _ := filepath.Glob(filepath.Join(w.job.GitHubHome(), ".cargo-oidc", "minted-*"))
	if len(matches) != 0 {
		p = append(p, fmt.Sprintf("the post stage left the record of minted tokens: %v", matches))
	}
	return append(p, mxScanText(w, "post stage", post.Stdout+post.Stderr)...)
}

// mxProviderGet returns a function that plays Cargo's get for a registry
// against the credential provider the step installed, as a later step
// would; problems go to p.
func mxProviderGet(w *mxWorld, p *[]string) (func(index, name string) string, error) {
	setting := w.res.Env["CARGO_REGISTRY_CREDENTIAL_PROVIDER"]
	fields := strings.Fields(setting)
	if len(fields) < 2 {
		return nil, errors.New("no CARGO_REGISTRY_CREDENTIAL_PROVIDER: " + setting)
	}
	env := os.Environ()
	for k, v := range w.job.Env() {
		env = append(env, k+"="+v)
	}
	return func(index, name string) string {
		req, _ := json.Marshal(map[string]any{"v": 1, "kind": "get", "operation": "publish", "args": fields[1:],
			"registry": map[string]string{"index-url": index, "name": name}})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, fields[0], "--cargo-plugin")
		cmd.Env, cmd.Stdin = env, bytes.NewReader(append(req, '\n'))
		out, err := cmd.Output()
		if err != nil {
			*p = append(*p, fmt.Sprintf("provider: %v", err))
		}
		return string(out)
	}, nil
}

// mxProviderMintedLinkedOutside: the provider mints a token (the token
// cache emptied first), then a later step replaces the record's folder with
// a link to a folder outside the workspace and the runner's temp folder that
// holds a file of the same name (with a token-shaped line). The post stage
// must read nothing there (the line is never masked, shown or revoked),
// delete nothing (the folder, its files and the link stay) and warn that
// the minted one was not revoked; it revokes the step's own token (from its
// state: the token seeded the cache).
func mxProviderMintedLinkedOutside(w *mxWorld) []string {
	var p []string
	get, err := mxProviderGet(w, &p)
	if err != nil {
		return []string{err.Error()}
	}
	if err := cacheEmpty(w.job); err != nil {
		return append(p, err.Error())
	}
	if out := get("https://github.com/rust-lang/crates.io-index", "crates-io"); !strings.Contains(out, `"Ok"`) {
		p = append(p, "the provider gave no token for crates.io")
	}
	matches, _ := filepath.Glob(filepath.Join(w.job.GitHubHome(), ".cargo-oidc", "minted-*"))
	if len(matches) != 1 {
		return append(p, fmt.Sprintf("want one record folder, found %v", matches))
	}
	minted := matches[0]
	outside := filepath.Join(w.t.TempDir(), "elsewhere")
	planted := "cio_tp_" + mxRandomHex(16)
	w.extraSecrets = append(w.extraSecrets, planted)
	files := map[string]string{"tokens": planted + "\n", "keep.txt": "a file the post stage must not delete\n"}
	if err := os.Mkdir(outside, 0o700); err != nil {
		return append(p, err.Error())
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(outside, name), []byte(data), 0o600); err != nil {
			return append(p, err.Error())
		}
	}
	if err := os.RemoveAll(minted); err != nil {
		return append(p, err.Error())
	}
	if err := os.Symlink(outside, minted); err != nil {
		return append(p, err.Error())
	}
	before := w.s.Store.Requests(fakes.CratesIOTokenPath)
	post, err := w.job.RunPost(context.Background(), mxStepID)
	if err != nil || post == nil {
		return append(p, fmt.Sprintf("post stage: %v", err))
	}
	if strings.Contains(post.Stdout+post.Stderr, planted) {
		p = append(p, "the post stage read the record outside (it masked or showed its line)")
	}
	if n := w.s.Store.Requests(fakes.CratesIOTokenPath) - before; n != 1 {
		p = append(p, fmt.Sprintf("the post stage sent %d request(s) to crates.io; want one, the step's own token's revocation", n))
	}
	issued, revoked := 0, 0
	for _, t := range w.s.Store.Tokens() {
		if t.Service == "crates-io" && t.Kind == fakes.KindAccessToken {
			issued++
			if t.Revoked {
				revoked++
			}
		}
	}
	if issued != 2 || revoked != 1 {
		p = append(p, fmt.Sprintf("%d crates.io tokens issued, %d revoked; want 2 issued, the step's revoked (by the post stage)", issued, revoked))
	}
	if !strings.Contains(post.Stdout, "minted by the credential provider not revoked") || !strings.Contains(post.Stdout, "symbolic link") {
		p = append(p, "the post stage did not warn that the record was a link and not read:\n"+post.Stdout)
	}
	for name, data := range files {
		if b, err := os.ReadFile(filepath.Join(outside, name)); err != nil || string(b) != data {
			p = append(p, fmt.Sprintf("the post stage changed or deleted %s outside: %v", name, err))
		}
	}
	if fi, err := os.Lstat(minted); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		p = append(p, fmt.Sprintf("the link the job planted was removed or replaced: %v", err))
	}
	return append(p, mxScanText(w, "post stage", post.Stdout+post.Stderr)...)
}

// mxScanLine shortens a provider answer for a message, without its token.
func mxScanLine(s string) string {
	if i := strings.Index(s, `"token"`); i >= 0 {
		s = s[:i] + "..."
	}
	return s
}
