package exchange

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestClientSignsEveryAttempt: a call's sign runs before the first attempt
// and before every retry, so each attempt carries its own signature.
func TestClientSignsEveryAttempt(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	signed := 0
	sign := func(r *http.Request) error {
		signed++
		r.Header.Set("Authorization", fmt.Sprintf("sig-%d", signed))
		return nil
	}
	a, err := testClient(3).send(context.Background(), &call{method: http.MethodPost, url: f.URL + "/x", sign: sign})
	if err != nil || a.status != http.StatusOK {
		t.Fatalf("answer %v, err %v", a, err)
	}
	for i, r := range f.requests() {
		if got := r.Header.Get("Authorization"); got != fmt.Sprintf("sig-%d", i+1) {
			t.Errorf("attempt %d carried %q", i+1, got)
		}
	}
	if signed != 3 {
		t.Fatalf("signed %d times for 3 attempts", signed)
	}
	_, err = testClient(1).send(context.Background(), &call{method: http.MethodPost, url: f.URL + "/x",
		sign: func(*http.Request) error { return errors.New("no credentials") }})
	if err == nil || !strings.Contains(err.Error(), "signing the request: no credentials") {
		t.Fatalf("sign error: %v", err)
	}
}

// TestClientRetryAnswer: retryAnswer sees a 4xx answer's body and decides;
// an answer it does not retry still reads in full.
func TestClientRetryAnswer(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", maxErrorBody+1000)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusBadRequest)
		if n == 1 {
			fmt.Fprint(w, "<Error><Code>Throttling</Code></Error>")
			return
		}
		fmt.Fprint(w, "<Error><Code>AccessDenied</Code></Error>"+big)
	})
	var seen []string
	retry := func(status int, _ http.Header, body []byte) bool {
		seen = append(seen, string(body[:min(len(body), 40)]))
		return awsThrottled(status, nil, body)
	}
	a, err := testClient(3).send(context.Background(), &call{method: http.MethodPost, url: f.URL, retryAnswer: retry})
	if err != nil {
		t.Fatal(err)
	}
	if f.count() != 2 || len(seen) != 2 || !strings.Contains(seen[0], "Throttling") {
		t.Fatalf("%d requests, seen %q", f.count(), seen)
	}
	if a.status != http.StatusBadRequest || !strings.HasPrefix(string(a.body), "<Error><Code>AccessDenied") || len(a.body) != len("<Error><Code>AccessDenied</Code></Error>")+len(big) {
		t.Fatalf("answer %d with %d bytes", a.status, len(a.body))
	}
	// Without retryAnswer a 400 is final, as before.
	g := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "<Error><Code>Throttling</Code></Error>")
	})
	if _, err := testClient(3).send(context.Background(), &call{method: http.MethodPost, url: g.URL}); err != nil || g.count() != 1 {
		t.Fatalf("%d requests, err %v", g.count(), err)
	}
}
