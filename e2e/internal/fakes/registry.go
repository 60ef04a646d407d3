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
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Scheme is the Authorization form a registry root expects.
type Scheme int

// Authorization schemes.
const (
	// SchemeAny accepts "Bearer <token>" and a raw "<token>".
	SchemeAny Scheme = iota
	// SchemeBearer accepts only "Bearer <token>" (JFrog, Cloudsmith).
	SchemeBearer
	// SchemeRaw accepts only the raw "<token>" (crates.io).
	SchemeRaw
)

// Root is one sparse index served by a Registry, under a path prefix.
type Root struct {
	// Prefix is the index path, starting and ending with "/", e.g.
	// "/artifactory/api/cargo/cargo-local/index/".
	Prefix string
	// Scheme is the Authorization form expected.
	Scheme Scheme
	// AuthRequired makes config.json say "auth-required": true and
	// requires a valid token for config.json, index files and downloads.
	// Publishing always requires a valid token.
	AuthRequired bool
	// Service, when set, takes only an access token that service issued
	// (Azure DevOps takes only an Entra token).
	Service string
	// Challenge are the WWW-Authenticate values of a 401.
	Challenge []string
}

// IndexEntry is one line of a sparse index file.
type IndexEntry struct {
	Name     string              `json:"name"`
	Vers     string              `json:"vers"`
	Deps     []IndexDep          `json:"deps"`
	Cksum    string              `json:"cksum"`
	Features map[string][]string `json:"features"`
	Yanked   bool                `json:"yanked"`
	V        int                 `json:"v"`
}

// IndexDep is a dependency in an IndexEntry.
type IndexDep struct {
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
// or more Roots. It serves index files and .crate downloads only to a token
// the TokenStore calls valid (when the root requires auth), and accepts
// cargo publish (PUT <prefix>api/v1/crates/new). Safe for concurrent use.
type Registry struct {
	store *TokenStore

	mu        sync.Mutex
	roots     []Root
	entries   map[string][]IndexEntry // lower-case name -> versions
	files     map[string][]byte       // name-version -> .crate
	delay     time.Duration
	requests  []RegistryRequest
	published []string
}

// NewRegistry returns an empty registry that asks store about tokens.
func NewRegistry(store *TokenStore) *Registry {
	return &Registry{store: store, entries: map[string][]IndexEntry{}, files: map[string][]byte{}}
}

// AddRoot serves the registry under another index prefix.
func (g *Registry) AddRoot(r Root) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roots = append(g.roots, r)
	sort.Slice(g.roots, func(i, j int) bool { return len(g.roots[i].Prefix) > len(g.roots[j].Prefix) })
}

// SetDelay makes every request wait d before it is answered (a slow registry).
func (g *Registry) SetDelay(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.delay = d
}

// AddCrate builds a real library crate and adds it to the index.
func (g *Registry) AddCrate(name, version string, deps ...Dep) error {
	data, err := BuildCrate(name, version, deps, nil)
	if err != nil {
		return err
	}
	e := IndexEntry{Name: name, Vers: version, Features: map[string][]string{}, V: 1, Deps: []IndexDep{}}
	for _, d := range deps {
		e.Deps = append(e.Deps, IndexDep{Name: d.Name, Req: d.Req, Features: []string{}, DefaultFeatures: true, Kind: "normal"})
	}
	return g.add(e, data)
}

func (g *Registry) add(e IndexEntry, data []byte) error {
	sum := sha256.Sum256(data)
	e.Cksum = hex.EncodeToString(sum[:])
	key := strings.ToLower(e.Name)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, old := range g.entries[key] {
		if old.Vers == e.Vers {
			return fmt.Errorf("crate version `%s@%s` is already uploaded", e.Name, e.Vers)
		}
	}
	g.entries[key] = append(g.entries[key], e)
	g.files[key+"-"+e.Vers] = data
	return nil
}

// Crate returns the .crate bytes of name@version.
func (g *Registry) Crate(name, version string) ([]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.files[strings.ToLower(name)+"-"+version]
	return b, ok
}

// Entries returns the index entries of name.
func (g *Registry) Entries(name string) []IndexEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]IndexEntry(nil), g.entries[strings.ToLower(name)]...)
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

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Handler serves every Root.
func (g *Registry) Handler() http.Handler {
	// Counted in serve, once the token is checked: a test that waits for
	// the count (Store.WaitRequests) then moves the clock must not race
	// the check.
	return http.HandlerFunc(g.serve)
}

func (g *Registry) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	delay := g.delay
	var root *Root
	for i := range g.roots {
		if strings.HasPrefix(r.URL.Path, g.roots[i].Prefix) {
			rt := g.roots[i]
			root = &rt
			break
		}
	}
	g.mu.Unlock()
	// The token is checked when the request arrives, as a registry does
	// before it starts work; a slow answer does not expire it.
	var token, why string
	var ok bool
	if root != nil {
		token, ok, why = g.authorize(r, *root)
	}
	if g.store != nil {
		g.store.CountRequest(r.URL.Path)
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		g.mu.Lock()
		g.requests = append(g.requests, RegistryRequest{Method: r.Method, Path: r.URL.Path, Status: rec.status, Token: token})
		g.mu.Unlock()
	}()
	if root == nil {
		registryError(rec, http.StatusNotFound, "no registry here")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, root.Prefix)
	if rest == "api/v1/crates/new" {
		if r.Method != http.MethodPut {
			registryError(rec, http.StatusMethodNotAllowed, "publish needs PUT")
			return
		}
		if !ok {
			registryError(rec, http.StatusForbidden, "publish refused: "+why)
			return
		}
		g.publish(rec, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		registryError(rec, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if root.AuthRequired && !ok {
		for _, c := range root.Challenge {
			rec.Header().Add("WWW-Authenticate", c)
		}
		registryError(rec, http.StatusUnauthorized, why)
		return
	}
	switch {
	case rest == "config.json":
		base := "https://" + r.Host + root.Prefix
		cfg := map[string]any{"dl": base + "dl", "api": strings.TrimSuffix(base, "/")}
		if root.AuthRequired {
			cfg["auth-required"] = true
		}
		writeJSON(rec, http.StatusOK, cfg)
	case strings.HasPrefix(rest, "dl/"):
		parts := strings.Split(strings.TrimPrefix(rest, "dl/"), "/")
		if len(parts) != 3 || parts[2] != "download" {
			registryError(rec, http.StatusNotFound, "not found")
			return
		}
		data, found := g.Crate(parts[0], parts[1])
		if !found {
			registryError(rec, http.StatusNotFound, fmt.Sprintf("crate %s@%s not found", parts[0], parts[1]))
			return
		}
		rec.Header().Set("Content-Type", "application/gzip")
		rec.WriteHeader(http.StatusOK)
		_, _ = rec.Write(data)
	default:
		name := rest[strings.LastIndex(rest, "/")+1:]
		entries := g.Entries(name)
		if name == "" || IndexPath(name) != rest || len(entries) == 0 {
			registryError(rec, http.StatusNotFound, "not found")
			return
		}
		var buf bytes.Buffer
		for _, e := range entries {
			b, _ := json.Marshal(e)
			buf.Write(b)
			buf.WriteByte('\n')
		}
		rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rec.WriteHeader(http.StatusOK)
		_, _ = rec.Write(buf.Bytes())
	}
}

// authorize extracts the token in the root's scheme and checks it.
func (g *Registry) authorize(r *http.Request, root Root) (token string, ok bool, why string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, "this registry requires authentication: no Authorization header was sent"
	}
	bearer, isBearer := strings.CutPrefix(h, "Bearer ")
	switch root.Scheme {
	case SchemeBearer:
		if !isBearer {
			return h, false, "the Authorization header must be `Bearer <token>`"
		}
		token = bearer
	case SchemeRaw:
		if isBearer {
			return bearer, false, "the Authorization header must hold the raw token, without `Bearer `"
		}
		token = h
	default:
		token = h
		if isBearer {
			token = bearer
		}
	}
	if g.store == nil || !g.store.Valid(token) {
		return token, false, "the token is invalid, expired or revoked"
	}
	if it, _ := g.store.Lookup(token); root.Service != "" && (it.Service != root.Service || it.Kind != KindAccessToken) {
		return token, false, "the token was not issued by " + root.Service
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
	// Deps are an index entry's, but for the requirement's key and the
	// name in Cargo.toml (the index names the package instead).
	Deps []struct {
		IndexDep
		VersionReq         string  `json:"version_req"`
		ExplicitNameInToml *string `json:"explicit_name_in_toml"`
	} `json:"deps"`
}

// ParsePublish splits cargo publish's body: u32 LE JSON length, JSON
// metadata, u32 LE crate length, crate bytes.
func ParsePublish(body []byte) (meta []byte, crate []byte, err error) {
	next := func() ([]byte, error) {
		if len(body) < 4 {
			return nil, errors.New("truncated length")
		}
		n := binary.LittleEndian.Uint32(body)
		body = body[4:]
		if uint64(n) > uint64(len(body)) {
			return nil, errors.New("length exceeds body")
		}
		part := body[:n]
		body = body[n:]
		return part, nil
	}
	if meta, err = next(); err != nil {
		return nil, nil, fmt.Errorf("metadata: %w", err)
	}
	if crate, err = next(); err != nil {
		return nil, nil, fmt.Errorf("crate: %w", err)
	}
	if len(body) != 0 {
		return nil, nil, errors.New("trailing bytes after the crate")
	}
	return meta, crate, nil
}

func (g *Registry) publish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		registryError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	metaJSON, crate, err := ParsePublish(body)
	if err != nil {
		registryError(w, http.StatusBadRequest, "invalid upload: "+err.Error())
		return
	}
	var meta publishMeta
	if err := json.Unmarshal(metaJSON, &meta); err != nil || meta.Name == "" || meta.Vers == "" {
		registryError(w, http.StatusBadRequest, "invalid upload metadata")
		return
	}
	e := IndexEntry{Name: meta.Name, Vers: meta.Vers, Features: meta.Features, V: 1, Deps: []IndexDep{}}
	if e.Features == nil {
		e.Features = map[string][]string{}
	}
	for _, d := range meta.Deps {
		dep := d.IndexDep
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

// BuildCrate returns a .crate file (a gzipped tarball) for a library crate
// with <name>-<version>/Cargo.toml and <name>-<version>/src/lib.rs, plus
// extra files (relative path -> content). The output is deterministic.
func BuildCrate(name, version string, deps []Dep, extra map[string]string) ([]byte, error) {
	var manifest strings.Builder
	fmt.Fprintf(&manifest, "[package]\nedition = \"2021\"\nname = %q\nversion = %q\ndescription = \"A crate served by the cargo-oidc e2e fake registry\"\nlicense = \"MIT\"\n\n[lib]\npath = \"src/lib.rs\"\n", name, version)
	if len(deps) > 0 {
		manifest.WriteString("\n[dependencies]\n")
		for _, d := range deps {
			fmt.Fprintf(&manifest, "%s = %q\n", d.Name, d.Req)
		}
	}
	files := map[string]string{
		"Cargo.toml": manifest.String(),
		"src/lib.rs": fmt.Sprintf("//! %s %s, served by the cargo-oidc e2e fake registry.\n\n/// Returns the crate's name and version.\npub fn hello() -> &'static str {\n    %q\n}\n", name, version, name+" "+version),
	}
	for k, v := range extra {
		files[k] = v
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range paths {
		body := files[p]
		hdr := &tar.Header{Name: name + "-" + version + "/" + p, Mode: 0o644, Size: int64(len(body)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
	}
	return buf.Bytes(), nil
}

// IndexPath returns the sparse index path of a crate name: 1/{n}, 2/{n},
// 3/{c}/{n} or {ab}/{cd}/{name}, lower-cased.
func IndexPath(name string) string {
	n := strings.ToLower(name)
	switch len(n) {
	case 0:
		return ""
	case 1:
		return "1/" + n
	case 2:
		return "2/" + n
	case 3:
		return "3/" + n[:1] + "/" + n
	default:
		return n[:2] + "/" + n[2:4] + "/" + n
	}
}
