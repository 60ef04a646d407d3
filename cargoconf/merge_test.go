package cargoconf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const testIndex = "sparse+https://example.jfrog.io/artifactory/api/cargo/cargo-local/index/"

func TestMergeGolden(t *testing.T) {
	all := Registry{Name: "artifactory", Index: testIndex, CredentialProvider: "cargo:token", Default: true, ReplaceCratesIO: true}
	only := Registry{Name: "artifactory", Index: testIndex, CredentialProvider: "cargo:token"}
	replace := only
	replace.ReplaceCratesIO = true
	def := only
	def.Default = true
	type test struct {
		r       Registry
		wantErr any // nil, or a pointer to the expected error type
	}
	testenv.Run(t, map[string]test{
		"empty":                         {all, nil},
		"unrelated":                     {all, nil},
		"same-index-update-provider":    {only, nil},
		"default-into-registry-table":   {def, nil},
		"replace-added":                 {replace, nil},
		"replaced-by-other":             {replace, new(*ConflictError)},
		"replaced-by-ours-remote":       {all, nil},
		"weird-formatting":              {all, nil},
		"crlf":                          {all, nil},
		"no-trailing-newline":           {all, nil},
		"no-trailing-newline-new-table": {only, nil},
		"different-index":               {only, new(*ConflictError)},
		"dotted-root":                   {only, new(*FormError)},
		"inline-table":                  {only, new(*FormError)},
		"invalid":                       {only, new(*SyntaxError)},
		"env-collision":                 {Registry{Name: "artifactory-x", Index: testIndex}, new(*ConflictError)},
		"source-name-taken":             {replace, new(*ConflictError)},
	}, func(t *testing.T, name string, tc test) {
		in, err := os.ReadFile(filepath.Join("testdata", "merge", name+".in.toml"))
		if err != nil {
			t.Fatal(err)
		}
		orig := bytes.Clone(in)
		path := ".cargo/config.toml"
		out, err := Merge(in, path, tc.r)
		if !bytes.Equal(in, orig) {
			t.Fatal("Merge modified its input")
		}
		if tc.wantErr != nil {
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			switch target := tc.wantErr.(type) {
			case **ConflictError:
				if !errors.As(err, target) {
					t.Fatalf("error %T %v, want *ConflictError", err, err)
				}
			case **FormError:
				if !errors.As(err, target) {
					t.Fatalf("error %T %v, want *FormError", err, err)
				}
			case **SyntaxError:
				if !errors.As(err, target) {
					t.Fatalf("error %T %v, want *SyntaxError", err, err)
				}
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			testenv.Golden(t, filepath.Join("testdata", "merge", name+".err"), []byte(err.Error()+"\n"))
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		testenv.Golden(t, filepath.Join("testdata", "merge", name+".out.toml"), out)
		again, err := Merge(out, path, tc.r)
		if err != nil {
			t.Fatalf("re-run: %v", err)
		}
		if !bytes.Equal(again, out) {
			t.Errorf("re-run is not idempotent:\n%s", again)
		}
	})
}

func TestMergeUpdatesInPlace(t *testing.T) {
	t.Parallel()
	r := Registry{Name: "artifactory", Index: testIndex, CredentialProvider: "cargo:token", Default: true, ReplaceCratesIO: true}
	in := []byte("# mine\n[net]\nretry = 3\n")
	first, err := Merge(in, "c", r)
	if err != nil {
		t.Fatal(err)
	}
	r.CredentialProvider = "/opt/cargo-oidc --flag"
	second, err := Merge(first, "c", r)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(first), `"cargo:token"`, `"/opt/cargo-oidc --flag"`, 1)
	if string(second) != want {
		t.Errorf("got\n%s\nwant\n%s", second, want)
	}
	if n := strings.Count(string(second), "[registries.artifactory]"); n != 1 {
		t.Errorf("%d [registries.artifactory] tables", n)
	}
}

func TestMergeErrorsNameTheConflict(t *testing.T) {
	t.Parallel()
	in := []byte("[registries.art]\nindex = \"sparse+https://old/index/\"\n")
	_, err := Merge(in, "/w/.cargo/config.toml", Registry{Name: "art", Index: "sparse+https://new/index/"})
	for _, want := range []string{"/w/.cargo/config.toml", `"art"`, "sparse+https://old/index/", "sparse+https://new/index/", "registry-name", "remove"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

func TestMergeRejectsBadRegistry(t *testing.T) {
	t.Parallel()
	for _, r := range []Registry{
		{Name: "", Index: testIndex},
		{Name: "a.b", Index: testIndex},
		{Name: "crates-io", Index: testIndex},
		{Name: "ok", Index: ""},
	} {
		if _, err := Merge(nil, "c", r); err == nil {
			t.Errorf("Merge accepted %+v", r)
		}
	}
}

func TestMergeSyntaxErrorPosition(t *testing.T) {
	t.Parallel()
	_, err := Merge([]byte("[a]\nb = 1\nc = = 2\n"), "/x/config.toml", Registry{Name: "r", Index: testIndex})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || se.Path != "/x/config.toml" || se.Msg == "" {
		t.Fatalf("got %#v", err)
	}
}

func TestMergeCredentialGolden(t *testing.T) {
	t.Parallel()
	const token = "Bearer eyJ.abc\"def\\ghi"
	tests := []struct {
		name     string
		registry string
		cratesIO bool
	}{
		{"empty", "artifactory", false},
		{"others", "artifactory", false},
		{"update", "artifactory", false},
		{"seed-style", "artifactory", false},
		{"others", "", true},
	}
	for _, tc := range tests {
		name := tc.name
		if tc.cratesIO {
			name += "-crates-io"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(filepath.Join("testdata", "credentials", tc.name+".in.toml"))
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(in)
			out, err := MergeCredential(in, "credentials.toml", tc.registry, token, tc.cratesIO)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("MergeCredential modified its input")
			}
			testenv.Golden(t, filepath.Join("testdata", "credentials", name+".out.toml"), out)
			again, err := MergeCredential(out, "credentials.toml", tc.registry, token, tc.cratesIO)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("re-run: %v\n%s", err, again)
			}
			removed, err := RemoveCredentialText(out, "credentials.toml", tc.registry, tc.cratesIO)
			if err != nil {
				t.Fatal(err)
			}
			testenv.Golden(t, filepath.Join("testdata", "credentials", name+".removed.toml"), removed)
			if strings.Contains(string(removed), "eyJ") {
				t.Error("the token is still there after removal")
			}
		})
	}
}

func TestCredentialErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-token-value"
	bad := []byte("[registries.a]\ntoken = \"" + secret + "\n")
	_, err := MergeCredential(bad, "c.toml", "a", secret, false)
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error %v", err)
	}
	_, err = MergeCredential(nil, "c.toml", "a", "\xff"+secret, false)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v", err)
	}
	_, err = MergeCredential([]byte("registries.a.token = \"x\"\n"), "c.toml", "a", secret, false)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v", err)
	}
}

func TestRemovedTableRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "[a]\nb = 1\n", "[a]\r\nb = 1\r\n", "# only a comment\n"} {
		out, err := MergeCredential([]byte(in), "c", "reg", "tok", false)
		if err != nil {
			t.Fatal(err)
		}
		back, err := RemoveCredentialText(out, "c", "reg", false)
		if err != nil || string(back) != in {
			t.Errorf("%q -> %q -> %q (%v)", in, out, back, err)
		}
	}
}
