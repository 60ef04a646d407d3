package exchange

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
)

// Defaults NewClient puts in the zero fields of HTTPConfig.
const (
	// DefaultWaitMin is the shortest wait before a retry.
	DefaultWaitMin = 200 * time.Millisecond
	// DefaultWaitMax is the longest wait before a retry, Retry-After included.
	DefaultWaitMax = 5 * time.Second
	// DefaultMaxBody is the largest response body read, in bytes (1 MiB).
	DefaultMaxBody int64 = 1 << 20
)

// UserAgent is sent with every request the services make.
const UserAgent = "cargo-oidc"

// maxErrorBody bounds the part of an error response kept for its message.
const maxErrorBody = 64 << 10

// HTTPConfig configures the retrying client used for every HTTP call.
type HTTPConfig struct {
	// Base supplies the transport (TLS roots, proxies) and per-attempt
	// timeout; nil means a fresh cleanhttp pooled client. It is copied, never
	// modified.
	Base *http.Client
	// Retries is the number of retries after the first attempt; 0 means
	// none, negative values count as 0 (the action's retries input has its
	// own default).
	Retries int
	// WaitMin is the shortest wait before a retry; 0 means DefaultWaitMin.
	WaitMin time.Duration
	// WaitMax is the longest wait before a retry; 0 means DefaultWaitMax.
	// A Retry-After header is honoured but capped at WaitMax.
	WaitMax time.Duration
	// MaxBody bounds every response body read; 0 means DefaultMaxBody.
	MaxBody int64
	// Debug, when set, receives one line per attempt, response and retry
	// (method, host and path, status, attempt, wait). Never tokens.
	Debug func(msg string)
	// Redactor removes the step's secrets from every message built from
	// outside text (service bodies, transport errors, a redirect's
	// Location); nil means a fresh one. Hook it next to masking so that it
	// knows every secret the step learns.
	Redactor *Redactor
}

// Client is the retrying HTTP client every call of this package goes
// through. It wraps a *retryablehttp.Client; it is safe for concurrent use.
type Client struct {
	red  *Redactor
	cfg  HTTPConfig
	http *http.Client
	rc   *retryablehttp.Client
	std  *http.Client
}

// NewClient builds a Client from cfg. The client does not log (Logger nil),
// refuses redirects (a 3xx answer becomes a *RedirectError and the request
// body never reaches the redirect target), retries transport errors, 429
// and 5xx except 501 with jittered exponential backoff, does not retry
// certificate failures or other 4xx answers, honours Retry-After up to
// WaitMax, and reads every response body through the MaxBody limit.
func NewClient(cfg HTTPConfig) *Client {
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.WaitMin <= 0 {
		cfg.WaitMin = DefaultWaitMin
	}
	if cfg.WaitMax <= 0 {
		cfg.WaitMax = DefaultWaitMax
	}
	if cfg.WaitMax < cfg.WaitMin {
		cfg.WaitMax = cfg.WaitMin
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Redactor == nil {
		cfg.Redactor = NewRedactor()
	}
	var hc http.Client
	if cfg.Base != nil {
		hc = *cfg.Base
	} else {
		hc = *cleanhttp.DefaultPooledClient()
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &guardTransport{base: base, maxBody: cfg.MaxBody, red: cfg.Redactor}
	hc.CheckRedirect = refuseRedirect
	c := &Client{red: cfg.Redactor, cfg: cfg, http: &hc}
	c.rc = c.retryable(nil)
	c.std = c.rc.StandardClient()
	c.std.CheckRedirect = refuseRedirect
	return c
}

// Standard returns a retrying *http.Client (retryablehttp's StandardClient)
// for libraries that want a plain client, such as go-githubactions. The body
// limit and the redirect refusal apply to it too.
func (c *Client) Standard() *http.Client { return c.std }

// Redactor returns the client's redactor.
func (c *Client) Redactor() *Redactor { return c.red }

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// retryable builds a retryablehttp.Client sharing c's transport and policy;
// prepare, when set, runs before every retry.
func (c *Client) retryable(prepare retryablehttp.PrepareRetry) *retryablehttp.Client {
	rc := &retryablehttp.Client{
		HTTPClient:   c.http,
		Logger:       nil,
		RetryWaitMin: c.cfg.WaitMin,
		RetryWaitMax: c.cfg.WaitMax,
		RetryMax:     c.cfg.Retries,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		ErrorHandler: c.errorHandler,
		PrepareRetry: prepare,
	}
	if c.cfg.Debug != nil {
		rc.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, i int) {
			c.debugf("%s %s attempt %d", r.Method, displayURL(r.URL), i+1)
		}
		rc.ResponseLogHook = func(_ retryablehttp.Logger, r *http.Response) {
			c.debugf("answer %s", statusText(r.StatusCode))
		}
	}
	return rc
}

func (c *Client) debugf(format string, args ...any) {
	if c.cfg.Debug != nil {
		c.cfg.Debug(c.red.Redact(fmt.Sprintf(format, args...)))
	}
}

// checkRetry retries transport errors, 429 and 5xx except 501. Redirects,
// oversized bodies, certificate failures and malformed requests are final.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if last, ok := ctx.Value(lastStatusKey{}).(*lastStatus); ok && resp != nil {
		last.set(resp.StatusCode)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if perm := permanentError(c.red, err); perm != nil {
			return false, perm
		}
		c.debugf("transport error: %s", c.red.Clean(unwrapURLError(err).Error()))
		return true, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return true, nil
	}
	if resp.StatusCode == 0 || (resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented) {
		return true, nil
	}
	if retry, ok := ctx.Value(retryAnswerKey{}).(func(int, http.Header, []byte) bool); ok && resp.StatusCode >= 400 {
		return retry(resp.StatusCode, resp.Header, peekBody(resp)), nil
	}
	return false, nil
}

// retryAnswerKey is the context key of a call's retryAnswer function.
type retryAnswerKey struct{}

// peekBody reads the start of resp's body (up to maxErrorBody) and puts it
// back, so that the answer can still be read in full.
func peekBody(resp *http.Response) []byte {
	if resp.Body == nil {
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return head
}

// permanentError returns the error to report when err must not be retried,
// or nil when a retry may help. Text from outside (a certificate's names, a
// transport error) is cleaned by red.
func permanentError(red *Redactor, err error) error {
	var re *RedirectError
	if errors.As(err, &re) {
		return re
	}
	var tl *BodyTooLargeError
	if errors.As(err, &tl) {
		return tl
	}
	if isCertificateError(err) {
		ce := &CertificateError{Err: red.Err(unwrapURLError(err))}
		var ue *url.Error
		if errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil {
				ce.Host = u.Host
			}
		}
		return ce
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return red.Err(unwrapURLError(err))
	}
	// Invalid scheme, invalid header, too many redirects: retryablehttp knows them.
	if retry, e := retryablehttp.ErrorPropagatedRetryPolicy(context.Background(), nil, err); !retry {
		return red.Err(unwrapURLError(e))
	}
	return nil
}

func isCertificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) {
		return true
	}
	return strings.Contains(err.Error(), "certificate")
}

// backoff waits exponentially longer with jitter, between min and max; a
// Retry-After on 429/503 is honoured but capped at max.
func (c *Client) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	wait := backoffWait(min, max, attempt, resp, time.Now(), rand.Float64())
	if resp != nil {
		c.debugf("retrying in %s after %s", wait.Round(time.Millisecond), statusText(resp.StatusCode))
	} else {
		c.debugf("retrying in %s", wait.Round(time.Millisecond))
	}
	return wait
}

// backoffWait is the pure part of backoff: r in [0,1) is the jitter.
func backoffWait(min, max time.Duration, attempt int, resp *http.Response, now time.Time, r float64) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			return clampDuration(d, min, max)
		}
	}
	upper := max
	if attempt < 30 {
		if u := min << (attempt + 1); u > 0 && u < max {
			upper = u
		}
	}
	if upper < min {
		upper = min
	}
	return min + time.Duration(r*float64(upper-min))
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

func clampDuration(d, min, max time.Duration) time.Duration {
	if d < min {
		return min
	}
	if d > max {
		return max
	}
	return d
}

// errorHandler turns the outcome of the last attempt into an error: an
// *HTTPError carrying the last status, or a *TransportError.
func (c *Client) errorHandler(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if resp != nil && err == nil {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		method, u := "", ""
		if resp.Request != nil {
			method, u = resp.Request.Method, displayURL(resp.Request.URL)
		}
		return nil, newHTTPError(c.red, "", method, u, resp.StatusCode, resp.Header.Get("Content-Type"), body, attempts)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if err == nil {
		err = errors.New("request failed")
	}
	return nil, &TransportError{Attempts: attempts, Err: c.red.Err(unwrapURLError(err))}
}

// lastStatusKey is the context key of the *lastStatus of one send.
type lastStatusKey struct{}

// lastStatus records the status of the last answer of one logical request,
// so that an error after the time ran out while waiting to retry can name it.
type lastStatus struct {
	mu   sync.Mutex
	code int
}

func (l *lastStatus) set(code int) {
	l.mu.Lock()
	l.code = code
	l.mu.Unlock()
}

func (l *lastStatus) get() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.code
}

// call describes one logical request of a service.
type call struct {
	method string
	url    string
	header http.Header
	body   []byte
	// next, when set, builds a fresh body before every retry.
	next func(ctx context.Context) ([]byte, error)
	// sign, when set, signs the request before every attempt (AWS
	// Signature Version 4: a retry gets a fresh date and signature).
	sign func(r *http.Request) error
	// retryAnswer, when set, decides whether a 4xx answer is retried too
	// (AWS reports throttling as 400 with an error code in the body).
	retryAnswer func(status int, header http.Header, body []byte) bool
}

// answer is a response read in full (within the limit).
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send performs c through the retrying client and reads the answer. Non-2xx
// statuses that were not retried come back as answers; retried statuses that
// never succeeded come back as *HTTPError.
func (c *Client) send(ctx context.Context, cl *call) (*answer, error) {
	last := &lastStatus{}
	ctx = context.WithValue(ctx, lastStatusKey{}, last)
	if cl.retryAnswer != nil {
		ctx = context.WithValue(ctx, retryAnswerKey{}, cl.retryAnswer)
	}
	cur := cl.body
	var body any
	if cur != nil {
		body = retryablehttp.ReaderFunc(func() (io.Reader, error) { return bytes.NewReader(cur), nil })
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, cl.method, cl.url, body)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", unwrapURLError(err))
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	if cl.sign != nil {
		if err := cl.sign(req.Request); err != nil {
			return nil, fmt.Errorf("signing the request: %w", err)
		}
	}
	rc := c.rc
	if cl.next != nil || cl.sign != nil {
		rc = c.retryable(func(hr *http.Request) error {
			if cl.next != nil {
				b, err := cl.next(hr.Context())
				if err != nil {
					return err
				}
				cur = b
				hr.ContentLength = int64(len(b))
			}
			if cl.sign != nil {
				if err := cl.sign(hr); err != nil {
					return fmt.Errorf("signing the request: %w", err)
				}
			}
			return nil
		})
	}
	resp, err := rc.Do(req)
	if err != nil {
		if code := last.get(); code != 0 && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// The time ran out while waiting to retry: say what the
			// service last answered, not only that time ran out.
			return nil, &RetryTimeoutError{LastStatus: code, Err: err}
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &TransportError{Attempts: 1, Err: fmt.Errorf("reading the answer (%s): %w", statusText(resp.StatusCode), c.red.Err(unwrapURLError(err)))}
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// guardTransport refuses redirects and bounds response bodies for every
// request, including those made through Standard().
type guardTransport struct {
	base    http.RoundTripper
	maxBody int64
	red     *Redactor
}

// RoundTrip implements http.RoundTripper.
func (t *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if isRedirect(resp) {
		resp.Body.Close()
		re := &RedirectError{Method: req.Method, URL: displayURL(req.URL), StatusCode: resp.StatusCode}
		if loc := resp.Header.Get("Location"); loc != "" {
			if lu, err := req.URL.Parse(loc); err == nil {
				re.LocationHost = t.red.Clean(lu.Host)
			}
		}
		return nil, re
	}
	if resp.ContentLength > t.maxBody {
		resp.Body.Close()
		return nil, &BodyTooLargeError{Limit: t.maxBody, ContentLength: resp.ContentLength}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.maxBody, limit: t.maxBody}
	return resp, nil
}

func isRedirect(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != ""
}

// limitedBody fails with *BodyTooLargeError once more than limit bytes
// would be read, without reading the rest.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, &BodyTooLargeError{Limit: b.limit}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// unwrapURLError drops the *url.Error layer, whose text repeats the full URL
// (query included).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// displayURL is u without query, fragment and user info.
func displayURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	cu := *u
	cu.RawQuery, cu.Fragment, cu.RawFragment, cu.User, cu.ForceQuery = "", "", "", nil, false
	return cu.String()
}

// displayRawURL is displayURL for a string; unparsable input gives "".
func displayRawURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return displayURL(u)
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}
