package fakes

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// root is one sparse index served by a Registry under a path prefix.
type root struct {
	prefix       string
	raw          bool     // the whole Authorization header is the token, not "Bearer <token>"
	authRequired bool     // every request needs a valid token; publishing always does
	service      string   // when set, the only service whose tokens count (Azure: Entra)
	challenge    []string // the WWW-Authenticate values of a 401
}

// indexEntry is one line of a sparse index file.
type indexEntry struct {
	Name     string              `json:"name"`
	Vers     string              `json:"vers"`
	Deps     []indexDep          `json:"deps"`
	Cksum    string              `json:"cksum"`
	Features map[string][]string `json:"features"`
	Yanked   bool                `json:"yanked"`
	V        int                 `json:"v"`
}

type indexDep struct {
	Name            string   `json:"name"`
	Req             string   `json:"req"`
	Features        []string `json:"features"`
	Optional        bool     `json:"optional"`
	DefaultFeatures bool     `json:"default_features"`
	Target          *string  `json:"target"`
	Kind            string   `json:"kind"`
	Registry        *string  `json:"registry,omitempty"`
	Package         *string  `json:"package,omitempty"`
}

// RegistryRequest records one request a Registry received.
type RegistryRequest struct {
	Method, Path string
	Status       int
	Token        string // the token presented ("" if none); a secret
}

// Registry is a sparse Cargo registry serving one set of crates under one
// or more roots, and accepting cargo publish. Safe for concurrent use.
type Registry struct {
	store *TokenStore

	mu        sync.Mutex
	roots     []root
	entries   map[string][]indexEntry // lower-case name -> versions
	files     map[string][]byte       // lower-case "dl/name/version/download" -> .crate
	delay     time.Duration
	requests  []RegistryRequest
	published []string
}

// newRegistry returns a Registry holding DefaultCrate.
func newRegistry(store *TokenStore, roots ...root) (*Registry, error) {
	g := &Registry{store: store, roots: roots, entries: map[string][]indexEntry{}, files: map[string][]byte{}}
	return g, g.AddCrate(DefaultCrate, DefaultCrateVersion)
}

// SetDelay makes every index request wait d. Downloads are not delayed: Cargo
// queues them with the token it had then, and a slow queue would outlast a
// test token's renewal margin, as no real token's does.
func (g *Registry) SetDelay(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.delay = d
}

// AddCrate builds a real library crate and adds it to the index.
func (g *Registry) AddCrate(name, version string, deps ...Dep) error {
	data, err := buildCrate(name, version, deps)
	if err != nil {
		return err
	}
	e := indexEntry{Name: name, Vers: version, Features: map[string][]string{}, V: 1, Deps: []indexDep{}}
	for _, d := range deps {
		e.Deps = append(e.Deps, indexDep{Name: d.Name, Req: d.Req, Features: []string{}, DefaultFeatures: true, Kind: "normal"})
	}
	return g.add(e, data)
}

func (g *Registry) add(e indexEntry, data []byte) error {
	sum := sha256.Sum256(data)
	e.Cksum = hex.EncodeToString(sum[:])
	key := strings.ToLower(e.Name)
	g.mu.Lock()
	defer g.mu.Unlock()
	if slices.ContainsFunc(g.entries[key], func(old indexEntry) bool { return old.Vers == e.Vers }) {
		return fmt.Errorf("crate version `%s@%s` is already uploaded", e.Name, e.Vers)
	}
	g.entries[key] = append(g.entries[key], e)
	g.files["dl/"+key+"/"+strings.ToLower(e.Vers)+"/download"] = data
	return nil
}

// Published returns "name@version" of every crate accepted by publish.
func (g *Registry) Published() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.published...)
}

// Requests returns every request received, in order.
func (g *Registry) Requests() []RegistryRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]RegistryRequest(nil), g.requests...)
}

// TokensUsed returns the distinct tokens presented, in first-use order.
func (g *Registry) TokensUsed() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range g.Requests() {
		if r.Token != "" && !seen[r.Token] {
			seen[r.Token] = true
			out = append(out, r.Token)
		}
	}
	return out
}

// Count returns how many requests were answered with status (0: all).
func (g *Registry) Count(status int) int {
	n := 0
	for _, r := range g.Requests() {
		if status == 0 || r.Status == status {
			n++
		}
	}
	return n
}

// statusRecorder records the status a handler writes (none: 200).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// ServeHTTP serves every root.
func (g *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	delay := g.delay
	g.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/download") {
		delay = 0
	}
	var rt *root // roots never change
	for i := range g.roots {
		if strings.HasPrefix(r.URL.Path, g.roots[i].prefix) {
			rt = &g.roots[i]
		}
	}
	// Checked on arrival, then counted: a test that waits for the count and
	// then lets the token expire does not race the check.
	var token, why string
	var ok bool
	if rt != nil {
		token, ok, why = g.authorize(r, rt)
	}
	g.store.CountRequest(r.URL.Path)
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		g.mu.Lock()
		g.requests = append(g.requests, RegistryRequest{Method: r.Method, Path: r.URL.Path, Status: cmp.Or(rec.status, http.StatusOK), Token: token})
		g.mu.Unlock()
	}()
	if rt == nil {
		registryError(rec, http.StatusNotFound, "no registry here")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, rt.prefix)
	switch {
	case rest == "api/v1/crates/new" && r.Method != http.MethodPut:
		registryError(rec, http.StatusMethodNotAllowed, "publish needs PUT")
	case rest == "api/v1/crates/new" && !ok:
		registryError(rec, http.StatusForbidden, "publish refused: "+why)
	case rest == "api/v1/crates/new":
		g.publish(rec, r)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		registryError(rec, http.StatusMethodNotAllowed, "method not allowed")
	case rt.authRequired && !ok:
		for _, c := range rt.challenge {
			rec.Header().Add("WWW-Authenticate", c)
		}
		registryError(rec, http.StatusUnauthorized, why)
	case rest == "config.json":
		base := "https://" + r.Host + rt.prefix
		cfg := map[string]any{"dl": base + "dl", "api": strings.TrimSuffix(base, "/")}
		if rt.authRequired {
			cfg["auth-required"] = true
		}
		writeJSON(rec, http.StatusOK, cfg)
	case strings.HasPrefix(rest, "dl/"):
		g.mu.Lock()
		data, found := g.files[strings.ToLower(rest)]
		g.mu.Unlock()
		if !found {
			registryError(rec, http.StatusNotFound, "crate not found")
			return
		}
		rec.Header().Set("Content-Type", "application/gzip")
		_, _ = rec.Write(data)
	default:
		name := rest[strings.LastIndex(rest, "/")+1:]
		g.mu.Lock()
		entries := slices.Clone(g.entries[strings.ToLower(name)])
		g.mu.Unlock()
		if name == "" || indexPath(name) != rest || len(entries) == 0 {
			registryError(rec, http.StatusNotFound, "not found")
			return
		}
		rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
		enc := json.NewEncoder(rec)
		for _, e := range entries {
			_ = enc.Encode(e)
		}
	}
}

func (g *Registry) authorize(r *http.Request, rt *root) (token string, ok bool, why string) {
	h := r.Header.Get("Authorization")
	bearer, isBearer := strings.CutPrefix(h, "Bearer ")
	switch {
	case h == "":
		return "", false, "this registry requires authentication: no Authorization header was sent"
	case !rt.raw && !isBearer:
		return h, false, "the Authorization header must be `Bearer <token>`"
	case rt.raw && isBearer:
		return bearer, false, "the Authorization header must hold the raw token, without `Bearer `"
	case isBearer:
		token = bearer
	default:
		token = h
	}
	if !g.store.Valid(token) {
		return token, false, "the token is invalid, expired or revoked"
	}
	if it, _ := g.store.Lookup(token); rt.service != "" && it.Service != rt.service {
		return token, false, "the token was not issued by " + rt.service
	}
	return token, true, ""
}

func registryError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"detail": detail}}})
}

// publishMeta is the JSON part of cargo publish's upload.
type publishMeta struct {
	Name     string              `json:"name"`
	Vers     string              `json:"vers"`
	Features map[string][]string `json:"features"`
	// Deps name the requirement and the name in Cargo.toml differently from the index.
	Deps []struct {
		indexDep
		VersionReq         string  `json:"version_req"`
		ExplicitNameInToml *string `json:"explicit_name_in_toml"`
	} `json:"deps"`
}

// parsePublish splits cargo publish's body: each part after its u32 LE length.
func parsePublish(body []byte) (meta []byte, crate []byte, err error) {
	var parts [2][]byte
	for i, what := range []string{"metadata", "crate"} {
		if len(body) < 4 || uint64(binary.LittleEndian.Uint32(body)) > uint64(len(body)-4) {
			return nil, nil, fmt.Errorf("%s: truncated", what)
		}
		n := 4 + binary.LittleEndian.Uint32(body)
		parts[i], body = body[4:n], body[n:]
	}
	if len(body) != 0 {
		return nil, nil, errors.New("trailing bytes after the crate")
	}
	return parts[0], parts[1], nil
}

func (g *Registry) publish(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20)) // a short read fails to parse
	metaJSON, crate, err := parsePublish(body)
	if err != nil {
		registryError(w, http.StatusBadRequest, "invalid upload: "+err.Error())
		return
	}
	var meta publishMeta
	if err := json.Unmarshal(metaJSON, &meta); err != nil || meta.Name == "" || meta.Vers == "" {
		registryError(w, http.StatusBadRequest, "invalid upload metadata")
		return
	}
	e := indexEntry{Name: meta.Name, Vers: meta.Vers, Features: meta.Features, V: 1, Deps: []indexDep{}}
	if e.Features == nil {
		e.Features = map[string][]string{}
	}
	for _, d := range meta.Deps {
		dep := d.indexDep
		dep.Req, dep.Kind, dep.Package = d.VersionReq, cmp.Or(dep.Kind, "normal"), nil
		if dep.Features == nil {
			dep.Features = []string{}
		}
		if d.ExplicitNameInToml != nil {
			pkg := d.Name
			dep.Name, dep.Package = *d.ExplicitNameInToml, &pkg
		}
		e.Deps = append(e.Deps, dep)
	}
	if err := g.add(e, crate); err != nil {
		registryError(w, http.StatusBadRequest, err.Error())
		return
	}
	g.mu.Lock()
	g.published = append(g.published, meta.Name+"@"+meta.Vers)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"warnings": map[string]any{"invalid_categories": []string{}, "invalid_badges": []string{}, "other": []string{}}})
}

// Dep is a dependency of a crate in the registry's index.
type Dep struct {
	Name string // crate name
	Req  string // version requirement, e.g. "^1.0"
}

// buildCrate returns a deterministic .crate file of a library crate.
func buildCrate(name, version string, deps []Dep) ([]byte, error) {
	var manifest strings.Builder
	fmt.Fprintf(&manifest, "[package]\nedition = \"2021\"\nname = %q\nversion = %q\ndescription = \"A crate served by the cargo-oidc e2e fake registry\"\nlicense = \"MIT\"\n\n[lib]\npath = \"src/lib.rs\"\n", name, version)
	if len(deps) > 0 {
		manifest.WriteString("\n[dependencies]\n")
		for _, d := range deps {
			fmt.Fprintf(&manifest, "%s = %q\n", d.Name, d.Req)
		}
	}
	files := [][2]string{{"Cargo.toml", manifest.String()},
		{"src/lib.rs", fmt.Sprintf("//! %s %s, served by the cargo-oidc e2e fake registry.\n\n/// Returns the crate's name and version.\npub fn hello() -> &'static str {\n    %q\n}\n", name, version, name+" "+version)}}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	var errs []error
	for _, f := range files {
		errs = append(errs, tw.WriteHeader(&tar.Header{Name: name + "-" + version + "/" + f[0], Mode: 0o644, Size: int64(len(f[1])),
			ModTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}))
		_, err := io.WriteString(tw, f[1])
		errs = append(errs, err)
	}
	if err := errors.Join(append(errs, tw.Close(), gz.Close())...); err != nil {
		return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
	}
	return buf.Bytes(), nil
}

func indexPath(name string) string {
	n := strings.ToLower(name)
	switch {
	case len(n) <= 2:
		return strconv.Itoa(len(n)) + "/" + n
	case len(n) == 3:
		return "3/" + n[:1] + "/" + n
	}
	return n[:2] + "/" + n[2:4] + "/" + n
}

// Token kinds recorded by a TokenStore.
const (
	KindIDToken     = "id-token"     // an ID token minted by an Issuer
	KindAccessToken = "access-token" // a token a service issued for the registry
	KindFaultToken  = "fault-token"  // a secret served by a fault (never valid)
)

// IssuedToken is one secret a fake handed out.
type IssuedToken struct {
	Value     string // the secret itself
	Kind      string // one of the Kind constants
	Service   string // "github", "jfrog", "cloudsmith", "crates-io", "sts", "codeartifact", "azure", "gitlab"
	ExpiresAt time.Time
	Revoked   bool
}

// TokenStore records every secret the fakes issue and every request they
// receive. Safe for concurrent use.
type TokenStore struct {
	mu       sync.Mutex
	tokens   map[string]*IssuedToken
	order    []string
	requests map[string]int
}

func newTokenStore() *TokenStore {
	return &TokenStore{tokens: map[string]*IssuedToken{}, requests: map[string]int{}}
}

// Add records a secret of the given kind that expires ttl from now.
func (s *TokenStore) Add(kind, service, value string, ttl time.Duration) IssuedToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[value]; !ok {
		s.order = append(s.order, value)
	}
	t := &IssuedToken{Value: value, Kind: kind, Service: service, ExpiresAt: time.Now().Add(ttl)}
	s.tokens[value] = t
	return *t
}

// Lookup returns what the store knows about value.
func (s *TokenStore) Lookup(value string) (IssuedToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[value]; ok {
		return *t, true
	}
	return IssuedToken{}, false
}

// Valid reports whether value is an access token issued, unexpired and unrevoked.
func (s *TokenStore) Valid(value string) bool {
	t, ok := s.Lookup(value)
	return ok && !t.Revoked && t.Kind == KindAccessToken && time.Now().Before(t.ExpiresAt)
}

// Revoke marks an access token revoked; false if it is unknown or was already.
func (s *TokenStore) Revoke(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[value]
	if !ok || t.Revoked || t.Kind != KindAccessToken {
		return false
	}
	t.Revoked = true
	return true
}

// Tokens returns every secret recorded, in the order issued (what a leak scan looks for).
func (s *TokenStore) Tokens() []IssuedToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]IssuedToken, 0, len(s.order))
	for _, v := range s.order {
		out = append(out, *s.tokens[v])
	}
	return out
}

// Secrets returns the values of Tokens.
func (s *TokenStore) Secrets() []string {
	var out []string
	for _, t := range s.Tokens() {
		out = append(out, t.Value)
	}
	return out
}

// CountRequest records one request for a path (without query).
func (s *TokenStore) CountRequest(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[path]++
}

// Requests returns how many requests a path received.
func (s *TokenStore) Requests(path string) int { return s.AllRequests()[path] }

// AllRequests returns a copy of the request counters by path.
func (s *TokenStore) AllRequests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// Exchanges returns how many access tokens a service issued ("" for all).
func (s *TokenStore) Exchanges(service string) int {
	return s.count(func(t IssuedToken) bool { return t.Kind == KindAccessToken && (service == "" || t.Service == service) })
}

// Revocations returns how many tokens were revoked.
func (s *TokenStore) Revocations() int { return s.count(func(t IssuedToken) bool { return t.Revoked }) }

func (s *TokenStore) count(match func(IssuedToken) bool) int {
	n := 0
	for _, t := range s.Tokens() {
		if match(t) {
			n++
		}
	}
	return n
}
