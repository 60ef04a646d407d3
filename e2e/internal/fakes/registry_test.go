package fakes

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestIndexPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"a": "1/a", "ab": "2/ab", "abc": "3/a/abc", "Serde": "se/rd/serde", "e2e-dep": "e2/e-/e2e-dep"} {
		if got := IndexPath(in); got != want {
			t.Errorf("IndexPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBuildCrate(t *testing.T) {
	t.Parallel()
	a, err := BuildCrate("demo", "1.2.3", []Dep{{Name: "x", Req: "^1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BuildCrate("demo", "1.2.3", []Dep{{Name: "x", Req: "^1"}}, nil)
	if !bytes.Equal(a, b) {
		t.Error("not deterministic")
	}
	zr, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "demo-1.2.3/Cargo.toml" {
			body, _ := io.ReadAll(tr)
			if !strings.Contains(string(body), `x = "^1"`) {
				t.Errorf("manifest %s", body)
			}
		}
	}
	if strings.Join(names, ",") != "demo-1.2.3/Cargo.toml,demo-1.2.3/src/lib.rs" {
		t.Errorf("entries %v", names)
	}
}

func publishBody(meta string, crate []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(meta)))
	b.WriteString(meta)
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(crate)))
	b.Write(crate)
	return b.Bytes()
}

func TestRegistryAuthAndPublish(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	jt := jfrogToken(t, s)
	ct := cratesToken(t, s)
	jidx := strings.TrimPrefix(s.JFrogIndex, "sparse+")
	cidx := strings.TrimPrefix(s.CloudsmithIndex, "sparse+")
	pidx := strings.TrimPrefix(s.CratesIOIndex, "sparse+")
	tests := []struct {
		name   string
		url    string
		auth   string
		status int
	}{
		{"jfrog index with bearer", jidx + "e2/e-/e2e-dep", "Bearer " + jt, 200},
		{"jfrog download with bearer", jidx + "dl/e2e-dep/1.0.0/download", "Bearer " + jt, 200},
		{"cloudsmith index with a jfrog token", cidx + "e2/e-/e2e-dep", "Bearer " + jt, 200},
		{"jfrog index with raw token", jidx + "e2/e-/e2e-dep", jt, 401},
		{"jfrog index without token", jidx + "e2/e-/e2e-dep", "", 401},
		{"jfrog index with an ID token", jidx + "config.json", "Bearer " + s.Store.Tokens()[0].Value, 401},
		{"unknown crate", jidx + "no/ne/nonexistent", "Bearer " + jt, 404},
		{"wrong index path", jidx + "xx/yy/e2e-dep", "Bearer " + jt, 404},
		{"crates.io index is public", pidx + "e2/e-/e2e-dep", "", 200},
		{"crates.io config has no auth-required", pidx + "config.json", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, b := call(t, s, http.MethodGet, tt.url, tt.auth, nil)
			if st != tt.status {
				t.Fatalf("%d %s", st, b)
			}
			if strings.HasSuffix(tt.url, "config.json") && st == 200 && strings.Contains(string(b), "auth-required") {
				t.Errorf("crates.io config says auth-required: %s", b)
			}
		})
	}

	crate, _ := BuildCrate("newcrate", "0.3.0", nil, nil)
	meta := `{"name":"newcrate","vers":"0.3.0","deps":[{"name":"e2e-dep","version_req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","explicit_name_in_toml":"dep"}],"features":{}}`
	put := func(auth string, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, pidx+"api/v1/crates/new", bytes.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := s.CA.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := put("Bearer "+ct, publishBody(meta, crate)); st != 403 {
		t.Fatalf("publish with Bearer on a raw root: %d %s", st, b)
	}
	if st, b := put(ct, publishBody(meta, crate)[:10]); st != 400 {
		t.Fatalf("truncated upload: %d %s", st, b)
	}
	if st, b := put(ct, publishBody(meta, crate)); st != 200 || !strings.Contains(b, `"warnings"`) {
		t.Fatalf("publish: %d %s", st, b)
	}
	if st, b := put(ct, publishBody(meta, crate)); st != 400 || !strings.Contains(b, "already uploaded") {
		t.Fatalf("republish: %d %s", st, b)
	}
	e := s.Registry.Entries("newcrate")
	if len(e) != 1 || e[0].Deps[0].Name != "dep" || *e[0].Deps[0].Package != "e2e-dep" || e[0].Deps[0].Req != "^1" || len(e[0].Cksum) != 64 {
		t.Fatalf("index entry %+v", e)
	}
	if st, b := call(t, s, http.MethodGet, pidx+"dl/newcrate/0.3.0/download", "", nil); st != 200 || !bytes.Equal(b, crate) {
		t.Fatalf("download of the published crate: %d", st)
	}
}

func TestRegistryDelay(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	s.Registry.SetDelay(150 * time.Millisecond)
	start := time.Now()
	call(t, s, http.MethodGet, strings.TrimPrefix(s.CratesIOIndex, "sparse+")+"config.json", "", nil)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
}

// TestRegistryChecksTokenOnArrival: on a slow registry a token that expires
// while its request waits is still accepted, because the registry checks it
// when the request arrives. Were it checked after the wait, the clock moved
// past the token's expiry during the wait would make the answer a 401.
func TestRegistryChecksTokenOnArrival(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	tok := jfrogToken(t, s)
	s.Registry.SetDelay(time.Second)
	url := strings.TrimPrefix(s.JFrogIndex, "sparse+") + "config.json"
	path := strings.TrimPrefix(url, s.JFrogURL)
	before := s.Store.Requests(path)
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.CA.Client().Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	if err := s.Store.WaitRequests(t.Context(), path, before+1); err != nil {
		t.Fatalf("the request never reached the registry: %v", err)
	}
	s.Clock.Advance(2 * DefaultTokenTTL)
	if st := <-status; st != http.StatusOK {
		t.Fatalf("status %d, want 200 for a token valid when the request arrived", st)
	}
	if st, _ := call(t, s, http.MethodGet, url, "Bearer "+tok, nil); st != http.StatusUnauthorized {
		t.Fatalf("status %d for the expired token, want 401", st)
	}
}

func FuzzParsePublish(f *testing.F) {
	f.Add(publishBody(`{"name":"a","vers":"1.0.0"}`, []byte("crate")))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(publishBody("", nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		meta, crate, err := ParsePublish(body)
		if err != nil {
			return
		}
		if !bytes.Equal(publishBody(string(meta), crate), body) {
			t.Fatalf("round trip differs")
		}
	})
}

func FuzzParseJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := parseJWT(tok)
		if err == nil && p.claims == nil {
			t.Fatal("nil claims without error")
		}
	})
}

// TestWaitRequests: WaitRequests returns once a path has its count, and
// with the context's error when the count never comes.
func TestWaitRequests(t *testing.T) {
	t.Parallel()
	st := NewTokenStore(nil)
	go st.CountRequest("/a")
	if err := st.WaitRequests(t.Context(), "/a", 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.WaitRequests(ctx, "/a", 2); err != context.Canceled {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}
