package action

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestProviderModeSeedsTheCache: in credential-mode provider the step's own
// token goes into the provider's token cache (a 0700 folder, a 0600 file),
// so the credential provider of the setting the step exports answers it
// with no exchange: one exchange for the job. The post stage deletes the
// cache folder (and revokes the crates.io token).
func TestProviderModeSeedsTheCache(t *testing.T) {
	type test struct {
		inputs        map[string]string
		variable      string // the exported setting
		index, token  string // Cargo's request and the answer's token
		revokedByPost int32
	}
	testenv.Run(t, map[string]test{
		"jfrog":                   {jfrogInputs, "CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER", "/artifactory/api/cargo/cargo-local/index/", "Bearer " + accessToken, 0},
		"crates-io":               {map[string]string{"provider": "crates-io"}, "CARGO_REGISTRY_CREDENTIAL_PROVIDER", "https://github.com/rust-lang/crates.io-index", "cio_tp_SECRET123", 1},
		"crates-io, revoke false": {map[string]string{"provider": "crates-io", "revoke": "false"}, "CARGO_REGISTRY_CREDENTIAL_PROVIDER", "https://github.com/rust-lang/crates.io-index", "cio_tp_SECRET123", 0},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t, tt.inputs)
		log := runProviderMode(t, w).String()
		setting := parseEntries(t, w.read("env"))[tt.variable]
		dir := credprovider.CacheDir(setting)
		if !strings.HasPrefix(dir, filepath.Join(w.env["HOME"], ".cargo-oidc", "cache-")) || !strings.Contains(log, "Token cache: "+dir) {
			t.Fatalf("cache folder %q of setting %q", dir, setting)
		}
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || !testenv.PermIs(t, fi.Mode(), 0o700) {
			t.Fatalf("cache folder %v, %v; want a 0700 folder", fi, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("cache folder holds %v, want one entry", entries)
		}
		efi, _ := entries[0].Info()
		if !testenv.PermIs(t, efi.Mode(), 0o600) {
			t.Errorf("cache file mode %v", efi.Mode())
		}
		data, _ := os.ReadFile(filepath.Join(dir, entries[0].Name()))
		if strings.Contains(string(data), w.idToken) || strings.Contains(string(data), "request-token") {
			t.Errorf("the cache file holds the ID token or the request token: %s", data)
		}

		index := tt.index
		if strings.HasPrefix(index, "/") {
			index = "sparse+" + w.srv.URL + index
		}
		req, err := json.Marshal(credprovider.Request{V: 1, Kind: "get", Operation: "read",
			Registry: credprovider.Registry{IndexURL: index}, Args: strings.Fields(setting)[1:]})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = credprovider.Serve(context.Background(), credprovider.Env{Getenv: func(k string) string { return w.env[k] },
			Stdin: bytes.NewReader(append(req, '\n')), Stdout: &out, HTTP: w.srv.Client(), Now: func() time.Time { return time.Date(2026, 11, 21, 12, 1, 0, 0, time.UTC) }})
		if err != nil || !strings.Contains(out.String(), `"token":"`+tt.token+`"`) {
			t.Fatalf("provider: %v, %s", err, out.String())
		}
		if w.issued.Load() != 1 {
			t.Errorf("%d exchanges for the step and Cargo's first request, want 1", w.issued.Load())
		}

		for k, v := range parseEntries(t, w.read("state")) {
			w.env["STATE_"+k] = v
		}
		post, err := w.run(Post)
		if err != nil {
			t.Fatalf("Post: %v\n%s", err, post)
		}
		if w.revoked.Load() != tt.revokedByPost {
			t.Errorf("the post stage revoked %d, want %d:\n%s", w.revoked.Load(), tt.revokedByPost, post)
		}
		testenv.SkipUnderWine(t, testenv.RemoveDefect)
		if _, err := os.Lstat(dir); !os.IsNotExist(err) || !strings.Contains(post, "Deleted the credential provider's token cache") {
			t.Errorf("the cache folder is left (%v):\n%s", err, post)
		}
	})
}
