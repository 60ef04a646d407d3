// Command bench measures the action's exchange against the hand-written flow
// it replaces (curl for the ID token, curl for the JFrog exchange, jq,
// writing the Cargo variables to GITHUB_ENV), both against the same local
// fake services (e2e/internal/fakes), and checks the performance targets:
// the binary's median wall time at most -max-ratio (0.3) of the script's,
// peak RSS at most 20 MB, exactly two HTTP requests per run, a binary of at
// most 7.8 MB (release.MaxBinarySize), one 503 then success in under 1.5 s
// and a 403 in under 1 s.
//
//	go run ./e2e/cmd/bench [-n 20] [-warmup 3] [-max-ratio 0.3]
//
// It exits 1 when a target is missed. It needs bash, curl and jq.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

func main() { os.Exit(harness.Command("bench", run)) }

// The performance targets: RSS in MiB (2^20 bytes); the binary's size in the
// stricter decimal megabytes (10^6 bytes). The binary's budget was 7 MB
// until AWS CodeArtifact came, whose SigV4 signer (aws-sdk-go-v2) and STS
// XML answers added 0.15 MB (7.07 MB -> 7.22 MB), then 7.5 MB; Azure
// Artifacts, the other CIs' ID-token sources, the exec/configure/token
// commands and the provider's token cache took it to 7.78 MB, under the
// 7.8 MB that issue 24 set (release.MaxBinarySize, which the release and
// container tests check too). The ratio's target is the flag -max-ratio,
// DefaultMaxRatio unless given.
const (
	maxRSSMB      = 20.0
	maxBinaryMB   = float64(release.MaxBinarySize) / 1e6 // decimal MB
	wantRequests  = 2
	max503Success = 1500 * time.Millisecond
	max403Failure = time.Second
)

// DefaultMaxRatio is the highest binary/script ratio of median wall times
// that passes. The binary took 0.25x the script on 2026-11-28 and 0.28-0.37x
// on 2026-12-02, half of it loading the system's CA certificates it did not
// need; without that, 0.13-0.15x (on a two-core machine with a load of 5).
const DefaultMaxRatio = 0.3

// articleScript is the flow of JFrog's knowledge-base article "How to use
// OIDC with Cargo in GitHub Actions" (000006857): curl for the ID token, curl + jq for the
// exchange, the mask, and the Cargo variables into GITHUB_ENV. curl gets
// --cacert for the local CA; nothing else differs.
const articleScript = `#!/usr/bin/env bash
set -euo pipefail
ID_TOKEN=$(curl -sLS --cacert "$BENCH_CA" -H "User-Agent: actions/oidc-client" -H "Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
          "${ACTIONS_ID_TOKEN_REQUEST_URL}" | jq .value | tr -d '"')
ACCESS_TOKEN=$(curl -sS --cacert "$BENCH_CA" -XPOST -H "Content-Type: application/json" "${ART_URL}/access/api/v1/oidc/token" -d "{\"grant_type\": \"urn:ietf:params:oauth:grant-type:token-exchange\", \"subject_token_type\":\"urn:ietf:params:oauth:token-type:id_token\", \"subject_token\": \"${ID_TOKEN}\", \"provider_name\": \"${PROVIDER_NAME}\"}" | jq .access_token | tr -d '"')
echo "::add-mask::$ACCESS_TOKEN"
{
  echo "CARGO_REGISTRIES_ARTIFACTORY_INDEX=sparse+${ART_URL}/artifactory/api/cargo/${REPO}/index/"
  echo "CARGO_REGISTRIES_ARTIFACTORY_TOKEN=Bearer ${ACCESS_TOKEN}"
  echo "CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER=cargo:token"
} >> "$GITHUB_ENV"
`

// sample is one timed run.
type sample struct {
	wall     time.Duration
	maxRSSKB int64
	requests int
}

// flow is one way of getting the token: a command with a fixed environment and the
// file-command files it writes to.
type flow struct {
	name    string
	path    string
	args    []string
	env     []string
	dir     string
	envFile string // GITHUB_ENV
	files   []string
}

// run parses the flags, starts the fakes, builds the binary and prints the
// report. It returns an error when a target is missed or a run fails.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	n := fs.Int("n", 20, "timed runs of each flow")
	warmup := fs.Int("warmup", 3, "untimed runs of each flow first")
	maxRatio := fs.Float64("max-ratio", DefaultMaxRatio, "fail when the binary's median wall time is more than this times the script's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *warmup < 0 {
		return errors.New("-n must be at least 1 and -warmup at least 0")
	}
	if !(*maxRatio > 0) || math.IsInf(*maxRatio, 1) {
		return fmt.Errorf("-max-ratio %v: give a ratio above 0, like %.1f", *maxRatio, DefaultMaxRatio)
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: the script flow needs bash, curl and jq (apt-get install -y curl jq)", tool)
		}
	}
	fmt.Fprintln(stdout, "cargo-oidc bench: building the binary and starting the local services ...")
	bin, err := harness.Binary()
	if err != nil {
		return err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return err
	}
	binaryMB := float64(fi.Size()) / (1 << 20)

	s, err := fakes.Start(fakes.Options{})
	if err != nil {
		return fmt.Errorf("start the fake services: %w", err)
	}
	defer s.Close()
	dir, err := os.MkdirTemp("", "cargo-oidc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	action, act, err := binaryFlow(ctx, s, bin, filepath.Join(dir, "job"))
	if err != nil {
		return err
	}
	script, err := scriptFlow(s, act, filepath.Join(dir, "article.sh"))
	if err != nil {
		return err
	}

	var bins, scripts []sample
	for i := 0; i < *warmup+*n; i++ {
		order := []*flow{action, script}
		if i%2 == 1 {
			order = []*flow{script, action}
		}
		for _, f := range order {
			smp, err := f.once(ctx, s)
			if err != nil {
				return err
			}
			if i < *warmup {
				continue
			}
			if f == action {
				bins = append(bins, smp)
			} else {
				scripts = append(scripts, smp)
			}
		}
	}

	// Retries with default settings.
	s.JFrog.Faults.Push(fakes.Status(503))
	retry, retryErr := action.once(ctx, s)
	s.JFrog.Faults.Clear()
	s.JFrog.Faults.Push(fakes.Status(403))
	before := s.Store.Requests(fakes.JFrogTokenPath)
	forbidden, forbiddenErr := action.once(ctx, s)
	forbiddenTries := s.Store.Requests(fakes.JFrogTokenPath) - before
	s.JFrog.Faults.Clear()

	bs, ss := stats(bins), stats(scripts)
	res := results{ratio: float64(bs.median) / float64(ss.median), reqOK: true, requests: requestCounts(bins),
		binaryMB: float64(fi.Size()) / 1e6, retry: retry, retryErr: retryErr,
		forbidden: forbidden, forbiddenErr: forbiddenErr, forbiddenTries: forbiddenTries}
	var peakKB int64
	for _, b := range bins {
		peakKB = max(peakKB, b.maxRSSKB)
		res.reqOK = res.reqOK && b.requests == wantRequests
	}
	res.peakMB = float64(peakKB) / 1024

	fmt.Fprintf(stdout, "\n%d timed runs of each flow after %d warm-up runs, alternating; JFrog exchange, token mode, TLS on 127.0.0.1\n\n", *n, *warmup)
	fmt.Fprintf(stdout, "%-22s %9s %9s %9s %9s\n", "wall time", "median", "min", "p90", "max")
	fmt.Fprintf(stdout, "%-22s %9s %9s %9s %9s\n", "cargo-oidc binary", ms(bs.median), ms(bs.min), ms(bs.p90), ms(bs.max))
	fmt.Fprintf(stdout, "%-22s %9s %9s %9s %9s\n", "curl + jq script", ms(ss.median), ms(ss.min), ms(ss.p90), ms(ss.max))
	fmt.Fprintf(stdout, "%-22s %9.2f\n\n", "ratio binary/script", res.ratio)
	fmt.Fprintf(stdout, "binary: size %.2f MiB (%.2f MB), peak RSS %.1f MiB, HTTP requests per run %s\n", binaryMB, res.binaryMB, res.peakMB, res.requests)
	fmt.Fprintf(stdout, "one 503 then success: %s (%s); 403: %s (%d request%s, %s)\n\n",
		ms(retry.wall), outcome(retryErr, true), ms(forbidden.wall), forbiddenTries, plural(forbiddenTries), outcome(forbiddenErr, false))

	failed := 0
	for _, c := range targets(res, *maxRatio) {
		mark := "PASS"
		if !c.ok {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "%s  %s\n", mark, c.what)
	}
	if failed > 0 {
		return &missedError{n: failed}
	}
	return nil
}

// results are the figures the targets are checked against.
type results struct {
	ratio          float64 // binary median / script median
	peakMB         float64 // the binary's peak RSS, MiB
	binaryMB       float64 // decimal MB
	reqOK          bool    // every binary run made wantRequests requests
	requests       string  // the request counts seen
	retry          sample  // one 503, then success
	retryErr       error
	forbidden      sample // a 403
	forbiddenErr   error
	forbiddenTries int
}

// check is one target, met or not, and what it says.
type check struct {
	ok   bool
	what string
}

// targets checks r against the performance targets, the ratio against
// maxRatio.
func targets(r results, maxRatio float64) []check {
	return []check{
		{r.ratio <= maxRatio, fmt.Sprintf("binary median <= %.2g x script median (%.2f)", maxRatio, r.ratio)},
		{r.peakMB <= maxRSSMB, fmt.Sprintf("binary peak RSS <= %.0f MiB (%.1f MiB)", maxRSSMB, r.peakMB)},
		{r.reqOK, fmt.Sprintf("exactly %d HTTP requests per binary run (%s)", wantRequests, r.requests)},
		{r.binaryMB <= maxBinaryMB, fmt.Sprintf("binary size <= %.1f MB (%.2f MB)", maxBinaryMB, r.binaryMB)},
		{r.retryErr == nil && r.retry.wall < max503Success, fmt.Sprintf("one 503 then success in < %s (%s, %s)", max503Success, ms(r.retry.wall), outcome(r.retryErr, true))},
		{r.forbiddenErr != nil && r.forbiddenTries == 1 && r.forbidden.wall < max403Failure, fmt.Sprintf("403 fails in < %s without retrying (%s, %d request%s)", max403Failure, ms(r.forbidden.wall), r.forbiddenTries, plural(r.forbiddenTries))},
	}
}

// missedError reports that the runs worked but targets were missed.
type missedError struct{ n int }

func (e *missedError) Error() string { return fmt.Sprintf("%d target%s missed", e.n, plural(e.n)) }

// binaryFlow runs the action once through the runner emulation (which
// checks that it works and gives the environment the runner would), and
// returns the flow that runs the binary again with that environment.
func binaryFlow(ctx context.Context, s *fakes.Stack, bin, dir string) (*flow, *runner.StepResult, error) {
	j, err := runner.New(dir, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken,
		Env: map[string]string{"SSL_CERT_FILE": s.CAFile}})
	if err != nil {
		return nil, nil, err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	a, err := runner.LoadAction(filepath.Join(root, "action.yml"))
	if err != nil {
		return nil, nil, err
	}
	res, err := j.RunAction(ctx, runner.Host(bin), a, runner.Step{ID: "registry", Inputs: s.JFrogInputs()})
	if err != nil {
		return nil, nil, fmt.Errorf("run the action: %w", err)
	}
	if res.Failed() || res.Env["CARGO_REGISTRIES_ARTIFACTORY_TOKEN"] == "" {
		return nil, nil, fmt.Errorf("the action failed (exit %d):\n%s", res.ExitCode, res.Combined())
	}
	f := &flow{name: "cargo-oidc", path: bin, args: res.Args, env: res.Environ, dir: j.Workspace()}
	for _, kv := range res.Environ {
		name, v, _ := strings.Cut(kv, "=")
		switch name {
		case "GITHUB_ENV":
			f.envFile = v
			f.files = append(f.files, v)
		case "GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY", "GITHUB_PATH":
			f.files = append(f.files, v)
		}
	}
	if f.envFile == "" {
		return nil, nil, errors.New("the runner gave the action no GITHUB_ENV")
	}
	return f, res, nil
}

// scriptFlow writes the article's script and returns its flow, with the same
// environment as the binary plus the values the script takes from secrets.
func scriptFlow(s *fakes.Stack, act *runner.StepResult, path string) (*flow, error) {
	if err := os.WriteFile(path, []byte(articleScript), 0o755); err != nil {
		return nil, err
	}
	in := s.JFrogInputs()
	env := append([]string(nil), act.Environ...)
	env = append(env, "BENCH_CA="+s.CAFile, "ART_URL="+s.JFrogURL, "PROVIDER_NAME="+in["provider-name"], "REPO="+in["repository"])
	bash, err := exec.LookPath("bash")
	if err != nil {
		return nil, err
	}
	f := &flow{name: "script", path: bash, args: []string{path}, env: env, dir: filepath.Dir(path)}
	for _, kv := range act.Environ {
		if v, ok := strings.CutPrefix(kv, "GITHUB_ENV="); ok {
			f.envFile = v
			f.files = []string{v}
		}
	}
	return f, nil
}

// once runs the flow with empty file-command files and checks that it
// exported a registry token.
func (f *flow) once(ctx context.Context, s *fakes.Stack) (sample, error) {
	for _, p := range f.files {
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return sample{}, err
		}
	}
	before := binaryRequests(s)
	cmd := exec.CommandContext(ctx, f.path, f.args...)
	cmd.Env, cmd.Dir = f.env, f.dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	smp := sample{wall: time.Since(start), requests: binaryRequests(s) - before}
	if cmd.ProcessState != nil {
		if rss, ok := maxRSS(cmd.ProcessState); ok {
			smp.maxRSSKB = rss
		}
	}
	if err != nil {
		return smp, fmt.Errorf("%s failed: %w", f.name, err)
	}
	env, err := os.ReadFile(f.envFile)
	if err != nil {
		return smp, err
	}
	if !strings.Contains(string(env), "CARGO_REGISTRIES_ARTIFACTORY_TOKEN") || strings.Contains(string(env), "TOKEN=Bearer null") {
		return smp, fmt.Errorf("%s exported no token", f.name)
	}
	return smp, ctx.Err()
}

// binaryRequests counts the requests the services received from clients:
// every path but the issuer's discovery and keys, which the fake services
// fetch themselves to verify JWTs.
func binaryRequests(s *fakes.Stack) int {
	n := 0
	for p, c := range s.Store.AllRequests() {
		if !strings.HasPrefix(p, "/.well-known/") {
			n += c
		}
	}
	return n
}

type summary struct{ min, median, p90, max time.Duration }

func stats(samples []sample) summary {
	d := make([]time.Duration, len(samples))
	for i, s := range samples {
		d[i] = s.wall
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) time.Duration {
		i := int(q*float64(len(d)-1) + 0.5)
		return d[i]
	}
	med := d[len(d)/2]
	if len(d)%2 == 0 {
		med = (d[len(d)/2-1] + d[len(d)/2]) / 2
	}
	return summary{min: d[0], median: med, p90: at(0.9), max: d[len(d)-1]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// requestCounts lists the distinct request counts seen, e.g. "2" or "2, 3".
func requestCounts(samples []sample) string {
	seen := map[int]bool{}
	var out []string
	for _, s := range samples {
		if !seen[s.requests] {
			seen[s.requests] = true
			out = append(out, fmt.Sprint(s.requests))
		}
	}
	return strings.Join(out, ", ")
}

func outcome(err error, wantOK bool) string {
	switch {
	case err == nil && wantOK:
		return "succeeded"
	case err == nil:
		return "succeeded, want a failure"
	case wantOK:
		return "failed"
	default:
		return "failed as it should"
	}
}
