package fakes

import (
	"cmp"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures a Stack; the zero value works for the job
// octo-org/octo-repo on refs/heads/main.
type Options struct {
	Dir      string        // receives ca.pem; "": a temporary directory Close removes
	Issuer   IssuerConfig  // the job the ID tokens are minted for
	TokenTTL time.Duration // lifetime of service-issued tokens; default 1 h
	// Mapping is every service's claim mapping; default the repository.
	Mapping map[string]string
}

// The crate a Stack's registries hold.
const (
	DefaultCrate        = "e2e-dep"
	DefaultCrateVersion = "1.0.0"
)

// CratesIOURLEnv makes cargo 1.95 use another registry in place of crates.io
// (a test hook release builds honour; see the package doc).
const CratesIOURLEnv = "__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS"

// SinkPathPrefix prefixes the TokenStore paths of the redirect target's requests.
const SinkPathPrefix = "sink:"

// Stack is every fake service, each on its own port. JFrog's exchange and
// registry share a host; the other indexes are roots of Registry on another.
type Stack struct {
	CA           *CA
	Store        *TokenStore
	Issuer       *Issuer
	JFrog        *JFrog
	Cloudsmith   *Cloudsmith
	CratesIO     *CratesIO
	STS          *STS
	CodeArtifact *CodeArtifact
	Registry     *Registry
	Sink         *RedirectSink
	Azure        *Azure

	RequestURL, RequestToken string // ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN
	CAFile                   string // the CA certificate (SSL_CERT_FILE, CARGO_HTTP_CAINFO)
	IssuerURL                string // the iss of the ID tokens
	// The base URLs of the services and their sparse+https:// index URLs.
	JFrogURL, CloudsmithURL, CratesIOURL, STSURL, CodeArtifactURL string
	JFrogIndex, CloudsmithIndex, CratesIOIndex, CodeArtifactIndex string

	servers []*httptest.Server
	faults  []*Faults
	tempDir string
	once    sync.Once
}

// Start starts a Stack. Call Close when done.
func Start(opts Options) (s *Stack, err error) {
	s = &Stack{Store: newTokenStore(), Sink: &RedirectSink{}}
	s.Sink.store = s.Store
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
	if s.CA, err = newCA(dir); err != nil {
		return s, err
	}
	s.CAFile = s.CA.File
	if s.Issuer, err = newIssuer("github", s.Store); err != nil {
		return s, err
	}
	issuerSrv, issuerURL := s.listen(s.Issuer.handler())
	s.IssuerURL = issuerURL
	s.Issuer.URL, s.Issuer.claims = s.IssuerURL, githubClaims(s.IssuerURL, opts.Issuer)
	s.Issuer.RequestURL = s.IssuerURL + "/_apis/token?api-version=2.0"
	s.RequestURL, s.RequestToken = s.Issuer.RequestURL, s.Issuer.RequestToken
	s.faults = []*Faults{s.Issuer.Faults}
	issuerSrv.StartTLS()

	mapping := opts.Mapping
	if mapping == nil {
		mapping = map[string]string{"repository": jobOwner + "/" + jobRepo}
	}
	v := &verifier{issuer: s.IssuerURL, client: s.CA.Client()}
	svc := func(name string, auds []string, shape func(string) any) service {
		f := newFaults(s.Store, name, shape)
		s.faults = append(s.faults, f)
		return service{name: name, v: v, auds: auds, mapping: mapping, store: s.Store,
			ttl: cmp.Or(opts.TokenTTL, defaultTokenTTL), secret: []byte(randomString(32)), Faults: f}
	}
	tokenField := func(tok string) any { return map[string]any{"token": tok} }
	ghAud := []string{s.Issuer.DefaultAudience()}
	s.JFrog = &JFrog{ProviderName: "github-oidc"}
	s.JFrog.service = svc("jfrog", ghAud, func(tok string) any { return s.JFrog.answer(tok, "octo") })
	s.Cloudsmith = &Cloudsmith{service: svc("cloudsmith", ghAud, tokenField), Namespace: jobOwner, ServiceSlug: "ci-bot"}
	s.CratesIO = &CratesIO{service: svc("crates-io", []string{"crates.io"}, tokenField), jtis: map[string]bool{}}
	s.STS = &STS{service: svc("sts", []string{stsAudience}, func(tok string) any { return map[string]any{"AccessKeyId": tok} }),
		RoleARN: DefaultAWSRole, sessions: map[string]*awsSession{}}
	s.CodeArtifact = &CodeArtifact{service: svc("codeartifact", nil, func(tok string) any {
		return map[string]any{"expiration": time.Now().Add(time.Hour).Unix(), "authorizationToken": tok}
	}), sts: s.STS, Region: DefaultAWSRegion, Domain: DefaultCADomain, Owner: DefaultAWSAccount}
	s.CodeArtifact.ttl = opts.TokenTTL // 0: what the request asks for
	s.Azure = &Azure{Entra: &Entra{Tenant: DefaultAzureTenant, ClientID: DefaultAzureClientID, creds: []FederatedCredential{{
		Issuer: s.IssuerURL, Subject: s.Issuer.claims("", time.Now())["sub"].(string), Audience: EntraAudience}}}}
	s.Azure.Entra.service = svc("azure", nil, func(tok string) any { return s.Azure.Entra.answer(tok) })

	jfrogPrefix, csPrefix := "/artifactory/api/cargo/cargo-local/index/", "/"+jobOwner+"/cargo/"
	caPrefix := "/" + DefaultCADomain + "-" + DefaultAWSAccount + "/cargo/" + DefaultCARepo + "/"
	if s.Registry, err = newRegistry(s.Store, root{prefix: jfrogPrefix, authRequired: true}, root{prefix: csPrefix, authRequired: true},
		root{prefix: "/crates-io/", raw: true}, root{prefix: caPrefix, raw: true, authRequired: true}); err != nil {
		return s, err
	}
	azure, err := newRegistry(s.Store, root{prefix: azureIndexPrefix, authRequired: true, service: "azure",
		challenge: []string{"Bearer authorization_uri=https://login.microsoftonline.com/" + DefaultAzureTenant, "TFS-Federated"}})
	if err != nil {
		return s, err
	}
	s.Azure.Registry = &AzureRegistry{azure}

	sinkURL := strings.Replace(s.serve(s.Sink), "127.0.0.1", "localhost", 1)
	for _, f := range s.faults {
		f.RedirectTo = sinkURL
	}
	jfrogMux := http.NewServeMux()
	jfrogMux.Handle("/access/", s.JFrog.handler(JFrogTokenPath, s.JFrog.serve))
	jfrogMux.Handle("/artifactory/", s.Registry)
	s.JFrogURL = s.serve(jfrogMux)
	s.CloudsmithURL = s.serve(s.Cloudsmith.handler("/openid/{ns}/{$}", s.Cloudsmith.serve))
	s.CratesIOURL = s.serve(s.CratesIO.Handler())
	s.STSURL = s.serve(s.STS.handler("/", s.STS.serve))
	s.CodeArtifactURL = s.serve(s.CodeArtifact.handler())
	s.Azure.AuthorityHost = s.serve(s.Azure.Entra.handler("/{tenant}"+entraTokenPath, s.Azure.Entra.serve))
	s.Azure.Index = "sparse+" + s.serve(s.Azure.Registry) + azureIndexPrefix
	registryURL := s.serve(s.Registry)
	s.JFrogIndex = "sparse+" + s.JFrogURL + jfrogPrefix
	s.CloudsmithIndex = "sparse+" + registryURL + csPrefix
	s.CratesIOIndex = "sparse+" + registryURL + "/crates-io/"
	s.CodeArtifactIndex = "sparse+" + registryURL + caPrefix
	return s, nil
}

// StartT starts a Stack that t.Cleanup closes; a failure to start is fatal.
func StartT(t testing.TB, opts Options) *Stack {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("start fake services: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// listen returns an unstarted TLS server for h and its base URL, known before it serves.
func (s *Stack) listen(h http.Handler) (*httptest.Server, string) {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = s.CA.ServerTLS()
	s.servers = append(s.servers, srv)
	return srv, "https://" + srv.Listener.Addr().String()
}

func (s *Stack) serve(h http.Handler) string {
	srv, u := s.listen(h)
	srv.StartTLS()
	return u
}

// Secrets is every secret the stack gave out: the store's tokens and the
// ID token request token, for a leak scan.
func (s *Stack) Secrets() []string { return append(s.Store.Secrets(), s.RequestToken) }

// Close releases hanging faults, stops the servers, removes the temp dir; idempotent.
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

// AWSEnv returns the variables that point the action at STS and CodeArtifact.
func (s *Stack) AWSEnv() map[string]string {
	return map[string]string{"AWS_ENDPOINT_URL_STS": s.STSURL, "AWS_ENDPOINT_URL_CODEARTIFACT": s.CodeArtifactURL}
}

// ActionEnv returns the "NAME=value" variables of a job with id-token: write.
func (s *Stack) ActionEnv() []string {
	return []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + s.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.RequestToken,
		"SSL_CERT_FILE=" + s.CAFile}
}

// JFrogInputs are the action inputs of a step exchanging with JFrog.
func (s *Stack) JFrogInputs() map[string]string {
	return map[string]string{"provider": "jfrog", "url": s.JFrogURL, "provider-name": s.JFrog.ProviderName, "repository": "cargo-local"}
}

// CloudsmithInputs are the action inputs of a step exchanging with Cloudsmith.
func (s *Stack) CloudsmithInputs() map[string]string {
	return map[string]string{"provider": "cloudsmith", "url": s.CloudsmithURL, "namespace": s.Cloudsmith.Namespace,
		"service-slug": s.Cloudsmith.ServiceSlug, "index-url": s.CloudsmithIndex}
}

// CratesIOInputs are the action inputs of a crates.io trusted-publishing step.
func (s *Stack) CratesIOInputs() map[string]string {
	return map[string]string{"provider": "crates-io", "url": s.CratesIOURL}
}

// CodeArtifactInputs are the action inputs of a CodeArtifact step (with AWSEnv).
func (s *Stack) CodeArtifactInputs() map[string]string {
	return map[string]string{"provider": "codeartifact", "role-to-assume": DefaultAWSRole, "aws-region": DefaultAWSRegion,
		"domain": DefaultCADomain, "domain-owner": DefaultAWSAccount, "index-url": s.CodeArtifactIndex}
}

// Faults returns a service's endpoint fault queue ("github": the ID token endpoint).
func (s *Stack) Faults(service string) (*Faults, error) {
	for _, f := range s.faults {
		if f.service == service {
			return f, nil
		}
	}
	return nil, fmt.Errorf("unknown service %s: want github, jfrog, cloudsmith, crates-io, sts, codeartifact or azure", service)
}
