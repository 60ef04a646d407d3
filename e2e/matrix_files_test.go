package e2e

// The rows of the fault matrix about files and secrets. Files: the binary
// refuses a link out of the folders it may write before any request, a
// failed step leaves the workspace as it was, and the post stage deletes
// nothing outside (which links, sizes, owners and modes cargoconf handles
// how: its unit tests). Secrets:
// services and transports that echo the ID token, revocation within the
// timeout, and inputs that could print workflow commands.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// mxFileRows are the rows about the files the step reads and writes.
func mxFileRows() []mxRow {
	var rows []mxRow
	add := func(r mxRow) { rows = append(rows, r) }
	fsOutside := func(w *mxWorld, rel, content string) string { // a file outside both folders
		return writeFile(w.t, filepath.Join(w.job.Root(), "outside", rel), content, 0o644)
	}
	fsLink := func(w *mxWorld, target, link string) {
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			w.t.Fatal(err)
		}
	}
	fsUnchanged := func(path, want string) []string {
		data, err := os.ReadFile(path)
		if err != nil || string(data) != want {
			return []string{fmt.Sprintf("%s changed: %q, %v", path, data, err)}
		}
		return nil
	}
	fsOutsideOnly := func(w *mxWorld, names ...string) []string { // the outside folder holds only names
		entries, _ := os.ReadDir(filepath.Join(w.job.Root(), "outside"))
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if strings.Join(got, ",") != strings.Join(names, ",") {
			return []string{fmt.Sprintf("the folder outside the workspace holds %v, want %v", got, names)}
		}
		return nil
	}
	// fsPost runs the post stage and checks its output holds no secret.
	fsPost := func(w *mxWorld) (*runner.StepResult, []string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := w.job.RunPost(ctx, mxStepID)
		if err != nil || res == nil {
			return res, []string{fmt.Sprintf("post stage: %v", err)}
		}
		var p []string
		if res.ExitCode != 0 {
			p = append(p, fmt.Sprintf("post stage exit %d", res.ExitCode))
		}
		for _, line := range strings.Split(res.Stdout+"\n"+res.Stderr, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
				continue
			}
			for _, needles := range w.mxSecrets() {
				for _, n := range needles {
					if strings.Contains(line, n) {
						p = append(p, "LEAK: the post stage printed a secret")
					}
				}
			}
		}
		return res, p
	}
	add(mxFail(mxRow{name: "files/read-only-workspace", expected: "fail: nothing written, workspace unchanged", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true"},
		setup: func(w *mxWorld) {
			mxWrite(w, "Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n")
			mxImmutable(w, w.job.Workspace())
		},
		want: []string{"config.toml"},
	}))
	add(mxFail(mxRow{name: "files/read-only-config-dir", expected: "fail: config unchanged", provider: "cloudsmith",
		inputs: map[string]string{"replace-crates-io": "true", "credentials-file": "{temp}/mx-creds/credentials.toml"},
		setup: func(w *mxWorld) {
			mxWrite(w, ".cargo/config.toml", "# keep me\n[build]\njobs = 2\n")
			mxImmutable(w, filepath.Join(w.job.Workspace(), ".cargo"))
		},
		want: []string{"config.toml"},
		check: func(w *mxWorld) []string {
			if _, err := os.Lstat(filepath.Join(w.job.Temp(), "mx-creds", "credentials.toml")); err == nil {
				return []string{"the credentials file written before the config failed was not rolled back"}
			}
			return nil
		}}))
	add(mxNoNet(mxRow{name: "files/config-link-outside", expected: "fail before the exchange: link leaves the workspace", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true"},
		setup: func(w *mxWorld) {
			fsLink(w, fsOutside(w, "config.toml", "[registries.other]\ntoken = \"not-for-the-workspace\"\n"),
				filepath.Join(w.job.Workspace(), ".cargo", "config.toml"))
		},
		want: []string{"symbolic link", "outside the workspace", "config.toml"},
		check: func(w *mxWorld) []string {
			return append(fsUnchanged(filepath.Join(w.job.Root(), "outside", "config.toml"), "[registries.other]\ntoken = \"not-for-the-workspace\"\n"),
				fsOutsideOnly(w, "config.toml")...)
		}}))
	add(mxNoNet(mxRow{name: "files/provider-home-linked-outside", expected: "fail before the exchange: no binary installed outside", provider: "jfrog",
		inputs: map[string]string{"credential-mode": "provider"},
		setup: func(w *mxWorld) {
			fsOutside(w, "keep", "x")
			fsLink(w, filepath.Join(w.job.Root(), "outside"), filepath.Join(w.job.GitHubHome(), ".cargo-oidc"))
		},
		want:  []string{"symbolic link", ".cargo-oidc"},
		check: func(w *mxWorld) []string { return fsOutsideOnly(w, "keep") }}))
	// The post stage deletes only the file the main stage created: not a
	// file of the same name in a folder a later step linked in its place.
	add(mxRow{name: "files/post-after-cargo-repointed-outside", expected: "ok; post leaves <outside>/credentials.toml alone", provider: "jfrog",
		inputs: map[string]string{"credentials-file": ".cargo/credentials.toml"},
		check: func(w *mxWorld) []string {
			const theirs = "[registries.artifactory]\ntoken = \"someone else's\"\n"
			fsOutside(w, "credentials.toml", theirs)
			ws, moved := w.job.Workspace(), filepath.Join(w.job.Root(), "moved")
			if err := os.Rename(filepath.Join(ws, ".cargo"), moved); err != nil {
				w.t.Fatal(err)
			}
			fsLink(w, filepath.Join(w.job.Root(), "outside"), filepath.Join(ws, ".cargo"))
			w.t.Cleanup(func() { _ = os.RemoveAll(moved) })
			_, p := fsPost(w)
			p = append(p, fsUnchanged(filepath.Join(w.job.Root(), "outside", "credentials.toml"), theirs)...)
			_ = os.RemoveAll(moved) // holds the token; the scan follows
			return p
		}})
	return rows
}

// mxSecretRows are the rows about secrets.
func mxSecretRows() []mxRow {
	var rows []mxRow
	add := func(r mxRow) { rows = append(rows, r) }

	// A service echoing the ID token and its signature in a long message:
	// both removed by value before the cut, in the annotation and in the
	// summary (where escaping must not split what is left).
	add(mxFail(mxRow{name: "secrets/echoed-id-token-before-cut", expected: "fail: message kept, ID token and parts removed", provider: "jfrog",
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
	add(mxFail(mxRow{name: "secrets/transport-error-echoes-id-token", expected: "fail: transport error, ID token removed", provider: "jfrog",
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
	add(mxFail(mxRow{name: "secrets/redirect-location-is-id-token", expected: "fail: redirect refused, host redacted", provider: "cloudsmith",
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
	add(mxFail(mxRow{name: "secrets/late-failure-revoke-hangs-timeout-3s", expected: "fail within timeout 3s; failure summary only", provider: "crates-io",
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

	// An audience with a line break would print a workflow command.
	add(mxFail(mxRow{name: "input/audience-control-character", expected: "fail before any request: audience refused", provider: "jfrog",
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
			p = append(p, fmt.Sprintf("LEAK: the %s holds a piece of a secret (%s...)", where, secretPrefix(s)))
		}
	}
	return p
}

// mxImmutable makes dir immutable with chattr +i, which stops root too
// (file modes do not: the tests run as root, like the action's container).
// It is undone in t.Cleanup. It fails the test when chattr is unavailable.
func mxImmutable(w *mxWorld, dir string) {
	w.t.Helper()
	if os.Geteuid() != 0 {
		// Not root: file modes are enough.
		if err := os.Chmod(dir, 0o555); err != nil {
			w.t.Fatal(err)
		}
		w.t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return
	}
	out, err := exec.Command("chattr", "+i", dir).CombinedOutput()
	if err != nil {
		harness.Require(w.t, "chattr +i", fmt.Errorf("%s: %v: %s (root ignores file modes; the read-only workspace row needs chattr on a file system with the immutable attribute)", dir, err, out))
	}
	w.t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
}
