package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// The composite action's defences: no secret in argv or output, bounded downloads, POSIX sh.

// cmpWatchArgv reads every process's command line until check, which fails
// the test for every secret that one of them, or of extra, held.
func cmpWatchArgv(t *testing.T) (check func(secrets map[string]string, extra ...string)) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("skipping: reads /proc/*/cmdline, which only Linux has")
	}
	ctx, stop := context.WithCancel(t.Context())
	seen, done := map[string]bool{}, make(chan int)
	go func() {
		scans := 0
		for ; ctx.Err() == nil; scans++ {
			procs, _ := os.ReadDir("/proc")
			for _, p := range procs {
				if b, err := os.ReadFile("/proc/" + p.Name() + "/cmdline"); err == nil && len(b) > 0 {
					seen[string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))] = true
				}
			}
		}
		done <- scans
	}()
	halt := sync.OnceValue(func() int { stop(); return <-done })
	t.Cleanup(func() { halt() })
	return func(secrets map[string]string, extra ...string) {
		t.Helper()
		if scans := halt(); scans < 10 { // seen is the watcher's no more
			t.Fatalf("only %d scans of /proc: the watch did not run", scans)
		}
		lines := slices.AppendSeq(extra, maps.Keys(seen))
		for what, sec := range secrets {
			if i := slices.IndexFunc(lines, func(l string) bool { return sec != "" && strings.Contains(l, sec) }); i >= 0 {
				t.Errorf("the %s was on a process's command line (readable by every user): %.120s...", what, lines[i])
			}
		}
		t.Logf("%d scans of /proc, %d distinct command lines", halt(), len(seen))
	}
}

// cmpShellPATH is a job's PATH whose bash is shell (bash, dash, busybox; ""
// for busybox's applets alone); uses logs each use of a replaced bash and
// argv every tool setup.sh starts (busybox sh's applets only /proc shows).
func cmpShellPATH(t *testing.T, shell string) (path, uses, argv string) {
	t.Helper()
	if shell == "" {
		return cmpBusyboxPATH(t), "", "" // the wrappers would bring the host's tools back
	}
	argv = filepath.Join(t.TempDir(), "argv.log")
	path = cmpToolsDir(t, argv, "") + string(os.PathListSeparator) + os.Getenv("PATH")
	var exe string
	switch shell {
	case "bash":
		return path, "", argv
	case "dash":
		exe = harness.Tool(t, "dash", "apt-get install dash")
	default:
		exe = filepath.Join(cmpBusyboxPATH(t), "sh")
	}
	dir := t.TempDir()
	uses = filepath.Join(dir, "uses.log")
	writeFile(t, filepath.Join(dir, "bash"), "#!/bin/sh\n"+
		"echo \"$*\" >>'"+uses+"'\n"+
		"while [ $# -gt 0 ]; do case $1 in --noprofile|--norc|-e) shift ;; -o) shift 2 ;; *) break ;; esac; done\n"+
		"exec "+exe+" -e \"$@\"\n", 0o755)
	return dir + string(os.PathListSeparator) + path, uses, argv
}

// cmpToolsDir wraps the host's tools setup.sh may start, but skip, each logging its argv.
func cmpToolsDir(t *testing.T, argv, skip string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"bash", "sh", "env", "curl", "wget", "sed", "cat", "tr", "awk", "grep", "head", "tail", "od", "cp", "mv",
		"rm", "mkdir", "chmod", "basename", "dirname", "touch", "sha256sum", "shasum", "wc"} {
		if real, err := exec.LookPath(name); err == nil && name != skip {
			writeFile(t, filepath.Join(dir, name), "#!/bin/sh\nprintf '%s\\n' \""+name+" $*\" >>'"+argv+"'\nexec '"+real+"' \"$@\"\n", 0o755)
		}
	}
	return dir
}

// cmpBusyboxPATH is a folder of busybox's applets alone and a bash running busybox sh, as in act's image.
func cmpBusyboxPATH(t *testing.T) string {
	t.Helper()
	sys, err := container.HostSystem(t.Context())
	harness.Require(t, "busybox", err)
	dir := t.TempDir()
	for _, applet := range sys.Applets {
		testenv.Symlink(t, sys.Busybox, filepath.Join(dir, applet))
	}
	writeFile(t, filepath.Join(dir, "bash"), "#!"+sys.Busybox+" sh\n"+
		"while [ $# -gt 0 ]; do case $1 in --noprofile|--norc) shift ;; *) break ;; esac; done\n"+
		"exec "+sys.Busybox+" sh \"$@\"\n", 0o755)
	return dir
}

// TestCompositeTwoSteps: a crates.io and a JFrog step under each shell and mirror download
// the binary once; setup/post revokes once and removes the credentials file; no secret in argv or output.
func TestCompositeTwoSteps(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, shell, mirror string
		downloads           int32 // a file:// mirror is copied, not downloaded
	}{
		{"bash", "bash", "https", 1}, {"dash", "dash", "https", 1}, {"busybox", "busybox", "https", 1},
		{"busybox-only/http", "", "http", 1}, {"busybox-only/file", "", "file", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, uses, argv := cmpShellPATH(t, tt.shell)
			w := cmpNewWorld(t, map[string]string{"PATH": path})
			pass := "mirror-pass-" + rand.Text()
			switch tt.mirror {
			case "https":
				w.rel.mirror = w.rel.requireAuth("mirror-user", pass)
			case "http": // busybox's wget fails a handshake with Go's TLS; the checksum makes http safe
				srv := httptest.NewServer(w.rel.handler)
				t.Cleanup(srv.Close)
				w.rel.mirror = srv.URL + "/releases/{version}"
			case "file":
				dir := filepath.Join(t.TempDir(), cmpVersion)
				writeFile(t, filepath.Join(dir, w.rel.asset), string(w.rel.binary), 0o644)
				w.rel.mirror = "file://" + filepath.Dir(dir) + "/{version}"
			}

			check := cmpWatchArgv(t)
			creds := filepath.Join(w.job.Temp(), "cargo", "credentials.toml")
			cio := w.runSetup("crates-io", providerNamed(t, "crates-io"), map[string]string{"credentials-file": creds})
			jf := w.runSetup("jfrog", providerNamed(t, "jfrog"), map[string]string{"registry-name": "corp"})
			tok := cio.Outputs["token"]
			if cio.Failed() || jf.Failed() || jf.Outputs["registry-name"] != "corp" || !w.s.Store.Valid(jf.Outputs["token"]) ||
				!strings.HasPrefix(tok, "cio_tp_") || !w.s.Store.Valid(tok) || !strings.Contains(readFile(t, creds), tok) {
				t.Fatalf("a setup step failed or gave no valid token (the credentials file must hold crates.io's)")
			}
			if w.rel.downloads.Load() != tt.downloads {
				t.Errorf("%d downloads from the mirror for two setup steps, want %d", w.rel.downloads.Load(), tt.downloads)
			}
			post := w.runPost().Combined()
			if w.s.Store.Valid(tok) || w.s.Store.Revocations() != 1 || !strings.Contains(post, "Revoked the crates.io token.") {
				t.Errorf("after setup/post the crates.io token is valid=%v, %d revocations; want revoked once", w.s.Store.Valid(tok), w.s.Store.Revocations())
			}
			if _, err := os.Stat(creds); !os.IsNotExist(err) || strings.Contains(post, "::warning") || strings.Contains(post, "::error") {
				t.Errorf("setup/post left the credentials file (%v) or warned", err)
			}
			if again := w.runPost().Combined(); !strings.Contains(again, "Nothing to clean up") {
				t.Errorf("a second setup/post does not say there is nothing to do")
			}

			secrets := map[string]string{"mirror password": pass, "ID token request token": w.s.RequestToken}
			for i, tk := range w.s.Store.Tokens() {
				secrets[fmt.Sprintf("%s %s (#%d)", tk.Service, tk.Kind, i+1)] = tk.Value
			}
			var logged []string
			if argv != "" {
				data := readFile(t, argv)
				if tt.shell != "busybox" && !strings.Contains(data, "sha256sum ") {
					t.Errorf("the argument log misses setup.sh's sha256sum:\n%s", data)
				}
				logged = strings.Split(data, "\n")
			}
			check(secrets, logged...)
			if out := cio.Combined(); tt.mirror == "https" && (!strings.Contains(out, "\nFrom https://127.0.0.1:") || strings.Contains(out, "\nFrom https://mirror-user")) {
				t.Errorf("the From line does not show the mirror without its credentials")
			}
			checkJobNoLeak(t, w.job, w.s, pass)
			for _, want := range []string{"setup.sh main", "setup.sh post"} {
				if uses != "" && !strings.Contains(readFile(t, uses), want) {
					t.Errorf("%s did not run %q", tt.shell, want)
				}
			}
		})
	}
}

// TestCompositeDownloadBounds: curl, busybox wget and GNU wget refuse a file
// over 64 MiB and a redirect to http; nothing runs, no partial file stays.
func TestCompositeDownloadBounds(t *testing.T) {
	t.Parallel()
	const big = 64<<20 + 1
	for _, tool := range []string{"curl", "busybox-wget", "gnu-wget"} {
		for _, kind := range []string{"too big with length", "too big chunked", "redirect to http"} {
			t.Run(tool+"/"+kind, func(t *testing.T) {
				t.Parallel()
				w := cmpNewWorld(t, nil)
				switch tool {
				case "busybox-wget":
					w.job.SetEnv("PATH", cmpBusyboxPATH(t))
				case "gnu-wget":
					wget := harness.Tool(t, "wget", "apt-get install wget")
					if out, _ := exec.Command(wget, "--version").Output(); !bytes.Contains(out, []byte("GNU Wget")) {
						harness.Require(t, "GNU wget", fmt.Errorf("%s is not GNU Wget", wget))
					}
					w.job.SetEnv("PATH", cmpToolsDir(t, filepath.Join(t.TempDir(), "argv.log"), "curl")) // GNU wget, no curl
					w.job.SetEnv("WGETRC", writeFile(t, filepath.Join(t.TempDir(), "wgetrc"), "ca_certificate = "+w.s.CAFile+"\n", 0o644))
				}
				var plainHits atomic.Int64
				plain := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					plainHits.Add(1)
					_, _ = rw.Write(w.rel.binary)
				}))
				t.Cleanup(plain.Close)
				length := kind == "too big with length" // else chunked
				h := http.Handler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					if length {
						rw.Header().Set("Content-Length", fmt.Sprint(big))
					}
					buf := make([]byte, 1<<20)
					for left := big; left > 0; left -= len(buf) {
						if _, err := rw.Write(buf[:min(left, len(buf))]); err != nil {
							return
						}
						if !length {
							rw.(http.Flusher).Flush()
						}
					}
				}))
				want := "larger than 67108864 bytes"
				if kind == "redirect to http" {
					h = http.RedirectHandler(plain.URL+"/releases/"+cmpVersion+"/"+w.rel.asset, http.StatusFound)
					want = "the server redirected to a plain http:// URL, which is refused"
					if tool == "curl" {
						want = "redirects are followed to https only"
					}
				}
				var srv *httptest.Server
				if tool == "busybox-wget" {
					srv = httptest.NewServer(h) // busybox's wget does not complete a handshake with Go's TLS
				} else {
					srv = w.s.CA.StartServer(h)
				}
				t.Cleanup(srv.Close)
				w.rel.mirror = srv.URL + "/releases/{version}"

				res := w.runSetup("registry", providerNamed(t, "jfrog"), nil)
				if out := res.Combined(); !res.Failed() || !strings.Contains(out, "::error title=cargo-oidc setup::") || !strings.Contains(out, want) {
					t.Errorf("the step did not fail saying %q", want)
				}
				if tool == "curl" && plainHits.Load() != 0 {
					t.Errorf("curl followed the redirect to http (%d requests)", plainHits.Load())
				}
				if left, _ := os.ReadDir(filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion)); len(left) != 0 {
					t.Errorf("%d files left in the binary folder", len(left))
				}
				if n := w.s.Issuer.Faults.Requests(); n != 0 {
					t.Errorf("%d ID token requests: something ran", n)
				}
			})
		}
	}
}

// TestSetupScriptShellcheck: setup/setup.sh passes shellcheck as POSIX sh.
func TestSetupScriptShellcheck(t *testing.T) {
	t.Parallel()
	sc := harness.Tool(t, "shellcheck", "apt-get install shellcheck")
	cmd := exec.Command(sc, "--shell=sh", "--severity=style", filepath.Join(harness.Root(t), "setup", "setup.sh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck --shell=sh setup/setup.sh: %v\n%s", err, out)
	}
}
