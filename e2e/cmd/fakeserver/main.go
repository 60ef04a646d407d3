// Command fakeserver serves the local fakes as a process of its own, so that
// a CI job on any OS can run the composite action and cargo against them
// (ci.yml's setup job). It writes -env-file, KEY=VALUE lines for $GITHUB_ENV,
// and serves until interrupted, POST <FAKE_STATUS_URL>/quit or -deadline;
// GET <FAKE_STATUS_URL>/status answers counters. -background starts a
// detached copy and exits once the env file exists.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/e2e/cmd/internal/tool"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

func main() { os.Exit(harness.Command("fakeserver", run)) }

const startWait = 60 * time.Second

const usage = "Usage: fakeserver -env-file FILE [-dir DIR] [-deadline 20m] [-background]\n\n"

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakeserver", flag.ContinueOnError)
	envFile := fs.String("env-file", "", "write the KEY=VALUE lines for $GITHUB_ENV to this file (required)")
	dir := fs.String("dir", "", "folder for the CA certificate (default: a temporary folder, removed at exit)")
	deadline := fs.Duration("deadline", 20*time.Minute, "stop serving after this long")
	background := fs.Bool("background", false, "start a detached server (log: the -env-file path with .log added), wait until it has written -env-file, and exit")
	if err := tool.Parse(fs, stdout, usage, args); err != nil {
		return err
	}
	switch {
	case *envFile == "":
		return errors.New("-env-file is required: the file the server writes its KEY=VALUE lines to")
	case *deadline <= 0:
		return fmt.Errorf("-deadline %s: want a positive duration, like 20m", *deadline)
	}
	if *dir != "" {
		// Absolute: the env file names the CA file for steps in other folders.
		abs, err := filepath.Abs(*dir)
		if err == nil {
			err = os.MkdirAll(abs, 0o755)
		}
		if err != nil {
			return fmt.Errorf("create -dir: %w", err)
		}
		*dir = abs
	}
	if *background {
		return startBackground(ctx, stdout, *envFile, "-env-file", *envFile, "-dir", *dir, "-deadline", deadline.String())
	}
	return serve(ctx, *envFile, *dir, *deadline, stdout)
}

// lines renders key, value, key, value, ... as KEY=VALUE lines.
func lines(kv ...any) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%v=%v\n", kv[i], kv[i+1])
	}
	return b.String()
}

func status(s *fakes.Stack) string {
	live := map[string]int{}
	for _, t := range s.Store.Tokens() {
		if t.Kind == fakes.KindAccessToken && s.Store.Valid(t.Value) {
			live[t.Service]++
		}
	}
	return lines(
		"exchanges_jfrog", s.Store.Exchanges("jfrog"),
		"exchanges_crates_io", s.Store.Exchanges("crates-io"),
		"revocations", s.Store.Revocations(),
		"live_jfrog_tokens", live["jfrog"],
		"live_crates_io_tokens", live["crates-io"],
		"registry_ok_requests", s.Registry.Count(http.StatusOK),
	)
}

// serve runs the stack until ctx ends, POST /quit or the deadline.
func serve(ctx context.Context, envFile, dir string, deadline time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeoutCause(ctx, deadline, fmt.Errorf("deadline of %s reached", deadline))
	defer cancel()
	ctx, quit := context.WithCancelCause(ctx)
	defer quit(nil)
	s, err := fakes.Start(fakes.Options{Dir: dir})
	if err != nil {
		return fmt.Errorf("start the fakes: %w", err)
	}
	defer s.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, status(s))
	})
	mux.HandleFunc("POST /quit", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "stopping\n")
		quit(errors.New("POST /quit"))
	})
	srv := httptest.NewServer(mux) // plain HTTP on 127.0.0.1
	defer srv.Close()
	in := s.JFrogInputs()
	env := lines(
		"ACTIONS_ID_TOKEN_REQUEST_URL", s.RequestURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN", s.RequestToken,
		"SSL_CERT_FILE", s.CAFile, // the action and the credential provider (exchange.BaseHTTPClient)
		"CARGO_HTTP_CAINFO", s.CAFile, // cargo
		"FAKE_JFROG_URL", s.JFrogURL,
		"FAKE_JFROG_PROVIDER_NAME", in["provider-name"],
		"FAKE_JFROG_REPOSITORY", in["repository"],
		"FAKE_JFROG_INDEX", s.JFrogIndex,
		"FAKE_CRATES_IO_URL", s.CratesIOURL,
		"FAKE_CRATE", fakes.DefaultCrate,
		"FAKE_CRATE_VERSION", fakes.DefaultCrateVersion,
		"FAKE_STATUS_URL", srv.URL,
	)
	if err := cargoconf.WriteFileAtomic(envFile, []byte(env), 0o600, cargoconf.Owner{}); err != nil {
		return fmt.Errorf("write -env-file: %w", err)
	}
	defer os.Remove(envFile)
	fmt.Fprintf(stdout, "fakeserver: pid %d serving on 127.0.0.1 for at most %s; status %s/status; variables in %s\n",
		os.Getpid(), deadline, srv.URL, envFile)
	<-ctx.Done()
	fmt.Fprintf(stdout, "fakeserver: %v, stopping\n%s", context.Cause(ctx), status(s))
	return nil
}

// startBackground starts this program detached with args, its output in
// envFile.log, and returns once it has written envFile.
func startBackground(ctx context.Context, stdout io.Writer, envFile string, args ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to start it again: %w", err)
	}
	if err := os.Remove(envFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the old -env-file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(envFile), 0o755); err != nil {
		return fmt.Errorf("create the folder of -env-file: %w", err)
	}
	logFile := envFile + ".log"
	log, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create the server's log: %w", err)
	}
	defer log.Close()
	// Not CommandContext: the server outlives this process.
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = log, log // stdin: the null device
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	for {
		if _, err := os.Stat(envFile); err == nil {
			fmt.Fprintf(stdout, "fakeserver: started, pid %d, log %s; variables in %s\n", cmd.Process.Pid, logFile, envFile)
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited before writing %s (%v); its log %s:\n%s", envFile, err, logFile, tail(logFile))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return fmt.Errorf("the server wrote no %s within %s (%w); its log %s:\n%s", envFile, startWait, ctx.Err(), logFile, tail(logFile))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	return string(data[max(0, len(data)-4096):])
}
