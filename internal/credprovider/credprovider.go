// Package credprovider makes cargo-oidc a Cargo credential provider: Cargo
// runs "cargo-oidc --cargo-plugin" whenever it needs a token for a registry,
// and the provider answers a registry token that is not about to expire: one
// from the job's token cache (a private file shared by every Cargo process
// of the job, cache.go) while it has more than a margin of its life left,
// else a fresh one, minted by exchanging a GitHub ID token (or another CI's)
// with the configured service under the cache's lock, so the job makes one
// exchange per token lifetime and no step ever holds a token that has
// expired.
//
// The protocol is one JSON object per line on stdin and stdout: the provider
// says hello ({"v":[1]}), Cargo sends a request (kind get, login or logout,
// the registry's index URL and name, and the arguments of the
// credential-provider setting), the provider answers {"Ok":...} or
// {"Err":...}. Only get is supported; every failure is an answer, never a
// crash or a hang, and no answer ever carries a token but the one asked for.
package credprovider

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/regularfile"
)

// Env is what the provider takes from the outside world.
type Env struct {
	Getenv  func(string) string
	Stdin   io.Reader
	Stdout  io.Writer
	Version string
	// HTTP is the base client; nil means a default one.
	HTTP *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Stderr gets the provider's warnings (a cache file ignored, a cache
	// that cannot be used), which Cargo shows; nil means none.
	Stderr io.Writer
	// TempDir is the system's temp folder, the cache's last fallback
	// (DefaultCacheDir); nil means os.TempDir.
	TempDir func() string
}

// MaxRequest bounds one request line from Cargo.
const MaxRequest = 1 << 20

// Request is one message from Cargo.
type Request struct {
	V         int      `json:"v"`
	Registry  Registry `json:"registry"`
	Kind      string   `json:"kind"`
	Operation string   `json:"operation,omitempty"`
	Args      []string `json:"args,omitempty"`
}

// Registry is the registry a request is about.
type Registry struct {
	IndexURL string   `json:"index-url"`
	Name     string   `json:"name,omitempty"`
	Headers  []string `json:"headers,omitempty"`
}

// errorKinds of the protocol.
const (
	kindURLNotSupported       = "url-not-supported"
	kindOperationNotSupported = "operation-not-supported"
	kindOther                 = "other"
)

// okGet is the answer to a get. Cargo reads the cache control flattened
// into it: "cache" is "never", "session" or "expires", and with "expires"
// the field "expiration" holds the unix time (cargo-credential's
// CacheControl, `#[serde(tag = "cache")]`).
type okGet struct {
	Kind                 string `json:"kind"`
	Token                string `json:"token"`
	Cache                string `json:"cache"`
	Expiration           int64  `json:"expiration,omitempty"`
	OperationIndependent bool   `json:"operation_independent"`
}

type errBody struct {
	Kind     string   `json:"kind"`
	Message  string   `json:"message,omitempty"`
	CausedBy []string `json:"caused-by,omitempty"`
}

// Serve speaks the protocol until Cargo closes stdin or ctx ends.
func Serve(ctx context.Context, e Env) error {
	if e.Now == nil {
		e.Now = time.Now
	}
	out := json.NewEncoder(e.Stdout)
	if err := out.Encode(map[string][]int{"v": {1}}); err != nil {
		return fmt.Errorf("writing the hello to cargo: %w", err)
	}
	sc := bufio.NewScanner(e.Stdin)
	sc.Buffer(make([]byte, 0, 64*1024), MaxRequest)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := out.Encode(handle(ctx, e, []byte(line))); err != nil {
			return fmt.Errorf("answering cargo: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		_ = out.Encode(map[string]errBody{"Err": {Kind: kindOther, Message: "cargo-oidc: reading the request from cargo: " + err.Error()}})
		return fmt.Errorf("reading from cargo: %w", err)
	}
	return nil
}

// handle answers one request line.
func handle(ctx context.Context, e Env, line []byte) any {
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return fail(nil, fmt.Errorf("cargo-oidc: cargo sent a request that is not JSON (%v); is this cargo 1.74 or later?", err))
	}
	if req.V != 1 {
		return fail(nil, fmt.Errorf("cargo-oidc: cargo asked for protocol version %d; cargo-oidc speaks version 1", req.V))
	}
	switch req.Kind {
	case "get":
	case "login", "logout":
		return map[string]errBody{"Err": {Kind: kindOperationNotSupported}}
	default:
		return map[string]errBody{"Err": {Kind: kindOperationNotSupported}}
	}
	opts, err := ParseArgs(req.Args)
	if err != nil {
		return fail(nil, err)
	}
	if !opts.serves(req.Registry) {
		return map[string]errBody{"Err": {Kind: kindURLNotSupported}}
	}
	red := exchange.NewRedactor()
	tok, issued, err := opts.cachedMint(ctx, e, req, red)
	if err != nil {
		return fail(red, err)
	}
	cache, expiration := cacheFor(tok, issued, e.Now())
	return map[string]okGet{"Ok": {Kind: "get", Token: opts.cfg.Authorization(tok.Value),
		Cache: cache, Expiration: expiration, OperationIndependent: true}}
}

// fail turns err into an "other" error answer; wrapped causes become
// caused-by lines, which Cargo prints under the message. Every secret red
// knows is removed first: Cargo prints the answer.
func fail(red *exchange.Redactor, err error) any {
	lines := strings.Split(strings.TrimSpace(red.Redact(err.Error())), "\n")
	var d interface{ Details() []string }
	if errors.As(err, &d) {
		for _, l := range d.Details() {
			if l = strings.TrimSpace(red.Redact(l)); l != "" {
				lines = append(lines, l)
			}
		}
	}
	return map[string]errBody{"Err": {Kind: kindOther, Message: lines[0], CausedBy: lines[1:]}}
}

// cacheFor tells Cargo how long to reuse tok, issued at issued: the cache
// control ("never" or "expires") and, with "expires", the unix time to give
// Cargo. Cargo reuses a cached token only while now+60s is before that
// time, so the time reported is the token's renewal time (renewAt: its
// expiry minus the renewal margin, a fifth of its lifetime between 1 second
// and 5 minutes) plus those 60 seconds: Cargo then stops using the token
// when the token cache renews it. A token of unknown life, or one past its
// renewal time, is never cached.
func cacheFor(tok *exchange.Token, issued, now time.Time) (cache string, expiration int64) {
	if tok.ExpiresAt.IsZero() {
		return "never", 0
	}
	renew := renewAt(issued, tok.ExpiresAt)
	if !now.Before(renew) {
		return "never", 0
	}
	return "expires", renew.Add(60 * time.Second).Unix()
}

// cachedMint answers the request from the token cache, minting (mint) only
// when the cache holds no fresh token for it. It returns the token and when
// it was issued.
func (o *Options) cachedMint(ctx context.Context, e Env, req Request, red *exchange.Redactor) (*exchange.Token, time.Time, error) {
	warn := func(msg string) {
		if e.Stderr != nil {
			fmt.Fprintf(e.Stderr, "cargo-oidc: warning: %s\n", red.Redact(msg))
		}
	}
	dir := o.CacheDir
	if dir == "" {
		dir = DefaultCacheDir(e.Getenv, e.TempDir)
	}
	mint := func() (*exchange.Token, error) { return o.mint(ctx, e, red) }
	// No job scope (no ID token, or one that cannot be read): the
	// exchange fails and says why; nothing is cached under an empty scope.
	scope, err := o.scope(e.Getenv)
	var c *tokenCache
	if err == nil && scope != "" {
		red.Add(scope)
		c = openCache(dir, warn, e.Now)
	}
	if c == nil {
		issued := e.Now()
		tok, err := mint()
		return tok, issued, err
	}
	registry := o.cfg.IndexURL
	if registry == "" {
		registry = req.Registry.IndexURL
	}
	key := cacheKey(registryKey(o.cfg.Provider, registry), keyArgs(req.Args, e.Getenv), scope)
	// The wait for the lock is bounded by the timeout; the exchange after
	// it (or without it, when the wait gave up) has the caller's context
	// and its own timeout, not what the wait left over.
	lockCtx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	tok, issued, err := c.cachedMint(lockCtx, key, mint)
	if err == nil {
		red.Add(tok.Value)
	}
	return tok, issued, err
}

// Options is the provider's configuration, from the arguments of Cargo's
// credential-provider setting.
type Options struct {
	cfg *config.Config
	// IDTokenEnv names an environment variable holding a ready OIDC token
	// (another CI system: CircleCI's CIRCLE_OIDC_TOKEN_V2, a GitLab id_token).
	IDTokenEnv string
	// IDTokenFile names a file holding a ready OIDC token.
	IDTokenFile string
	// Record names the file every crates.io token minted is appended to
	// (one per line), for the action's post stage to revoke.
	Record string
	// CacheDir names the token cache's folder (--cache-dir); "" means
	// DefaultCacheDir.
	CacheDir string
}

// RecordArg is the argument (--minted-record=PATH) naming the file the
// provider records the crates.io tokens it mints in.
const RecordArg = "minted-record"

// Config returns the validated configuration.
func (o *Options) Config() *config.Config { return o.cfg }

// CratesIOIndexes are the index URLs Cargo names crates.io by: the git
// index and the sparse index. Cargo sends the git one for crates.io even
// when it uses the sparse protocol.
var CratesIOIndexes = []string{"https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/"}

// serves reports whether the request is for the configured registry: for
// crates-io, crates.io's index only (a trusted publishing token must never
// go to another registry); else the configured index, when one is set.
func (o *Options) serves(r Registry) bool {
	norm := func(u string) string { return strings.TrimRight(strings.TrimPrefix(u, "sparse+"), "/") }
	if o.cfg.Provider == config.CratesIO {
		for _, idx := range CratesIOIndexes {
			if norm(r.IndexURL) == norm(idx) {
				return true
			}
		}
		return false
	}
	if o.cfg.IndexURL == "" {
		return true
	}
	return norm(r.IndexURL) == norm(o.cfg.IndexURL)
}

// mint gets an ID token and exchanges it. Every secret met goes to red. A
// crates.io token is recorded for revocation before it is answered; one
// that cannot be recorded is revoked at once and not answered.
func (o *Options) mint(ctx context.Context, e Env, red *exchange.Redactor) (*exchange.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	red.Add(e.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
	client := exchange.NewClient(exchange.HTTPConfig{Base: e.HTTP, Retries: o.cfg.Retries, Redactor: red})
	ids, err := o.IDTokens(e.Getenv, client, red.Add)
	if err != nil {
		return nil, fmt.Errorf("cargo-oidc: %w", err)
	}
	svc := o.cfg.Service(client, red.Add, e.Now, e.Getenv)
	tok, err := svc.Exchange(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("cargo-oidc: %w", err)
	}
	if cr, ok := svc.(exchange.Revoker); ok && o.Record != "" {
		if err := appendRecord(o.Record, tok.Value); err != nil {
			rerr := cr.Revoke(ctx, tok.Value)
			what := "it was revoked"
			if rerr != nil {
				what = fmt.Sprintf("revoking it failed too (%v); it expires on its own in 30 minutes", rerr)
			}
			return nil, fmt.Errorf("cargo-oidc: cannot record the crates.io token for revocation at the end of the job, so it is not used (%s): %w", what, err)
		}
	}
	return tok, nil
}

// linkOr says that path (the record or its folder) is a symbolic link when
// it is one, and returns err otherwise.
func linkOr(path string, err error) error {
	if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link, which is not followed", path)
	}
	return err
}

// writeRecord checks that f, the record file just opened at path, is a
// regular file, then writes tok and a newline to it in one write and
// closes it.
func writeRecord(f *os.File, path, tok string) error {
	if err := regularfile.Check(f, path); err != nil {
		return err
	}
	if _, err := f.Write([]byte(tok + "\n")); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
