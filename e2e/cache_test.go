package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// cacheJob is one job set up by the action in credential-mode provider
// against the stack's JFrog, through the container action (run natively, as
// the runner emulation does) or the composite setup/.
type cacheJob struct {
	s       *fakes.Stack
	job     *runner.Job
	setting string // CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER
	cargo   func(args ...string) *runner.StepResult
}

func cacheSetUp(t *testing.T, how string) *cacheJob {
	t.Helper()
	scnCargo(t)
	const variable = "CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER"
	switch how {
	case "container":
		w := provNewWorld(t)
		in := w.s.JFrogInputs()
		in["credential-mode"] = "provider"
		res, err := w.job.RunAction(t.Context(), runner.Host(provBinary(t)), repoAction(t), runner.Step{ID: "registry", Inputs: in})
		if err != nil || res.Failed() {
			t.Fatalf("action step: %v\n%s", err, res.Combined())
		}
		return &cacheJob{s: w.s, job: w.job, setting: res.Env[variable], cargo: func(args ...string) *runner.StepResult {
			return w.cargo(false, args...)
		}}
	case "composite":
		w := cmpNewWorld(t, nil)
		res := w.runSetup("registry", providerNamed(t, "jfrog"), map[string]string{"credential-mode": "provider"})
		if res.Failed {
			t.Fatalf("setup failed:\n%s", res.Combined())
		}
		return &cacheJob{s: w.s, job: w.job, setting: res.Env()[variable], cargo: func(args ...string) *runner.StepResult {
			r := w.cargo(args...)
			t.Logf("$ cargo %s (%s, exit %d)\n%s", strings.Join(args, " "), r.Duration.Round(time.Millisecond), r.ExitCode, r.Combined())
			return r
		}}
	}
	t.Fatalf("unknown action %q", how)
	return nil
}

// cacheCrate writes a crate that depends on the registry's default crate
// and can be published to it.
func cacheCrate(t *testing.T, dir, name string) {
	t.Helper()
	dep := fmt.Sprintf("%s = { version = %q, registry = \"artifactory\" }\n", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	writeFiles(t, dir, project(name, "0.1.0", dep))
}

// TestCacheOneExchangePerJob: the action step in credential-mode provider,
// then cargo generate-lockfile, cargo fetch and cargo publish, each a Cargo
// process of its own asking the credential provider: one exchange with
// JFrog for the whole job (before the token cache: 4). The step's token
// seeds the cache, every provider reads it. Then, with the cache emptied,
// two cargo fetch processes at once (each with a CARGO_HOME of its own, so
// Cargo's own package lock does not serialise them) while the exchange is
// slow (JFrog answers 503, retry after 1 s, first): one exchange, the other
// provider waits for the lock and reads the cache.
func TestCacheOneExchangePerJob(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"container", "composite"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			c := cacheSetUp(t, how)
			dir := credprovider.CacheDir(c.setting)
			if dir == "" || !strings.HasPrefix(dir, c.job.Temp()) {
				t.Fatalf("the setting %q names no cache folder under RUNNER_TEMP %s", c.setting, c.job.Temp())
			}
			cacheCrate(t, c.job.Workspace(), "cache-"+how)
			for _, args := range [][]string{{"generate-lockfile"}, {"fetch"}, {"publish", "--registry", "artifactory", "--allow-dirty", "--no-verify"}} {
				if r := c.cargo(args...); r.Failed() {
					t.Fatalf("cargo %v failed", args)
				}
			}
			if got := strings.Join(c.s.Registry.Published(), ","); got != "cache-"+how+"@0.1.0" {
				t.Errorf("published %q", got)
			}
			n := c.s.Store.Exchanges("jfrog")
			t.Logf("FIGURE %s: %d exchange(s) for the action step + generate-lockfile + fetch + publish (before the cache: 4)", how, n)
			if n != 1 {
				t.Errorf("%d exchanges for the job, want 1: the step's token seeds the cache and every cargo reuses it", n)
			}
			cacheConcurrentFetch(t, c, dir)
		})
	}
}

// cacheConcurrentFetch empties the cache folder and runs two cargo fetch
// at once: one exchange.
func cacheConcurrentFetch(t *testing.T, c *cacheJob, dir string) {
	t.Helper()
	entries, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache folder %s holds %v (%v), want one token", dir, entries, err)
	}
	for _, e := range entries {
		if err := os.Remove(e); err != nil {
			t.Fatal(err)
		}
	}
	before := c.s.Store.Exchanges("jfrog")
	c.s.JFrog.Faults.Push(fakes.StatusRetryAfter(503, "1"))
	homes := map[string]string{"H1": t.TempDir(), "H2": t.TempDir()}
	script := `CARGO_HOME="$H1" cargo fetch & p1=$!; CARGO_HOME="$H2" cargo fetch & p2=$!; s=0; wait $p1 || s=1; wait $p2 || s=1; exit $s`
	r, err := c.job.RunCmd(t.Context(), runner.Cmd{Name: "sh", Args: []string{"-c", script}, Env: homes})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("two cargo fetch at once (%s, exit %d):\n%s", r.Duration.Round(time.Millisecond), r.ExitCode, r.Combined())
	if r.Failed() {
		t.Fatal("one of the concurrent cargo fetch failed")
	}
	for _, h := range homes {
		if m, _ := filepath.Glob(filepath.Join(h, "registry", "cache", "*", fakes.DefaultCrate+"-*.crate")); len(m) != 1 {
			t.Errorf("cargo fetch with CARGO_HOME %s downloaded %v", h, m)
		}
	}
	if c.s.JFrog.Faults.Served() != 1 {
		t.Errorf("the slow answer was served %d times, want 1", c.s.JFrog.Faults.Served())
	}
	if got := c.s.Store.Exchanges("jfrog") - before; got != 1 {
		t.Errorf("%d exchanges for two concurrent cargo fetch, want 1", got)
	}
}

// BenchmarkProviderGetCache measures one credential-provider call of the
// built binary (start, hello, one get, the token) served from the token
// cache against one that exchanges (an ID token request and a JFrog
// exchange against the local fakes; each call gets an empty cache folder).
//
//	go test ./e2e -run '^$' -bench ProviderGetCache -benchtime 50x
func BenchmarkProviderGetCache(b *testing.B) {
	bin := provBinary(b)
	s := fakes.StartT(b, fakes.Options{})
	args := []string{"--provider=jfrog", "--url=" + s.JFrogURL, "--provider-name=" + s.JFrog.ProviderName,
		"--index-url=" + s.JFrogIndex, "--token-scheme=Bearer", "--retries=3"}
	req, err := json.Marshal(map[string]any{"v": 1, "kind": "get", "operation": "read", "args": args,
		"registry": map[string]string{"index-url": s.JFrogIndex, "name": "artifactory"}})
	if err != nil {
		b.Fatal(err)
	}
	req = append(req, '\n')
	get := func(temp string) {
		cmd := exec.Command(bin, "--cargo-plugin")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + temp}, s.ActionEnv()...)
		cmd.Stdin = bytes.NewReader(req)
		out, err := cmd.Output()
		if err != nil || !bytes.Contains(out, []byte(`"token":"Bearer `)) {
			b.Fatalf("provider: %v, %d bytes", err, len(out))
		}
	}
	for _, mode := range []string{"exchange", "cache"} {
		b.Run(mode, func(b *testing.B) {
			temps := make([]string, b.N)
			for i := range temps {
				temps[i] = b.TempDir()
			}
			if mode == "cache" {
				for i := range temps {
					temps[i] = temps[0]
				}
				get(temps[0]) // fills the cache
			}
			before := s.Store.Exchanges("jfrog")
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				get(temps[i])
			}
			b.StopTimer()
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
			want := map[string]int{"exchange": b.N, "cache": 0}[mode]
			if got := s.Store.Exchanges("jfrog") - before; got != want {
				b.Fatalf("%d exchanges for %d %s gets, want %d", got, b.N, mode, want)
			}
		})
	}
}

// cacheAge makes every token in the job's provider token caches look
// expired, as after crates.io's 30 minutes: the fakes' tokens die sooner,
// and crates.io's answer does not say when.
func cacheAge(t *testing.T, j *runner.Job) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(j.GitHubHome(), ".cargo-oidc", "cache-*", "*.json"))
	if len(files) == 0 {
		t.Fatal("no token cache file to age")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		var e map[string]any
		if err == nil {
			err = json.Unmarshal(data, &e)
		}
		if err != nil {
			t.Fatal(err)
		}
		e["issued"], e["expires"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
		if data, err = json.Marshal(e); err == nil {
			err = os.WriteFile(f, data, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
