package fakes

import (
	"bytes"
	"cmp"
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
	FaultStatus       FaultKind = iota + 1 // Fault.Status, Body, ContentType, RetryAfter
	FaultNewlineToken                      // success with a token holding a newline (recorded)
	FaultHugeBody                          // 200 with a 100 MB JSON body, streamed
	FaultRedirect307                       // to the same path on the redirect target
	FaultRedirect308
	FaultHang // nothing until the client gives up, Close, or a minute
)

const hugeBodySize = 100 << 20

// String returns a short name such as "hang".
func (k FaultKind) String() string {
	names := []string{"", "status", "newline-token", "huge-body", "redirect-307", "redirect-308", "hang"}
	if k > 0 && int(k) < len(names) {
		return names[k]
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one canned misbehaviour, consumed by one request; the other
// fields are FaultStatus's (defaults 500, "<status text>\n", text/plain).
type Fault struct {
	Kind                          FaultKind
	Status                        int
	RetryAfter, Body, ContentType string
}

// Status is a Fault answering code with a default body.
func Status(code int) Fault { return Fault{Kind: FaultStatus, Status: code} }

// StatusRetryAfter is a Fault answering code with a Retry-After header.
func StatusRetryAfter(code int, retryAfter string) Fault {
	return Fault{Kind: FaultStatus, Status: code, RetryAfter: retryAfter}
}

// Of is a Fault of the given kind with default settings.
func Of(kind FaultKind) Fault { return Fault{Kind: kind} }

// Faults is an endpoint's queue of canned faults, one per request, before
// requests reach the handler. Safe for concurrent use.
type Faults struct {
	RedirectTo string // the base URL redirects point at

	store   *TokenStore
	service string
	shape   func(token string) any // the endpoint's success body around a token

	mu       sync.Mutex
	queue    []Fault
	requests int
	done     chan struct{}
	close    sync.Once
}

func newFaults(store *TokenStore, service string, shape func(string) any) *Faults {
	return &Faults{store: store, service: service, shape: shape, done: make(chan struct{})}
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

// Requests returns how many requests reached the endpoint, faulted or not.
func (f *Faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Close releases handlers blocked in FaultHang. Later hangs return at once.
func (f *Faults) Close() { f.close.Do(func() { close(f.done) }) }

func (f *Faults) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests++
		ft, ok := Fault{}, len(f.queue) > 0
		if ok {
			ft, f.queue = f.queue[0], f.queue[1:]
		}
		f.mu.Unlock()
		if ok {
			f.serve(w, r, ft)
		} else {
			next.ServeHTTP(w, r)
		}
	})
}

func (f *Faults) serve(w http.ResponseWriter, r *http.Request, ft Fault) {
	w.Header().Set("Content-Type", "application/json")
	switch ft.Kind {
	case FaultStatus:
		status := cmp.Or(ft.Status, http.StatusInternalServerError)
		w.Header().Set("Content-Type", cmp.Or(ft.ContentType, "text/plain; charset=utf-8"))
		if ft.RetryAfter != "" {
			w.Header().Set("Retry-After", ft.RetryAfter)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, cmp.Or(ft.Body, http.StatusText(status)+"\n"))
	case FaultNewlineToken:
		v := "nl" + randomAlnum(24) + "\n" + randomAlnum(24)
		f.store.Add(KindFaultToken, f.service, v, time.Hour)
		b, _ := json.Marshal(f.shape(v))
		_, _ = w.Write(b)
	case FaultHugeBody:
		const head, tail = `{"access_token":"`, `"}`
		w.Header().Set("Content-Length", strconv.Itoa(hugeBodySize))
		_, err := io.WriteString(w, head)
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for left := hugeBodySize - len(head) - len(tail); left > 0 && err == nil; left -= len(chunk) {
			_, err = w.Write(chunk[:min(left, len(chunk))])
		}
		_, _ = io.WriteString(w, tail)
	case FaultRedirect307, FaultRedirect308:
		code := map[FaultKind]int{FaultRedirect307: http.StatusTemporaryRedirect, FaultRedirect308: http.StatusPermanentRedirect}[ft.Kind]
		http.Redirect(w, r, f.RedirectTo+r.URL.RequestURI(), code)
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-f.done:
		case <-time.After(time.Minute):
		}
	}
}

// SinkRequest is one request the redirect target received.
type SinkRequest struct {
	Method        string
	Path          string // with query
	Authorization bool   // an Authorization header was present
	Body          []byte // the first MiB of the body
}

// RedirectSink is the other host redirects point at; it records what it
// receives, for tests that no secret was sent there.
type RedirectSink struct {
	store    *TokenStore
	mu       sync.Mutex
	requests []SinkRequest
}

// ServeHTTP records the request, counts it under SinkPathPrefix and answers {}.
func (s *RedirectSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.store.CountRequest(SinkPathPrefix + r.URL.Path)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.requests = append(s.requests, SinkRequest{Method: r.Method, Path: r.URL.RequestURI(), Authorization: r.Header.Get("Authorization") != "", Body: body})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct{}{})
}

// Requests returns the requests received so far.
func (s *RedirectSink) Requests() []SinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkRequest(nil), s.requests...)
}

// Received reports whether any received request (path, body) contains secret.
func (s *RedirectSink) Received(secret string) bool {
	for _, r := range s.Requests() {
		if secret != "" && (bytes.Contains(r.Body, []byte(secret)) || bytes.Contains([]byte(r.Path), []byte(secret))) {
			return true
		}
	}
	return false
}
