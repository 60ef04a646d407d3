// Package credprovider makes cargo-oidc a Cargo credential provider: Cargo
// runs "cargo-oidc --cargo-plugin" whenever it needs a token for a registry,
// and the provider mints a fresh GitHub ID token, exchanges it with the
// configured service and answers the registry token, so no step ever holds a
// token that has expired.
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
	tok, err := opts.mint(ctx, e, red)
	if err != nil {
		return fail(red, err)
	}
	cache, expiration := cacheFor(tok, e.Now())
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

// cacheFor tells Cargo how long to reuse tok: the cache control ("never" or
// "expires") and, with "expires", the unix time to give Cargo. Cargo reuses
// a cached token only while now+60s is before that time, so the time
// reported is the real expiry minus a safety margin plus those 60 seconds:
// Cargo then stops using the token margin before it really expires. The
// margin is a fifth of the remaining life, between 1 second and 5 minutes.
// A token of unknown life is never cached.
func cacheFor(tok *exchange.Token, now time.Time) (cache string, expiration int64) {
	if tok.ExpiresAt.IsZero() {
		return "never", 0
	}
	left := tok.ExpiresAt.Sub(now)
	margin := min(max(left/5, time.Second), 5*time.Minute)
	if left <= margin {
		return "never", 0
	}
	return "expires", tok.ExpiresAt.Add(-margin).Add(60 * time.Second).Unix()
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
}

// RecordArg is the argument (--minted-record=PATH) naming the file the
// provider records the crates.io tokens it mints in.
const RecordArg = "minted-record"

// Config returns the validated configuration.
func (o *Options) Config() *config.Config { return o.cfg }

// ParseArgs reads "--name=value" arguments: every action input (provider,
// url, provider-name, ...) and --id-token-env / --id-token-file. An
// argument given twice is refused, not overridden by the later one (which
// would let text smuggled into one value replace another), and so is one
// holding a space, control or format character (config.SplitsArgument),
// which Command never writes.
func ParseArgs(args []string) (*Options, error) {
	in := map[string]string{}
	seen := map[string]bool{}
	o := &Options{}
	for _, a := range args {
		if r, bad := config.BadCharacter(a, config.SplitsArgument); bad {
			return nil, fmt.Errorf("cargo-oidc: argument %q holds %U, a space, control or format character; give every argument of the credential-provider setting without one", a, r)
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			return nil, fmt.Errorf("cargo-oidc: argument %q is not of the form --name=value; check the credential-provider setting", a)
		}
		if seen[name] {
			return nil, fmt.Errorf("cargo-oidc: argument --%s is given twice in the credential-provider setting; give each argument once", name)
		}
		seen[name] = true
		switch name {
		case "id-token-env":
			o.IDTokenEnv = value
		case "id-token-file":
			o.IDTokenFile = value
		case RecordArg:
			o.Record = value
		default:
			if !known(name) {
				return nil, fmt.Errorf("cargo-oidc: unknown argument --%s in the credential-provider setting; use the action's input names (--provider=, --url=, ...)", name)
			}
			in[name] = value
		}
	}
	if o.IDTokenEnv != "" && o.IDTokenFile != "" {
		return nil, errors.New("cargo-oidc: give --id-token-env or --id-token-file, not both")
	}
	cfg, err := config.Load(func(name string) string { return in[name] })
	if err != nil {
		return nil, fmt.Errorf("cargo-oidc: the credential-provider setting is invalid:\n%w", err)
	}
	o.cfg = cfg
	return o, nil
}

func known(name string) bool {
	for _, in := range config.Inputs {
		if in == name {
			return true
		}
	}
	return false
}

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
	var ids exchange.IDTokenSource
	switch {
	case o.IDTokenEnv != "":
		ids = exchange.EnvIDToken(e.Getenv, o.IDTokenEnv)
	case o.IDTokenFile != "":
		ids = exchange.FileIDToken(o.IDTokenFile)
	default:
		ids = exchange.GitHubIDTokens(e.Getenv, client)
	}
	ids = exchange.Masked(ids, red.Add)
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
