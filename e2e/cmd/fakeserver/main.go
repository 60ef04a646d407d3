// Command fakeserver runs the local stand-ins of e2e/internal/fakes (GitHub's
// OIDC issuer and ID token endpoint, JFrog, Cloudsmith, crates.io, AWS STS
// and CodeArtifact, an authenticated sparse Cargo registry) as a server
// process, so that a CI job on Linux, macOS or Windows can run the
// composite action (uses: ./setup) and cargo against them, as
// .github/workflows/ci.yml's setup job does.
//
//	fakeserver -env-file FILE [-dir DIR] [-deadline 20m] [-background [-log FILE]]
//
// It starts the services on 127.0.0.1 (TLS with a throw-away CA written to
// DIR), writes FILE, a list of KEY=VALUE lines for $GITHUB_ENV (EnvKeys:
// the ID token endpoint in GitHub's protocol, the CA file for Go and cargo,
// the services' URLs and inputs, a status URL), and serves until it is
// interrupted, until POST <FAKE_STATUS_URL>/quit, or until the deadline,
// so it never outlives the job by much. Then it removes FILE.
//
// GET <FAKE_STATUS_URL>/status (plain HTTP on 127.0.0.1; it holds only
// counters) answers KEY=VALUE lines (StatusKeys): token exchanges per
// service, revocations, and how many issued tokens are still live.
//
// With -background it starts a copy of itself detached from the caller
// (its own session on Unix, a detached process on Windows; its output in
// the -log file, no handle of the caller's), waits until FILE exists and
// exits: a workflow step can start the server and end, on every OS, while
// the server serves the later steps.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

func main() { os.Exit(harness.Command("fakeserver", run)) }

// options are the parsed command line.
type options struct {
	envFile, dir, logFile string
	deadline              time.Duration
	background            bool
}

// DefaultDeadline is how long the server serves at most.
const DefaultDeadline = 20 * time.Minute

// startWait bounds how long -background waits for the env file.
const startWait = 60 * time.Second

func parse(args []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("fakeserver", flag.ContinueOnError)
	fs.SetOutput(out)
	o := &options{}
	fs.StringVar(&o.envFile, "env-file", "", "write the KEY=VALUE lines for $GITHUB_ENV to this file (required)")
	fs.StringVar(&o.dir, "dir", "", "folder for the CA certificate (default: a temporary folder, removed at exit)")
	fs.DurationVar(&o.deadline, "deadline", DefaultDeadline, "stop serving after this long")
	fs.BoolVar(&o.background, "background", false, "start a detached server, wait until it has written -env-file, and exit")
	fs.StringVar(&o.logFile, "log", "", "with -background: the server's log file (default: the -env-file path with .log added)")
	fs.Usage = func() {
		fmt.Fprint(out, "Usage: fakeserver -env-file FILE [-dir DIR] [-deadline 20m] [-background [-log FILE]]\n\n"+
			"Serves cargo-oidc's local fakes (GitHub OIDC issuer, JFrog, Cloudsmith, crates.io, AWS, a Cargo\n"+
			"registry) on 127.0.0.1 and writes their URLs and inputs as KEY=VALUE lines for $GITHUB_ENV.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q; see -help", fs.Arg(0))
	case o.envFile == "":
		return nil, errors.New("-env-file is required: the file the server writes its KEY=VALUE lines to")
	case o.deadline <= 0:
		return nil, fmt.Errorf("-deadline %s: want a positive duration, like 20m", o.deadline)
	case o.logFile != "" && !o.background:
		return nil, errors.New("-log goes with -background; in the foreground the server logs to stdout")
	}
	var err error
	if o.envFile, err = filepath.Abs(o.envFile); err != nil {
		return nil, err
	}
	if o.dir != "" {
		if o.dir, err = filepath.Abs(o.dir); err != nil {
			return nil, err
		}
	}
	if o.background && o.logFile == "" {
		o.logFile = o.envFile + ".log"
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parse(args, stdout)
	if err != nil {
		return err
	}
	if o.background {
		return startBackground(ctx, o, stdout)
	}
	return serve(ctx, o, stdout)
}

// EnvKeys are the variables the env file sets, in its order.
var EnvKeys = []string{
	"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
	"SSL_CERT_FILE", "CARGO_HTTP_CAINFO",
	"FAKE_JFROG_URL", "FAKE_JFROG_PROVIDER_NAME", "FAKE_JFROG_REPOSITORY", "FAKE_JFROG_INDEX",
	"FAKE_CRATES_IO_URL", "FAKE_CRATE", "FAKE_CRATE_VERSION", "FAKE_STATUS_URL",
}

// envLines returns the env file of stack s with its status server at
// statusURL.
func envLines(s *fakes.Stack, statusURL string) string {
	in := s.JFrogInputs()
	v := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   s.RequestURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.RequestToken,
		"SSL_CERT_FILE":                  s.CAFile, // the action and the credential provider (exchange.BaseHTTPClient)
		"CARGO_HTTP_CAINFO":              s.CAFile, // cargo
		"FAKE_JFROG_URL":                 s.JFrogURL,
		"FAKE_JFROG_PROVIDER_NAME":       in["provider-name"],
		"FAKE_JFROG_REPOSITORY":          in["repository"],
		"FAKE_JFROG_INDEX":               s.JFrogIndex,
		"FAKE_CRATES_IO_URL":             s.CratesIOURL,
		"FAKE_CRATE":                     fakes.DefaultCrate,
		"FAKE_CRATE_VERSION":             fakes.DefaultCrateVersion,
		"FAKE_STATUS_URL":                statusURL,
	}
	var b strings.Builder
	for _, k := range EnvKeys {
		fmt.Fprintf(&b, "%s=%s\n", k, v[k])
	}
	return b.String()
}

// StatusKeys are the lines of GET /status, in their order.
var StatusKeys = []string{
	"exchanges_jfrog", "exchanges_crates_io", "revocations",
	"live_jfrog_tokens", "live_crates_io_tokens", "registry_ok_requests",
}

// status returns the GET /status answer for s.
func status(s *fakes.Stack) string {
	live := map[string]int{}
	for _, t := range s.Store.Tokens() {
		if t.Kind == fakes.KindAccessToken && s.Store.Valid(t.Value) {
			live[t.Service]++
		}
	}
	v := map[string]int{
		"exchanges_jfrog":       s.Store.Exchanges("jfrog"),
		"exchanges_crates_io":   s.Store.Exchanges("crates-io"),
		"revocations":           s.Store.Revocations(),
		"live_jfrog_tokens":     live["jfrog"],
		"live_crates_io_tokens": live["crates-io"],
		"registry_ok_requests":  s.Registry.Count(http.StatusOK),
	}
	var b strings.Builder
	for _, k := range StatusKeys {
		fmt.Fprintf(&b, "%s=%d\n", k, v[k])
	}
	return b.String()
}

// serve runs the stack until ctx ends, POST /quit or the deadline.
func serve(ctx context.Context, o *options, stdout io.Writer) error {
	if o.dir != "" {
		if err := os.MkdirAll(o.dir, 0o755); err != nil {
			return fmt.Errorf("create -dir: %w", err)
		}
	}
	s, err := fakes.Start(fakes.Options{Dir: o.dir})
	if err != nil {
		return fmt.Errorf("start the fakes: %w", err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the status server on 127.0.0.1: %w", err)
	}
	quit := make(chan struct{})
	var quitOnce sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, status(s))
	})
	mux.HandleFunc("POST /quit", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "stopping\n")
		quitOnce.Do(func() { close(quit) })
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	statusURL := "http://" + ln.Addr().String()

	if err := cargoconf.WriteFileAtomic(o.envFile, []byte(envLines(s, statusURL)), 0o600, cargoconf.Owner{}); err != nil {
		return fmt.Errorf("write -env-file: %w", err)
	}
	defer os.Remove(o.envFile)
	fmt.Fprintf(stdout, "fakeserver: pid %d serving on 127.0.0.1 for at most %s; status %s/status; variables in %s\n",
		os.Getpid(), o.deadline, statusURL, o.envFile)
	timer := time.NewTimer(o.deadline)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "fakeserver: interrupted, stopping")
	case <-quit:
		fmt.Fprintln(stdout, "fakeserver: POST /quit, stopping")
	case <-timer.C:
		fmt.Fprintf(stdout, "fakeserver: deadline of %s reached, stopping\n", o.deadline)
	}
	fmt.Fprint(stdout, status(s))
	return nil
}

// startBackground starts a detached server with o's flags less
// -background, and returns once it has written the env file.
func startBackground(ctx context.Context, o *options, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to start it again: %w", err)
	}
	if err := os.Remove(o.envFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the old -env-file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(o.logFile), 0o755); err != nil {
		return fmt.Errorf("create the folder of -log: %w", err)
	}
	log, err := os.OpenFile(o.logFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create -log: %w", err)
	}
	defer log.Close()
	args := []string{"-env-file", o.envFile, "-deadline", o.deadline.String()}
	if o.dir != "" {
		args = append(args, "-dir", o.dir)
	}
	// Not CommandContext: the server outlives this process.
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = log, log // stdin: the null device
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	limit := time.NewTimer(startWait)
	defer limit.Stop()
	for {
		if _, err := os.Stat(o.envFile); err == nil {
			break
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited before writing %s (%v); its log %s:\n%s", o.envFile, err, o.logFile, readLog(o.logFile))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return ctx.Err()
		case <-limit.C:
			_ = cmd.Process.Kill()
			return fmt.Errorf("the server wrote no %s within %s; its log %s:\n%s", o.envFile, startWait, o.logFile, readLog(o.logFile))
		case <-ticker.C:
		}
	}
	keys := append([]string(nil), EnvKeys...)
	sort.Strings(keys)
	fmt.Fprintf(stdout, "fakeserver: started, pid %d, log %s; %s sets %s\n", cmd.Process.Pid, o.logFile, o.envFile, strings.Join(keys, " "))
	return nil
}

// readLog returns the end of the server's log, for an error.
func readLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	return string(data)
}
