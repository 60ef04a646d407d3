package fakes

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FaultKind names one way an endpoint misbehaves.
type FaultKind int

// The faults an endpoint can be told to serve.
const (
	// FaultStatus answers Fault.Status (default 500) with Fault.Body
	// (default: a short text) and, when set, Fault.RetryAfter.
	FaultStatus FaultKind = iota + 1
	// FaultMalformedJSON answers 200 with a truncated JSON document.
	FaultMalformedJSON
	// FaultNewlineToken answers the success shape with a token holding a
	// newline (a token-shaped secret; it is recorded in the TokenStore).
	FaultNewlineToken
	// FaultHugeBody answers 200 with a 100 MB JSON body, streamed.
	FaultHugeBody
	// FaultRedirect307 redirects with 307 to the same path on the redirect
	// target (another host).
	FaultRedirect307
	// FaultRedirect308 redirects with 308 to the same path on the redirect
	// target.
	FaultRedirect308
	// FaultHang answers nothing until the client gives up (the request
	// context ends), the Faults are closed, or a minute passes.
	FaultHang
)

// HugeBodySize is the size of the body FaultHugeBody streams.
const HugeBodySize = 100 << 20

var faultNames = map[FaultKind]string{
	FaultStatus: "status", FaultMalformedJSON: "malformed-json", FaultNewlineToken: "newline-token",
	FaultHugeBody: "huge-body", FaultRedirect307: "redirect-307", FaultRedirect308: "redirect-308", FaultHang: "hang",
}

// String returns a short name such as "reset".
func (k FaultKind) String() string {
	if s, ok := faultNames[k]; ok {
		return s
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one canned misbehaviour, consumed by one request.
type Fault struct {
	Kind        FaultKind
	Status      int    // FaultStatus; default 500
	RetryAfter  string // Retry-After header value, sent with FaultStatus when set
	Body        string // FaultStatus body; default "<status text>\n"
	ContentType string // FaultStatus content type; default text/plain
}

// Status is a Fault answering code with a default body.
func Status(code int) Fault { return Fault{Kind: FaultStatus, Status: code} }

// StatusRetryAfter is a Fault answering code with a Retry-After header.
func StatusRetryAfter(code int, retryAfter string) Fault {
	return Fault{Kind: FaultStatus, Status: code, RetryAfter: retryAfter}
}

// Of is a Fault of the given kind with default settings.
func Of(kind FaultKind) Fault { return Fault{Kind: kind} }

// Faults is a per-endpoint queue of canned faults: each request takes the
// next one, and once the queue is empty requests reach the real handler. It
// also counts requests. It is safe for concurrent use.
type Faults struct {
	// RedirectTo is the base URL (scheme://host:port) redirects point at.
	RedirectTo string
	// Store records malformed tokens served (may be nil).
	Store *TokenStore

	mu       sync.Mutex
	queue    []Fault
	requests int
	served   int
	done     chan struct{}
	closed   bool
}

func (f *Faults) init() {
	if f.done == nil {
		f.done = make(chan struct{})
	}
}

// Push appends faults to the queue.
func (f *Faults) Push(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, faults...)
}

// Clear empties the queue.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = nil
}

// Served returns how many faults were served.
func (f *Faults) Served() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served
}

// Requests returns how many requests reached the endpoint, faulted or not.
func (f *Faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Close releases handlers blocked in FaultHang. Later hangs return at once.
func (f *Faults) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
}

func (f *Faults) next() (Fault, bool, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.requests++
	if len(f.queue) == 0 {
		return Fault{}, false, f.done
	}
	ft := f.queue[0]
	f.queue = f.queue[1:]
	f.served++
	return ft, true, f.done
}

// tokenShape builds an endpoint's success body around a token.
type tokenShape func(token string) any

// wrap returns next behind the fault queue. service names the owner of
// malformed tokens recorded in the Store.
func (f *Faults) wrap(service string, shape tokenShape, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ft, ok, done := f.next()
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		f.serve(w, r, ft, service, shape, done)
	})
}

func (f *Faults) serve(w http.ResponseWriter, r *http.Request, ft Fault, service string, shape tokenShape, done <-chan struct{}) {
	switch ft.Kind {
	case FaultStatus:
		status := ft.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		body := ft.Body
		if body == "" {
			body = http.StatusText(status) + "\n"
		}
		ct := ft.ContentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		if ft.RetryAfter != "" {
			w.Header().Set("Retry-After", ft.RetryAfter)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	case FaultMalformedJSON:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token": "abc", "token": "abc", "value": "abc", "expires_in": 36`)
	case FaultNewlineToken:
		v := "nl" + randomAlnum(24) + "\n" + randomAlnum(24)
		if f.Store != nil {
			f.Store.Add(KindFaultToken, service, v, time.Hour)
		}
		b, _ := json.Marshal(shape(v))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case FaultHugeBody:
		streamHugeBody(w)
	case FaultRedirect307, FaultRedirect308:
		code := http.StatusTemporaryRedirect
		if ft.Kind == FaultRedirect308 {
			code = http.StatusPermanentRedirect
		}
		w.Header().Set("Location", f.RedirectTo+r.URL.RequestURI())
		w.WriteHeader(code)
	case FaultHang:
		t := time.NewTimer(time.Minute)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-done:
		case <-t.C:
		}
	default:
		http.Error(w, "unknown fault", http.StatusInternalServerError)
	}
}

// streamHugeBody writes HugeBodySize bytes of JSON without holding them in
// memory; it stops when the client goes away.
func streamHugeBody(w http.ResponseWriter) {
	const head, tail = `{"access_token":"`, `"}`
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(HugeBodySize))
	if _, err := io.WriteString(w, head); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte("A"), 64<<10)
	left := HugeBodySize - len(head) - len(tail)
	for left > 0 {
		n := min(left, len(chunk))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		left -= n
	}
	_, _ = io.WriteString(w, tail)
}

// SinkRequest is one request the redirect target received.
type SinkRequest struct {
	Method        string
	Path          string // with query
	Authorization bool   // an Authorization header was present
	Body          []byte // the first MiB of the body
}

// RedirectSink is the "other host" redirect faults point at. It records what
// it receives, so tests can assert that no ID token was ever sent there.
type RedirectSink struct {
	mu       sync.Mutex
	requests []SinkRequest
}

// ServeHTTP records the request and answers 200 with an empty JSON object.
func (s *RedirectSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.requests = append(s.requests, SinkRequest{Method: r.Method, Path: r.URL.RequestURI(), Authorization: r.Header.Get("Authorization") != "", Body: body})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "{}")
}

// Requests returns the requests received so far.
func (s *RedirectSink) Requests() []SinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkRequest(nil), s.requests...)
}

// Received reports whether any received request (path, body) contains secret.
func (s *RedirectSink) Received(secret string) bool {
	if secret == "" {
		return false
	}
	for _, r := range s.Requests() {
		if bytes.Contains(r.Body, []byte(secret)) || bytes.Contains([]byte(r.Path), []byte(secret)) {
			return true
		}
	}
	return false
}
