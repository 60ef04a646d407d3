package fakes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   Fault
		noRedir bool
		timeout time.Duration
		check   func(t *testing.T, s *Stack, resp *http.Response, body []byte, err error)
	}{
		{"503 with Retry-After", StatusRetryAfter(503, "3600"), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			if err != nil || r.StatusCode != 503 || r.Header.Get("Retry-After") != "3600" {
				t.Fatalf("%v %v", r, err)
			}
		}},
		{"status with body", Fault{Kind: FaultStatus, Status: 403, Body: `{"errors":[{"code":"FORBIDDEN","message":"nope"}]}`, ContentType: "application/json"}, false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			if r.StatusCode != 403 || !strings.Contains(string(b), "nope") {
				t.Fatalf("%d %s", r.StatusCode, b)
			}
		}},
		{"html page", Of(FaultHTML), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			if r.StatusCode != 502 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<title>502 Bad Gateway</title>") {
				t.Fatalf("%d %s", r.StatusCode, b)
			}
		}},
		{"malformed json", Of(FaultMalformedJSON), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			if r.StatusCode != 200 || json.Valid(b) {
				t.Fatalf("%d %s", r.StatusCode, b)
			}
		}},
		{"empty token", Of(FaultEmptyToken), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			if !strings.Contains(string(b), `"access_token":""`) {
				t.Fatalf("%s", b)
			}
		}},
		{"missing token", Of(FaultMissingToken), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			var v map[string]any
			_ = json.Unmarshal(b, &v)
			if _, has := v["access_token"]; r.StatusCode != 200 || has || v["expires_in"] == nil {
				t.Fatalf("%s", b)
			}
		}},
		{"newline token", Of(FaultNewlineToken), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			var v struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(b, &v) != nil || !strings.Contains(v.AccessToken, "\n") {
				t.Fatalf("%s", b)
			}
			if it, ok := s.Store.Lookup(v.AccessToken); !ok || it.Kind != KindFaultToken || s.Store.Valid(v.AccessToken) {
				t.Fatalf("fault token not recorded as an invalid secret")
			}
		}},
		{"control token", Of(FaultControlToken), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			var v struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(b, &v) != nil || !strings.ContainsAny(v.AccessToken, "\x00\x1b\a") {
				t.Fatalf("%q", b)
			}
		}},
		{"huge body", Of(FaultHugeBody), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			if r.ContentLength != HugeBodySize || len(b) != 1<<20 {
				t.Fatalf("content-length %d, read %d", r.ContentLength, len(b))
			}
		}},
		{"redirect 307 refused by client", Of(FaultRedirect307), true, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			loc, _ := url.Parse(r.Header.Get("Location"))
			if r.StatusCode != 307 || loc == nil || loc.Hostname() != "localhost" || loc.Path != JFrogTokenPath {
				t.Fatalf("%d %q", r.StatusCode, r.Header.Get("Location"))
			}
		}},
		{"reset", Of(FaultReset), false, 0, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			if err == nil {
				t.Fatalf("no error, status %d", r.StatusCode)
			}
		}},
		{"hang until the client gives up", Of(FaultHang), false, 300 * time.Millisecond, func(t *testing.T, s *Stack, r *http.Response, b []byte, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One fault queue per endpoint: use a stack per case so cases run in parallel.
			t.Parallel()
			s := StartT(t, Options{})
			s.JFrog.Faults.Push(tt.fault)
			c := s.CA.Client()
			if tt.noRedir {
				c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			}
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			b, _ := json.Marshal(jfrogBody(s, "x.y.z"))
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.JFrogURL+JFrogTokenPath, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			var body []byte
			if err == nil {
				body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
			}
			tt.check(t, s, resp, body, err)
			if s.JFrog.Faults.Pending() != 0 || s.JFrog.Faults.Served() != 1 || s.Store.Requests(JFrogTokenPath) != 1 {
				t.Errorf("pending %d served %d requests %d", s.JFrog.Faults.Pending(), s.JFrog.Faults.Served(), s.Store.Requests(JFrogTokenPath))
			}
			// The queue is consumed: the next request reaches the real handler.
			if st, _ := call(t, s, http.MethodPost, s.JFrogURL+JFrogTokenPath, "", jfrogBody(s, idToken(t, s, ""))); st != 200 {
				t.Errorf("after the fault: %d", st)
			}
		})
	}
}

// TestRedirectFollowedSendsBody shows what the action must prevent: a
// client that follows a 307 re-sends the body (the ID token) to the other
// host, and the sink records it.
func TestRedirectFollowedSendsBody(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	for _, k := range []FaultKind{FaultRedirect307, FaultRedirect308} {
		s.CratesIO.Faults.Push(Of(k))
		jwt, _ := s.Issuer.Mint("crates.io", nil)
		st, b := call(t, s, http.MethodPost, s.CratesIOURL+CratesIOTokenPath, "", map[string]string{"jwt": jwt})
		if st != 200 || string(b) != "{}" {
			t.Fatalf("%v: followed redirect answered %d %s", k, st, b)
		}
		if !s.Sink.Received(jwt) {
			t.Fatalf("%v: sink did not record the body", k)
		}
	}
	if s.Store.Requests(CratesIOTokenPath) != 2 || s.Store.Requests(SinkPathPrefix+CratesIOTokenPath) != 2 {
		t.Fatalf("counts: %v", s.Store.AllRequests())
	}
	if !s.Sink.ReceivedBody() || len(s.Sink.Requests()) != 2 {
		t.Fatalf("sink requests %d", len(s.Sink.Requests()))
	}
}

func TestIssuerFaultsAndCounting(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	s.Issuer.Faults.Push(Status(500), Status(503))
	for _, want := range []int{500, 503, 200} {
		if st, _ := call(t, s, http.MethodGet, s.RequestURL, "Bearer "+s.RequestToken, nil); st != want {
			t.Fatalf("status %d, want %d", st, want)
		}
	}
	if n := s.Issuer.Faults.Requests(); n != 3 {
		t.Fatalf("requests %d", n)
	}
	// A hang is released by Close even when the client waits forever.
	s.Issuer.Faults.Push(Of(FaultHang))
	before := s.Store.Requests("/_apis/token")
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.RequestURL, nil)
		req.Header.Set("Authorization", "Bearer "+s.RequestToken)
		c := s.CA.Client()
		c.Timeout = 0
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	if err := s.Store.WaitRequests(t.Context(), "/_apis/token", before+1); err != nil {
		t.Fatalf("the request never reached the issuer: %v", err)
	}
	s.Close()
	// The fault waits up to HangLimit (60 s by default) unless Close
	// releases it.
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("hung request not released by Close")
	}
}

func TestHangLimit(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	s.Cloudsmith.Faults.HangLimit = 200 * time.Millisecond
	s.Cloudsmith.Faults.Push(Of(FaultHang))
	start := time.Now()
	st, _ := call(t, s, http.MethodPost, s.CloudsmithURL+"/openid/octo-org/", "", map[string]string{})
	if st != 200 || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("hang limit: status %d after %v", st, time.Since(start))
	}
}

// TestSuccessPathRequestCount: the JFrog flow is exactly two HTTP requests
// from the client's side; key fetches are the service's own.
func TestSuccessPathRequestCount(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	jfrogToken(t, s)
	jfrogToken(t, s)
	if a, b := s.Store.Requests("/_apis/token"), s.Store.Requests(JFrogTokenPath); a != 2 || b != 2 {
		t.Fatalf("token endpoint %d, exchange %d", a, b)
	}
	if n := s.JFrog.Verifier().KeyFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1 (cached)", n)
	}
	if s.Store.Exchanges("") != 2 || len(s.Store.Secrets()) != 4 {
		t.Fatalf("exchanges %d secrets %d", s.Store.Exchanges(""), len(s.Store.Secrets()))
	}
}

func TestUntrustedServer(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	srv := StartUntrustedServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := s.CA.Client().Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err %v, want a certificate error", err)
	}
}
