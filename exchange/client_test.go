package exchange

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// get performs a GET through the client's send path.
func get(ctx context.Context, c *Client, url string) (*answer, error) {
	return c.send(ctx, &call{method: http.MethodGet, url: url})
}

func TestRetries(t *testing.T) {
	type test struct {
		statuses  []int // answered in turn; the last repeats
		header    map[string]string
		retries   int
		waitMax   time.Duration
		wantCount int
		wantErr   string        // "" = success
		minTime   time.Duration // a lower bound: a loaded machine only makes it longer
	}
	testenv.Run(t, map[string]test{
		"503 then 200":                     {statuses: []int{503, 200}, retries: 3, wantCount: 2},
		"500 502 then 200":                 {statuses: []int{500, 502, 200}, retries: 3, wantCount: 3},
		"429 then 200":                     {statuses: []int{429, 200}, retries: 3, wantCount: 2},
		"429 retry-after 1 honoured":       {statuses: []int{429, 200}, header: map[string]string{"Retry-After": "1"}, retries: 3, waitMax: 3 * time.Second, wantCount: 2, minTime: 900 * time.Millisecond},
		"429 retry-after 3600 capped":      {statuses: []int{429, 200}, header: map[string]string{"Retry-After": "3600"}, retries: 3, waitMax: 20 * time.Millisecond, wantCount: 2},
		"503 retry-after http date capped": {statuses: []int{503, 200}, header: map[string]string{"Retry-After": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, retries: 3, waitMax: 20 * time.Millisecond, wantCount: 2},
		"every attempt 503":                {statuses: []int{503}, retries: 2, wantCount: 3, wantErr: "503 Service Unavailable (after 3 attempts)"},
		"501 not retried":                  {statuses: []int{501}, retries: 3, wantCount: 1},
		"no retries configured":            {statuses: []int{503}, retries: 0, wantCount: 1, wantErr: "503 Service Unavailable"},
	}, func(t *testing.T, _ string, tc test) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			st := tc.statuses[min(n, len(tc.statuses))-1]
			if st != 200 {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
			}
			writeJSON(w, st, `{"message":"status `+http.StatusText(st)+`"}`)
		})
		waitMax := tc.waitMax
		if waitMax == 0 {
			waitMax = 5 * time.Millisecond
		}
		c := NewClient(HTTPConfig{Retries: tc.retries, WaitMin: time.Millisecond, WaitMax: waitMax})
		// An uncapped Retry-After of an hour would end in this
		// deadline's error; that the cap is WaitMax is
		// TestBackoffWait's to prove.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		a, err := get(ctx, c, f.URL+"/x?secret=q")
		elapsed := time.Since(start)
		if got := f.count(); got != tc.wantCount {
			t.Fatalf("requests = %d, want %d", got, tc.wantCount)
		}
		if tc.wantErr != "" {
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want *HTTPError", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), f.URL+"/x") {
				t.Fatalf("err = %q, want it to contain %q and the endpoint", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret=q") || strings.Contains(err.Error(), "giving up") {
				t.Fatalf("err = %q shows the query or the library's message", err)
			}
		} else if err != nil {
			t.Fatalf("err = %v", err)
		} else if a.status != tc.statuses[len(tc.statuses)-1] {
			t.Fatalf("status = %d", a.status)
		}
		if tc.minTime > 0 && elapsed < tc.minTime {
			t.Fatalf("took %s, want at least %s (Retry-After honoured)", elapsed, tc.minTime)
		}
	})
}

func TestDefaultsOne503Fast(t *testing.T) {
	t.Parallel()
	f := newFailOnceFake(t, 503, `{}`)
	c := NewClient(HTTPConfig{Retries: 3})
	if _, err := get(context.Background(), c, f.URL); err != nil {
		t.Fatal(err)
	}
	if f.count() != 2 {
		t.Fatalf("requests = %d, want 2", f.count())
	}
	if c.cfg.WaitMin != DefaultWaitMin || c.cfg.WaitMax != DefaultWaitMax || c.cfg.MaxBody != DefaultMaxBody {
		t.Fatalf("NewClient left %+v, want the default waits and body limit", c.cfg)
	}
	// The longest first wait the defaults allow after a 503.
	if w := backoffWait(c.cfg.WaitMin, c.cfg.WaitMax, 0, &http.Response{StatusCode: 503}, time.Now(), 1); w > 500*time.Millisecond {
		t.Fatalf("first wait with defaults up to %s, want at most 500ms", w)
	}
}

func TestFailFast(t *testing.T) {
	t.Parallel()
	for _, st := range []int{400, 401, 403, 404, 409, 422} {
		t.Run(http.StatusText(st), func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, st, `{}`) })
			c := NewClient(HTTPConfig{Retries: 5})
			a, err := get(context.Background(), c, f.URL)
			if err != nil {
				t.Fatal(err)
			}
			if a.status != st || f.count() != 1 {
				t.Fatalf("status %d, requests %d; want %d, 1", a.status, f.count(), st)
			}
		})
	}
}

func TestRedirectRefused(t *testing.T) {
	t.Parallel()
	for _, st := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(st), func(t *testing.T) {
			t.Parallel()
			target := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `{"access_token":"stolen"}`) })
			origin := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				http.Redirect(w, r, target.URL+"/steal?x=1", st)
			})
			c := testClient(3)
			// Through the services' path, with a body.
			_, err := c.send(context.Background(), &call{method: http.MethodPost, url: origin.URL + "/token", body: []byte(`{"jwt":"` + testIDToken + `"}`)})
			var re *RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *RedirectError", err)
			}
			host := strings.TrimPrefix(target.URL, "http://")
			if !strings.Contains(err.Error(), "redirects are refused") || !strings.Contains(err.Error(), host) {
				t.Fatalf("err = %q, want it to say redirects are refused and name %s", err, host)
			}
			// Through Standard(), as go-githubactions uses it.
			resp, err := c.Standard().Get(origin.URL + "/id")
			if err == nil {
				resp.Body.Close()
				t.Fatal("Standard() followed or accepted a redirect")
			}
			if !errors.As(err, &re) {
				t.Fatalf("Standard() err = %v, want *RedirectError", err)
			}
			if target.count() != 0 {
				t.Fatalf("redirect target got %d requests, want 0", target.count())
			}
			if origin.count() != 2 {
				t.Fatalf("origin got %d requests, want 2 (no retry)", origin.count())
			}
		})
	}
}

func TestTLSUntrustedNotRetried(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	handshakes := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			handshakes++
			mu.Unlock()
		}
	}
	srv.Config.ErrorLog = newDiscardLogger()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := testClient(3) // trusts only the system roots, not the test CA
	_, err := get(context.Background(), c, srv.URL)
	var ce *CertificateError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a *CertificateError mentioning certificate", err)
	}
	mu.Lock()
	conns := handshakes
	mu.Unlock()
	if conns != 1 {
		t.Fatalf("connections = %d, want 1 (no retry)", conns)
	}
	// The same server with its CA trusted works.
	ok := NewClient(HTTPConfig{Base: srv.Client(), WaitMin: time.Millisecond, WaitMax: time.Millisecond})
	if _, err := get(context.Background(), ok, srv.URL); err != nil {
		t.Fatalf("trusted: %v", err)
	}
}

func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST
		}
		conn.Close()
	}
}

func TestConnectionReset(t *testing.T) {
	t.Parallel()
	t.Run("then success", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				hijackClose(w)
				return
			}
			writeJSON(w, 200, `{}`)
		})
		if _, err := get(context.Background(), testClient(3), f.URL); err != nil {
			t.Fatal(err)
		}
		if f.count() != 2 {
			t.Fatalf("requests = %d, want 2", f.count())
		}
	})
	t.Run("always", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { hijackClose(w) })
		_, err := get(context.Background(), testClient(2), f.URL)
		var te *TransportError
		if !errors.As(err, &te) || te.Attempts != 3 {
			t.Fatalf("err = %v, want *TransportError after 3 attempts", err)
		}
		if !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("err = %q", err)
		}
	})
}

func TestHungConnectionEndsWithContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := get(ctx, NewClient(HTTPConfig{Retries: 3}), f.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if f.count() != 1 {
		t.Fatalf("requests = %d, want 1 (no retry once the context ended)", f.count())
	}
}

func TestContextEndsBackoffWait(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, 429, `{}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := get(ctx, NewClient(HTTPConfig{Retries: 3, WaitMax: time.Minute}), f.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// Without the context the wait would be the 60 s of Retry-After.
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %s: the context did not end the wait", d)
	}
}

// stream100MB writes 100 MB in 64 KiB chunks (no Content-Length).
func stream100MB(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	chunk := []byte(strings.Repeat("a", 64<<10))
	for i := 0; i < (100<<20)/len(chunk); i++ {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

func TestBodyLimit(t *testing.T) {
	type test struct {
		handle  func(w http.ResponseWriter, r *http.Request, n int)
		standed bool
	}
	testenv.Run(t, map[string]test{
		"streamed 100 MB": {handle: func(w http.ResponseWriter, r *http.Request, n int) { stream100MB(w, 200) }},
		"announced 100 MB": {handle: func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Length", "104857600")
			stream100MB(w, 200)
		}},
		"streamed 100 MB via Standard": {standed: true, handle: func(w http.ResponseWriter, r *http.Request, n int) { stream100MB(w, 200) }},
	}, func(t *testing.T, _ string, tc test) {
		f := newFake(t, tc.handle)
		c := testClient(3)
		var err error
		if tc.standed {
			var resp *http.Response
			resp, err = c.Standard().Get(f.URL)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		} else {
			_, err = get(context.Background(), c, f.URL)
		}
		var tl *BodyTooLargeError
		if !errors.As(err, &tl) || !strings.Contains(err.Error(), "response too large") {
			t.Fatalf("err = %v, want response too large", err)
		}
		if f.count() != 1 {
			t.Fatalf("requests = %d, want 1", f.count())
		}
	})
}

func TestBodyLimitExact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size int
		ok   bool
	}{{100, true}, {99, true}, {101, false}} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			io.WriteString(w, strings.Repeat("x", tc.size))
		})
		c := NewClient(HTTPConfig{MaxBody: 100})
		a, err := get(context.Background(), c, f.URL)
		if tc.ok && (err != nil || len(a.body) != tc.size) {
			t.Fatalf("size %d: err %v", tc.size, err)
		}
		if !tc.ok && err == nil {
			t.Fatalf("size %d: no error", tc.size)
		}
	}
}

func TestBackoffWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	resp := func(st int, ra string) *http.Response {
		h := http.Header{}
		if ra != "" {
			h.Set("Retry-After", ra)
		}
		return &http.Response{StatusCode: st, Header: h}
	}
	min, max := 200*time.Millisecond, 5*time.Second
	tests := []struct {
		name     string
		attempt  int
		resp     *http.Response
		r        float64
		want     time.Duration
		lo, hi   time.Duration
		useRange bool
	}{
		{name: "first retry lowest", attempt: 0, r: 0, want: min},
		{name: "first retry highest", attempt: 0, r: 0.999999, lo: min, hi: 400 * time.Millisecond, useRange: true},
		{name: "third retry range", attempt: 2, r: 0.5, want: min + (1600*time.Millisecond-min)/2},
		{name: "capped at max", attempt: 20, r: 0.999999, lo: 4 * time.Second, hi: max, useRange: true},
		{name: "huge attempt", attempt: 1000, r: 1 - 1e-9, lo: min, hi: max, useRange: true},
		{name: "retry-after seconds", resp: resp(429, "2"), want: 2 * time.Second},
		{name: "retry-after capped", resp: resp(429, "3600"), want: max},
		{name: "retry-after on 503", resp: resp(503, "1"), want: time.Second},
		{name: "retry-after ignored on 500", resp: resp(500, "3"), r: 0, want: min},
		{name: "retry-after date", resp: resp(429, now.Add(3*time.Second).Format(http.TimeFormat)), want: 3 * time.Second},
		{name: "retry-after past date", resp: resp(429, now.Add(-time.Hour).Format(http.TimeFormat)), want: min},
		{name: "retry-after zero", resp: resp(429, "0"), want: min},
		{name: "retry-after garbage", resp: resp(429, "soon"), r: 0, want: min},
		{name: "retry-after negative", resp: resp(429, "-5"), r: 0, want: min},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := backoffWait(min, max, tc.attempt, tc.resp, now, tc.r)
			if tc.useRange {
				if got < tc.lo || got > tc.hi {
					t.Fatalf("wait %s, want in [%s, %s]", got, tc.lo, tc.hi)
				}
			} else if got != tc.want {
				t.Fatalf("wait %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDebugSink(t *testing.T) {
	t.Parallel()
	f := newFailOnceFake(t, 503, `{}`)
	var mu sync.Mutex
	var lines []string
	c := NewClient(HTTPConfig{Retries: 1, WaitMin: time.Millisecond, WaitMax: time.Millisecond, Debug: func(m string) {
		mu.Lock()
		lines = append(lines, m)
		mu.Unlock()
	}})
	if _, err := c.send(context.Background(), &call{method: "POST", url: f.URL + "/t?audience=q", body: []byte(testIDToken)}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	for _, want := range []string{"POST " + f.URL + "/t attempt 1", "503 Service Unavailable", "attempt 2", "200 OK", "retrying in"} {
		if !strings.Contains(all, want) {
			t.Fatalf("debug output lacks %q:\n%s", want, all)
		}
	}
	assertNoSecret(t, all, testIDToken, "audience=q")
}

func TestNewClientDoesNotModifyBase(t *testing.T) {
	t.Parallel()
	base := &http.Client{Timeout: time.Second}
	c := NewClient(HTTPConfig{Base: base})
	if base.Transport != nil || base.CheckRedirect != nil {
		t.Fatal("NewClient modified the base client")
	}
	if c.cfg.MaxBody != DefaultMaxBody || c.rc.Logger != nil {
		t.Fatal("defaults not applied")
	}
}
