package fakes

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures a Stack. The zero value is a working setup for the job
// octo-org/octo-repo on refs/heads/main.
type Options struct {
	// Dir receives ca.pem; "" means a new temporary directory that Close removes.
	Dir string
	// Issuer describes the job the ID tokens are minted for.
	Issuer IssuerConfig
	// TokenTTL is the lifetime of service-issued tokens; default 1 h.
	TokenTTL time.Duration
	// JFrogProvider is the JFrog OIDC integration name; default "github-oidc".
	JFrogProvider string
	// JFrogRepo is the Artifactory Cargo repository; default "cargo-local".
	JFrogRepo string
	// CloudsmithNamespace is the workspace (index owner); default "octo-org".
	CloudsmithNamespace string
	// CloudsmithRepo is the Cloudsmith repository; default "cargo".
	CloudsmithRepo string
	// CloudsmithServiceSlug is the service account; default "ci-bot".
	CloudsmithServiceSlug string
	// Mapping is every service's claim mapping; default
	// {"repository": "<owner>/<repo>"}.
	Mapping map[string]string
	// JFrogAudiences and CloudsmithAudiences default to GitHub's default
	// audience (https://github.com/<owner>); CratesIOAudiences to "crates.io".
	JFrogAudiences, CloudsmithAudiences, CratesIOAudiences []string
	// STSAudiences are the audiences of the account's IAM OIDC provider;
	// default sts.amazonaws.com.
	STSAudiences []string
	// Crates are added to the registry at start; default a single
	// "e2e-dep" 1.0.0 (see DefaultCrate).
	Crates []Dep
	// Azure configures Entra and the Azure Artifacts feed.
	Azure AzureOptions
}

// DefaultCrate is the crate a default Stack's registry holds, version
// DefaultCrateVersion.
const (
	DefaultCrate        = "e2e-dep"
	DefaultCrateVersion = "1.0.0"
)

// Stack is every fake service started together: a CA, the GitHub issuer,
// JFrog (exchange and Artifactory registry on one host), Cloudsmith,
// crates.io, a sparse registry for Cloudsmith and crates.io, and a redirect
// target. All listen on 127.0.0.1 with TLS from CA.
type Stack struct {
	CA         *CA
	Clock      *Clock
	Store      *TokenStore
	Issuer     *Issuer
	JFrog      *JFrog
	Cloudsmith *Cloudsmith
	CratesIO   *CratesIO
	// STS and CodeArtifact play AWS (role DefaultAWSRole, domain
	// DefaultCADomain of DefaultAWSAccount in DefaultAWSRegion).
	STS          *STS
	CodeArtifact *CodeArtifact
	Registry     *Registry
	Sink         *RedirectSink
	// Azure is Entra (token endpoint) and an Azure Artifacts feed.
	Azure *Azure

	// RequestURL and RequestToken are ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN.
	RequestURL, RequestToken string
	// CAFile is the CA certificate file (SSL_CERT_FILE, CARGO_HTTP_CAINFO).
	CAFile string
	// IssuerURL is the iss of the ID tokens.
	IssuerURL string
	// JFrogURL is the JFrog Platform base URL (the action's url input): it
	// serves /access/api/v1/oidc/token and /artifactory/api/cargo/<repo>/index/.
	JFrogURL string
	// CloudsmithURL is the Cloudsmith API base URL (POST /openid/<ns>/).
	CloudsmithURL string
	// CratesIOURL is the crates.io API base URL (trusted publishing).
	CratesIOURL string
	// RegistryURL is the base URL of the registry serving the Cloudsmith
	// and crates.io indexes.
	RegistryURL string
	// RedirectURL is the base URL (host "localhost") redirect faults point at.
	RedirectURL string
	// JFrogIndex is sparse+<JFrogURL>/artifactory/api/cargo/<repo>/index/
	// (Bearer tokens), what the action computes from its url input.
	JFrogIndex string
	// CloudsmithIndex is sparse+<RegistryURL>/<namespace>/<repo>/ (Bearer
	// tokens); pass it to the action as index-url.
	CloudsmithIndex string
	// CratesIOIndex is sparse+<RegistryURL>/crates-io/ (raw tokens,
	// public index, publish needs a token): the value for CratesIOURLEnv.
	CratesIOIndex string
	// STSURL and CodeArtifactURL are the AWS endpoints (AWSEnv points the
	// action at them).
	STSURL, CodeArtifactURL string
	// CodeArtifactIndex is the registry's CodeArtifact root (raw tokens),
	// like sparse+https://<domain>-<owner>.d.codeartifact.<region>.amazonaws.com/cargo/<repo>/;
	// pass it to the action as index-url.
	CodeArtifactIndex string

	servers []*httptest.Server
	faults  []*Faults
	tempDir string
	once    sync.Once
}

// CratesIOURLEnv is the variable that makes cargo 1.95 use another registry
// in place of crates.io, for fetch and for publish with CARGO_REGISTRY_TOKEN
// (a test hook of cargo that release builds honour; see the package doc).
const CratesIOURLEnv = "__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS"

// SinkPathPrefix prefixes the paths the redirect target's requests are
// counted under in the TokenStore, e.g. "sink:/access/api/v1/oidc/token".
const SinkPathPrefix = "sink:"

// Start starts a Stack. Call Close when done.
func Start(opts Options) (s *Stack, err error) {
	s = &Stack{Clock: &Clock{}}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "cargo-oidc-fakes-"); err != nil {
			return s, fmt.Errorf("create temp dir: %w", err)
		}
		s.tempDir = dir
	}
	if s.CA, err = NewCA(dir); err != nil {
		return s, err
	}
	s.CAFile = s.CA.File
	now := s.Clock.Now
	s.Store = NewTokenStore(now)
	opts.Issuer.Now = now
	if s.Issuer, err = NewIssuer(opts.Issuer, s.Store); err != nil {
		return s, err
	}
	ic := s.Issuer.Config()
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&opts.JFrogProvider, "github-oidc")
	def(&opts.JFrogRepo, "cargo-local")
	def(&opts.CloudsmithNamespace, ic.Owner)
	def(&opts.CloudsmithRepo, "cargo")
	def(&opts.CloudsmithServiceSlug, "ci-bot")
	if opts.Mapping == nil {
		opts.Mapping = map[string]string{"repository": s.Issuer.Repository()}
	}
	if opts.JFrogAudiences == nil {
		opts.JFrogAudiences = []string{s.Issuer.DefaultAudience()}
	}
	if opts.CloudsmithAudiences == nil {
		opts.CloudsmithAudiences = []string{s.Issuer.DefaultAudience()}
	}
	if opts.STSAudiences == nil {
		opts.STSAudiences = []string{STSDefaultAudience}
	}
	if opts.CratesIOAudiences == nil {
		opts.CratesIOAudiences = []string{"crates.io"}
	}
	if opts.Crates == nil {
		opts.Crates = []Dep{{Name: DefaultCrate, Req: DefaultCrateVersion}}
	}

	issuerSrv := s.newServer()
	s.IssuerURL = serverURL(issuerSrv, "127.0.0.1")
	s.Issuer.SetURL(s.IssuerURL)
	s.RequestURL, s.RequestToken = s.Issuer.RequestURL, s.Issuer.RequestToken

	client := s.CA.Client()
	verifier := func(auds []string) *Verifier {
		v := &Verifier{Issuer: s.IssuerURL, Client: client, Now: now}
		v.SetAudiences(auds...)
		v.SetMapping(opts.Mapping)
		return v
	}
	svc := func(auds []string) ServiceConfig {
		return ServiceConfig{Verifier: verifier(auds), Store: s.Store, TTL: opts.TokenTTL, Now: now}
	}
	s.JFrog = NewJFrog(svc(opts.JFrogAudiences), opts.JFrogProvider)
	s.Cloudsmith = NewCloudsmith(svc(opts.CloudsmithAudiences), opts.CloudsmithNamespace, opts.CloudsmithServiceSlug)
	s.CratesIO = NewCratesIO(svc(opts.CratesIOAudiences))
	s.STS = NewSTS(svc(opts.STSAudiences), DefaultAWSRole)
	s.CodeArtifact = NewCodeArtifact(svc(nil), s.STS, DefaultAWSRegion, DefaultCADomain, DefaultAWSAccount)
	s.Registry = NewRegistry(s.Store)
	for _, c := range opts.Crates {
		if err := s.Registry.AddCrate(c.Name, c.Req); err != nil {
			return s, err
		}
	}
	jfrogPrefix := "/artifactory/api/cargo/" + opts.JFrogRepo + "/index/"
	csPrefix := "/" + opts.CloudsmithNamespace + "/" + opts.CloudsmithRepo + "/"
	s.Registry.AddRoot(Root{Prefix: jfrogPrefix, Scheme: SchemeBearer, AuthRequired: true})
	s.Registry.AddRoot(Root{Prefix: csPrefix, Scheme: SchemeBearer, AuthRequired: true})
	s.Registry.AddRoot(Root{Prefix: "/crates-io/", Scheme: SchemeRaw})
	caPrefix := "/" + DefaultCADomain + "-" + DefaultAWSAccount + "/cargo/" + DefaultCARepo + "/"
	s.Registry.AddRoot(Root{Prefix: caPrefix, Scheme: SchemeRaw, AuthRequired: true})

	jfrogSrv, csSrv, cratesSrv, regSrv, sinkSrv := s.newServer(), s.newServer(), s.newServer(), s.newServer(), s.newServer()
	s.JFrogURL = serverURL(jfrogSrv, "127.0.0.1")
	s.CloudsmithURL = serverURL(csSrv, "127.0.0.1")
	s.CratesIOURL = serverURL(cratesSrv, "127.0.0.1")
	s.RegistryURL = serverURL(regSrv, "127.0.0.1")
	s.RedirectURL = serverURL(sinkSrv, "localhost")
	s.JFrogIndex = "sparse+" + s.JFrogURL + jfrogPrefix
	s.CloudsmithIndex = "sparse+" + s.RegistryURL + csPrefix
	s.CratesIOIndex = "sparse+" + s.RegistryURL + "/crates-io/"
	stsSrv, caSrv := s.newServer(), s.newServer()
	s.STSURL, s.CodeArtifactURL = serverURL(stsSrv, "127.0.0.1"), serverURL(caSrv, "127.0.0.1")
	s.CodeArtifactIndex = "sparse+" + s.RegistryURL + caPrefix

	s.faults = []*Faults{s.Issuer.Faults, s.JFrog.Faults, s.Cloudsmith.Faults, s.CratesIO.Faults, s.STS.Faults, s.CodeArtifact.Faults}
	for _, f := range s.faults {
		f.RedirectTo = s.RedirectURL
	}
	s.Sink = &RedirectSink{}
	jfrogMux := http.NewServeMux()
	jfrogMux.Handle("/access/", s.JFrog.Handler())
	jfrogMux.Handle("/artifactory/", s.Registry.Handler())

	s.run(issuerSrv, s.Issuer.Handler())
	s.run(jfrogSrv, jfrogMux)
	s.run(csSrv, s.Cloudsmith.Handler())
	s.run(cratesSrv, s.CratesIO.Handler())
	s.run(regSrv, s.Registry.Handler())
	s.run(stsSrv, s.STS.Handler())
	s.run(caSrv, s.CodeArtifact.Handler())
	s.run(sinkSrv, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Store.CountRequest(SinkPathPrefix + r.URL.Path) // kept apart from the real endpoints' counts
		s.Sink.ServeHTTP(w, r)
	}))
	if err := s.startAzure(opts); err != nil {
		return s, err
	}
	return s, nil
}

// StartT starts a Stack for a test or benchmark and closes it in t.Cleanup;
// a failure to start is fatal.
func StartT(t testing.TB, opts Options) *Stack {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("start fake services: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// newServer creates an unstarted server whose listener (127.0.0.1:0) is
// already bound, so its URL is known before it serves.
func (s *Stack) newServer() *httptest.Server {
	srv := httptest.NewUnstartedServer(nil)
	s.servers = append(s.servers, srv)
	return srv
}

func (s *Stack) run(srv *httptest.Server, h http.Handler) {
	srv.Config.Handler = h
	srv.TLS = s.CA.ServerTLS()
	srv.StartTLS()
}

func serverURL(srv *httptest.Server, host string) string {
	addr := srv.Listener.Addr().String()
	_, port, _ := strings.Cut(addr, ":")
	return "https://" + host + ":" + port
}

// Close releases hanging fault handlers, stops every server and removes the
// temporary directory. It may be called more than once.
func (s *Stack) Close() {
	s.once.Do(func() {
		for _, f := range s.faults {
			f.Close()
		}
		for _, srv := range s.servers {
			srv.CloseClientConnections()
			if srv.URL == "" { // never started
				_ = srv.Listener.Close()
				continue
			}
			srv.Close()
		}
		if s.tempDir != "" {
			_ = os.RemoveAll(s.tempDir)
		}
	})
}

// SetMapping sets the claim mapping of all three services.
func (s *Stack) SetMapping(m map[string]string) {
	s.JFrog.Verifier().SetMapping(m)
	s.Cloudsmith.Verifier().SetMapping(m)
	s.CratesIO.Verifier().SetMapping(m)
	s.STS.Verifier().SetMapping(m)
}

// AWSEnv returns the variables that point the action at the stack's STS and
// CodeArtifact, as the AWS SDKs read them.
func (s *Stack) AWSEnv() map[string]string {
	return map[string]string{"AWS_ENDPOINT_URL_STS": s.STSURL, "AWS_ENDPOINT_URL_CODEARTIFACT": s.CodeArtifactURL}
}

// ActionEnv returns the variables a runner gives a job with
// permissions: id-token: write, plus SSL_CERT_FILE, as "NAME=value".
func (s *Stack) ActionEnv() []string {
	return []string{
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + s.RequestURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.RequestToken,
		"SSL_CERT_FILE=" + s.CAFile,
	}
}

// JFrogInputs are the action inputs of a step exchanging with the stack's
// JFrog.
func (s *Stack) JFrogInputs() map[string]string {
	_, rest, _ := strings.Cut(s.JFrogIndex, "/api/cargo/")
	repo, _, _ := strings.Cut(rest, "/")
	return map[string]string{"provider": "jfrog", "url": s.JFrogURL, "provider-name": s.JFrog.ProviderName,
		"repository": repo}
}

// CloudsmithInputs are the action inputs of a step exchanging with the
// stack's Cloudsmith; the index is given since the default is
// cargo.cloudsmith.io.
func (s *Stack) CloudsmithInputs() map[string]string {
	return map[string]string{"provider": "cloudsmith", "url": s.CloudsmithURL, "namespace": s.Cloudsmith.Namespace,
		"service-slug": s.Cloudsmith.ServiceSlug, "index-url": s.CloudsmithIndex}
}

// CratesIOInputs are the action inputs of a crates.io trusted-publishing
// step.
func (s *Stack) CratesIOInputs() map[string]string {
	return map[string]string{"provider": "crates-io", "url": s.CratesIOURL}
}

// CodeArtifactInputs are the action inputs of a step exchanging with the
// stack's STS and CodeArtifact; the index is given since the real one is on
// amazonaws.com. The step also needs AWSEnv in its environment.
func (s *Stack) CodeArtifactInputs() map[string]string {
	return map[string]string{"provider": "codeartifact", "role-to-assume": DefaultAWSRole, "aws-region": DefaultAWSRegion,
		"domain": DefaultCADomain, "domain-owner": DefaultAWSAccount, "index-url": s.CodeArtifactIndex}
}

// Faults returns the fault queue of an endpoint: "github" (the ID token
// endpoint), "jfrog", "cloudsmith" or "crates-io".
func (s *Stack) Faults(service string) (*Faults, error) {
	f, ok := map[string]*Faults{"github": s.Issuer.Faults, "jfrog": s.JFrog.Faults, "cloudsmith": s.Cloudsmith.Faults,
		"crates-io": s.CratesIO.Faults, "sts": s.STS.Faults, "codeartifact": s.CodeArtifact.Faults,
		"azure": s.Azure.Entra.Faults, "entra": s.Azure.Entra.Faults}[service]
	if !ok {
		return nil, fmt.Errorf("unknown service %s: want github, jfrog, cloudsmith, crates-io, sts, codeartifact or azure", service)
	}
	return f, nil
}
