package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// The composite action's defences: no secret in any process's arguments,
// credentials in download-url never printed, setup/post acting only on this
// job's state with a checked binary, bounded downloads that follow no
// redirect to http, and setup.sh as POSIX sh (dash, busybox sh, shellcheck).

// cmpRandom is a random lower-case hex string of n bytes.
func cmpRandom(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// argvWatch reads the command line of every process on the machine in a
// tight loop and keeps each distinct one, so a secret that is on a command
// line even for a moment is seen.
type argvWatch struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	seen  map[string]bool
	scans atomic.Int64
}

func cmpWatchArgv(t *testing.T) *argvWatch {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("skipping: reads /proc/*/cmdline, which only Linux has")
	}
	w := &argvWatch{stop: make(chan struct{}), done: make(chan struct{}), seen: map[string]bool{}}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			d, err := os.Open("/proc")
			if err != nil {
				return
			}
			names, _ := d.Readdirnames(-1)
			d.Close()
			for _, n := range names {
				if n == "" || n[0] < '0' || n[0] > '9' {
					continue
				}
				b, err := os.ReadFile("/proc/" + n + "/cmdline")
				if err != nil || len(b) == 0 {
					continue
				}
				s := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
				w.mu.Lock()
				w.seen[s] = true
				w.mu.Unlock()
			}
			w.scans.Add(1)
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *argvWatch) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// add records command lines seen another way.
func (w *argvWatch) add(lines ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range lines {
		w.seen[l] = true
	}
}

// check stops the watch and fails for every secret some command line held.
func (w *argvWatch) check(t *testing.T, secrets map[string]string) {
	t.Helper()
	w.halt()
	if w.scans.Load() < 10 {
		t.Fatalf("only %d scans of /proc: the watch did not run", w.scans.Load())
	}
	for what, sec := range secrets {
		if sec == "" {
			continue
		}
		for line := range w.seen {
			if strings.Contains(line, sec) {
				t.Errorf("the %s was on a process's command line (readable by every user): %.120s...", what, line)
				break
			}
		}
	}
	t.Logf("%d scans of /proc, %d distinct command lines", w.scans.Load(), len(w.seen))
}

// cmpArgvShims makes a folder of wrappers for the programs setup.sh may
// start through PATH: each appends its command line to the returned log and
// runs the real program. They see every command line exactly, however
// short-lived (busybox sh runs its own applets instead, which only the
// /proc watch sees).
func cmpArgvShims(t *testing.T) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(t.TempDir(), "argv.log")
	for _, name := range []string{"env", "curl", "wget", "sed", "cat", "tr", "awk", "grep", "head", "tail", "od", "cp", "mv",
		"rm", "mkdir", "chmod", "basename", "sha256sum", "shasum", "wc"} {
		real, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		script := "#!/bin/sh\nprintf '%s\\n' \"" + name + " $*\" >>'" + log + "'\nexec '" + real + "' \"$@\"\n"
		scnWriteFile(t, filepath.Join(dir, name), script, 0o755)
	}
	return dir, log
}

// cmpShellPATH makes a folder with a `bash` that runs shell instead (the
// runner's `bash --noprofile --norc -e -o pipefail FILE` and setup/'s `bash
// setup.sh`), logging each use to the returned file; "" for the real bash.
func cmpShellPATH(t *testing.T, shell string) (dir, log string) {
	t.Helper()
	var exe string
	switch shell {
	case "bash":
		return "", ""
	case "dash":
		exe = harness.Tool(t, "dash", "apt-get install dash")
	case "busybox":
		for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
			if _, err := os.Stat(p); err == nil {
				exe = p + " sh"
			}
		}
		if exe == "" {
			exe = harness.Tool(t, "busybox", "apt-get install busybox-static") + " sh"
		}
	}
	dir = t.TempDir()
	log = filepath.Join(dir, "uses.log")
	scnWriteFile(t, filepath.Join(dir, "bash"), "#!/bin/sh\n"+
		"echo \"$*\" >>'"+log+"'\n"+
		"while [ $# -gt 0 ]; do case $1 in --noprofile|--norc|-e) shift ;; -o) shift 2 ;; *) break ;; esac; done\n"+
		"exec "+exe+" -e \"$@\"\n", 0o755)
	return dir, log
}

// TestCompositeNoSecretInArguments: setup.sh main (crates.io with a
// credentials file, then JFrog with dashed inputs) and post, run by bash,
// dash and busybox sh, from a mirror that wants Basic credentials in
// download-url, while every process's command line on the machine is read
// in a tight loop: no ID token, request token, registry token or mirror
// password is ever on one, and the password is never printed; the clean-up
// still revokes and removes.
func TestCompositeNoSecretInArguments(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "dash", "busybox"} {
		t.Run(shell, func(t *testing.T) {
			t.Parallel()
			dir, uses := cmpShellPATH(t, shell)
			shims, argv := cmpArgvShims(t)
			path := shims + string(os.PathListSeparator) + os.Getenv("PATH")
			if dir != "" {
				path = dir + string(os.PathListSeparator) + path
			}
			w := cmpNewWorld(t, map[string]string{"PATH": path})
			pass := "mirror-pass-" + cmpRandom(t, 12)
			w.rel.mirror = w.rel.requireAuth("mirror-user", pass)

			watch := cmpWatchArgv(t)
			creds := filepath.Join(w.job.Temp(), "cargo", "credentials.toml")
			cio := w.runSetup("crates-io", map[string]string{"provider": "crates-io", "url": w.s.CratesIOURL, "credentials-file": creds})
			if cio.Failed {
				t.Fatalf("crates-io setup failed:\n%s", cio.Combined())
			}
			jf := w.runSetup("jfrog", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
				"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local", "registry-name": "corp"})
			if jf.Failed || jf.Outputs["registry-name"] != "corp" {
				t.Fatalf("jfrog setup (inputs with dashes) failed:\n%s", jf.Combined())
			}
			tok := cio.Outputs["token"]
			if !w.s.Store.Valid(tok) {
				t.Fatal("no valid crates.io token")
			}
			w.runPost()

			secrets := map[string]string{"mirror password": pass, "ID token request token": w.s.RequestToken}
			for i, tk := range w.s.Store.Tokens() {
				secrets[fmt.Sprintf("%s %s (#%d)", tk.Service, tk.Kind, i+1)] = tk.Value
			}
			if shell != "busybox" {
				if data := scnReadFile(t, argv); !strings.Contains(data, "sha256sum ") {
					t.Errorf("the argument log misses setup.sh's sha256sum:\n%s", data)
				}
			}
			watch.add(strings.Split(scnReadFile(t, argv), "\n")...)
			watch.check(t, secrets)

			if w.s.Store.Valid(tok) {
				t.Error("setup/post did not revoke the crates.io token")
			}
			if _, err := os.Stat(creds); !os.IsNotExist(err) {
				t.Errorf("setup/post left the credentials file (%v)", err)
			}
			for _, res := range w.job.Results() {
				for _, line := range strings.Split(res.Combined(), "\n") {
					if strings.Contains(line, pass) && !strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
						t.Errorf("step %s printed the mirror password: %s", res.ID, strings.ReplaceAll(line, pass, "<PASSWORD>"))
					}
				}
			}
			if out := cio.Combined(); !strings.Contains(out, "\nFrom https://127.0.0.1:") || strings.Contains(out, "\nFrom https://mirror-user") {
				t.Errorf("the From line does not show the mirror without its credentials:\n%s", out)
			}
			w.checkNoLeak()
			if uses != "" {
				log := scnReadFile(t, uses)
				for _, want := range []string{"setup.sh main", "setup.sh post"} {
					if !strings.Contains(log, want) {
						t.Errorf("%s did not run %q:\n%s", shell, want, log)
					}
				}
			}
		})
	}
}

// TestCompositeCredentialsNeverPrinted: a download that fails prints the
// URL without its user information, in the From line and the error; a
// download-url that is not a URL is not echoed.
func TestCompositeCredentialsNeverPrinted(t *testing.T) {
	t.Parallel()
	w := cmpNewWorld(t, nil)
	pass := "pw-" + cmpRandom(t, 12)
	url := strings.Replace(w.rel.requireAuth("u", pass), "{version}", "v0.0.1", 1) // no such release: 404
	in := map[string]string{"provider": "jfrog", "url": w.s.JFrogURL, "provider-name": "x", "repository": "r"}
	for _, tt := range []struct{ url, want string }{
		{url, "could not download " + strings.Replace(url, "u:"+pass+"@", "", 1) + "/" + w.rel.asset},
		{"u:" + pass + "@mirror.example.com/{version}", "download-url is not an https, http or file URL"},
	} {
		in["download-url"] = tt.url
		res := w.setup.run(w.ctx, t, w.job, "registry", in, nil)
		out := res.Combined()
		if !res.Failed || !strings.Contains(out, tt.want) {
			t.Errorf("download-url %s: want a failure saying %q:\n%s", strings.ReplaceAll(tt.url, pass, "<PASSWORD>"), tt.want, strings.ReplaceAll(out, pass, "<PASSWORD>"))
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, pass) && !strings.HasPrefix(line, "::add-mask::") {
				t.Errorf("printed the password: %s", strings.ReplaceAll(line, pass, "<PASSWORD>"))
			}
		}
	}
}

// TestCompositePostActsOnlyOnItsJob: setup/post runs no program a state
// folder names and acts on no state another run or job wrote: a leftover
// 0002.bin naming a marker script and state files with other ids (or none)
// are skipped with a warning, while this job's state is still cleaned up;
// a binary changed on disk after the setup step is not run either.
func TestCompositePostActsOnlyOnItsJob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		plant  func(t *testing.T, w *cmpWorld, stateDir, marker string)
		revoke bool
		want   string
	}{
		{"leftover state of another run", func(t *testing.T, w *cmpWorld, stateDir, marker string) {
			scnWriteFile(t, filepath.Join(stateDir, "0002.state"), "provider=crates-io\nrevoke=true\ntoken=cio_tp_other\n", 0o600)
			scnWriteFile(t, filepath.Join(stateDir, "0002.id"), "run=1\nattempt=1\njob=build\nsetup="+strings.Repeat("0", 32)+"\n", 0o600)
			scnWriteFile(t, filepath.Join(stateDir, "0002.bin"), filepath.Join(filepath.Dir(marker), "evil.sh")+"\n", 0o600)
			scnWriteFile(t, filepath.Join(stateDir, "0003.state"), "provider=crates-io\n", 0o600)
			scnWriteFile(t, filepath.Join(filepath.Dir(marker), "evil.sh"), "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
		}, true, "state 0003 in "},
		{"binary changed after setup", func(t *testing.T, w *cmpWorld, stateDir, marker string) {
			bin := filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion, "cargo-oidc")
			scnWriteFile(t, bin, "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
		}, false, "binary in "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := cmpNewWorld(t, nil)
			res := w.runSetup("crates-io", map[string]string{"provider": "crates-io", "url": w.s.CratesIOURL})
			if res.Failed {
				t.Fatalf("setup failed:\n%s", res.Combined())
			}
			tok := res.Outputs["token"]
			stateDir := filepath.Join(w.job.Temp(), "cargo-oidc-setup", "state")
			marker := filepath.Join(t.TempDir(), "planted-program-ran")
			tt.plant(t, w, stateDir, marker)
			post := w.runPost()
			out := post.Combined()
			if _, err := os.Stat(marker); !os.IsNotExist(err) {
				t.Errorf("setup/post ran a planted program")
			}
			if !strings.Contains(out, "::warning") || !strings.Contains(out, tt.want) {
				t.Errorf("setup/post does not warn %q:\n%s", tt.want, out)
			}
			if tt.revoke && (w.s.Store.Valid(tok) || !strings.Contains(out, "Revoked the crates.io token.")) {
				t.Errorf("this job's token was not revoked:\n%s", out)
			}
			if tt.revoke && strings.Count(out, "was not written by a setup step of this job") != 2 {
				t.Errorf("want a warning for each of the two foreign states:\n%s", out)
			}
			if w.s.Store.Revocations() > 1 {
				t.Errorf("%d revocations, want at most this job's one", w.s.Store.Revocations())
			}
		})
	}
}

// cmpBigHandler serves n bytes of zeros, with a Content-Length or (chunked)
// without one, counting the bytes it wrote.
type cmpBigHandler struct {
	n      int
	length bool
	wrote  atomic.Int64
}

func (h *cmpBigHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.length {
		w.Header().Set("Content-Length", fmt.Sprint(h.n))
	}
	buf := make([]byte, 1<<20)
	for left := h.n; left > 0; {
		k := min(left, len(buf))
		m, err := w.Write(buf[:k])
		h.wrote.Add(int64(m))
		if err != nil {
			return
		}
		if !h.length {
			w.(http.Flusher).Flush()
		}
		left -= k
	}
}

// TestCompositeDownloadBounds: curl (HTTPS mirror), busybox wget (HTTP
// mirror, no curl in PATH) and GNU wget (HTTPS mirror, no curl in PATH)
// refuse a file larger than 64 MiB, with and without Content-Length, and a
// redirect to plain http (curl never asks the http server); the step fails
// before anything runs and leaves no partial file.
func TestCompositeDownloadBounds(t *testing.T) {
	t.Parallel()
	const big = 64<<20 + 1
	for _, tool := range []string{"curl", "busybox-wget", "gnu-wget"} {
		for _, kind := range []string{"too big with length", "too big chunked", "redirect to http"} {
			t.Run(tool+"/"+kind, func(t *testing.T) {
				t.Parallel()
				env := map[string]string{}
				switch tool {
				case "busybox-wget":
					env["PATH"] = cmpBusyboxPATH(t)
				case "gnu-wget":
					wget := harness.Tool(t, "wget", "apt-get install wget")
					out, _ := exec.Command(wget, "--version").Output()
					if !bytes.Contains(out, []byte("GNU Wget")) {
						harness.Require(t, "GNU wget", fmt.Errorf("%s is not GNU Wget", wget))
					}
					// The system's tools less curl, and bash, not busybox
					// sh, whose wget applet would win over GNU wget.
					dir := t.TempDir()
					for _, tool := range []string{"bash", "sh", "cat", "tr", "grep", "awk", "sed", "sha256sum", "rm", "cp", "head",
						"tail", "wc", "mkdir", "chmod", "mv", "od", "basename", "dirname", "env", "touch", "wget"} {
						p, err := exec.LookPath(tool)
						if err != nil {
							t.Fatalf("%s: %v", tool, err)
						}
						if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
							t.Fatal(err)
						}
					}
					env["PATH"] = dir
				}
				w := cmpNewWorld(t, env)
				if tool == "gnu-wget" {
					rc := filepath.Join(t.TempDir(), "wgetrc")
					scnWriteFile(t, rc, "ca_certificate = "+w.s.CAFile+"\n", 0o644)
					w.job.SetEnv("WGETRC", rc)
				}
				var plainHits atomic.Int64
				plain := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					plainHits.Add(1)
					_, _ = rw.Write(w.rel.binary)
				}))
				t.Cleanup(plain.Close)
				var h http.Handler
				bh := &cmpBigHandler{n: big, length: kind == "too big with length"}
				switch kind {
				case "redirect to http":
					h = http.RedirectHandler(plain.URL+"/releases/"+cmpVersion+"/"+w.rel.asset, http.StatusFound)
				default:
					h = bh
				}
				var srv *httptest.Server
				if tool == "busybox-wget" {
					srv = httptest.NewServer(h) // busybox's wget does not complete a handshake with Go's TLS
				} else {
					srv = w.s.CA.StartServer(h)
				}
				t.Cleanup(srv.Close)
				w.rel.mirror = srv.URL + "/releases/{version}"

				start := time.Now()
				res := w.runSetup("registry", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
					"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local"})
				out := res.Combined()
				if !res.Failed {
					t.Fatalf("setup succeeded:\n%s", out)
				}
				want := "larger than 67108864 bytes"
				switch {
				case kind == "redirect to http" && tool == "curl":
					want = "redirects are followed to https only"
				case kind == "redirect to http":
					want = "the server redirected to a plain http:// URL, which is refused"
				}
				if !strings.Contains(out, "::error title=cargo-oidc setup::") || !strings.Contains(out, want) {
					t.Errorf("the error does not say %q:\n%s", want, out)
				}
				if kind == "redirect to http" && tool == "curl" && plainHits.Load() != 0 {
					t.Errorf("curl followed the redirect to http (%d requests)", plainHits.Load())
				}
				if kind != "redirect to http" && bh.wrote.Load() >= big && !bh.length {
					t.Logf("note: the server wrote all %d bytes before the client stopped", bh.wrote.Load())
				}
				leftovers, _ := filepath.Glob(filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion, "*"))
				dots, _ := filepath.Glob(filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion, ".*"))
				if len(leftovers)+len(dots) != 0 {
					t.Errorf("files left: %v %v", leftovers, dots)
				}
				if n := w.s.Issuer.Faults.Requests(); n != 0 {
					t.Errorf("%d ID token requests: something ran", n)
				}
				t.Logf("%s refused in %v", kind, time.Since(start).Round(time.Millisecond))
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

// TestCLICompositeFlags: --composite belongs to the main stage and
// --state-file to the post stage; the wrong pairing is a usage error (exit
// 2) that says where the flag belongs, and post --state-file with a state
// file of an unfinished step succeeds.
func TestCLICompositeFlags(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "0001.state")
	scnWriteFile(t, empty, "", 0o600)
	tests := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"post", "--composite"}, 2, "--composite is a flag of the main stage"},
		{[]string{"--state-file=" + empty}, 2, "--state-file is a flag of the post stage"},
		{[]string{"post", "--state-file=" + empty}, 0, "Nothing to clean up: the main stage did not finish."},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.wantCode || !strings.Contains(string(out), tt.want) {
			t.Errorf("cargo-oidc %v: exit %d, output %q; want exit %d and %q", tt.args, code, out, tt.wantCode, tt.want)
		}
	}
}
