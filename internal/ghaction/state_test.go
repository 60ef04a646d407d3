package ghaction

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

func TestParseStateFile(t *testing.T) {
	type test struct {
		data string
		want map[string]string
		bad  bool
	}
	testenv.Run(t, map[string]test{
		"empty": {data: "", want: map[string]string{}},
		"plain": {data: "provider=jfrog\nurl=https://x/a=b\n", want: map[string]string{"provider": "jfrog", "url": "https://x/a=b"}},
		"heredoc": {
			data: "token<<ghadelimiter_1\nsecret\nghadelimiter_1\nrevoke<<D\ntrue\nD\n",
			want: map[string]string{"token": "secret", "revoke": "true"},
		},
		"heredoc with = and <<":                    {data: "a<<E\nx=y<<z\nE\n", want: map[string]string{"a": "x=y<<z"}},
		"multi-line and empty heredoc":             {data: "a<<E\n1\n\n2\nE\nb<<F\nF\n", want: map[string]string{"a": "1\n\n2", "b": ""}},
		"later wins":                               {data: "a=1\na<<E\n2\nE\n", want: map[string]string{"a": "2"}},
		"windows line ends, BOM, no final newline": {data: "\xef\xbb\xbfa=1\r\nb<<E\r\n2\r\nE", want: map[string]string{"a": "1", "b": "2"}},
		"blank lines":                              {data: "\n\na=1\n\n", want: map[string]string{"a": "1"}},
		"name = before <<":                         {data: "a=b<<c\n", want: map[string]string{"a": "b<<c"}},
		"missing end delimiter":                    {data: "token<<E\nsecret\n", bad: true},
		"neither form":                             {data: "garbage\n", bad: true},
		"empty name":                               {data: "=x\n", bad: true},
		"empty heredoc name":                       {data: "<<E\nx\nE\n", bad: true},
		"empty delimiter":                          {data: "a<<\nx\n\n", bad: true},
	}, func(t *testing.T, _ string, tt test) {
		got, err := ParseStateFile([]byte(tt.data))
		if tt.bad {
			if !errors.Is(err, ErrBadStateFile) {
				t.Fatalf("ParseStateFile(%q) = %v, %v; want ErrBadStateFile", tt.data, got, err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error quotes a value: %v", err)
			}
			return
		}
		if err != nil || !maps.Equal(got, tt.want) {
			t.Fatalf("ParseStateFile(%q) = %q, %v; want %q", tt.data, got, err, tt.want)
		}
	})
}

// TestReadStateFileWritten: what FileCommands writes to GITHUB_STATE reads
// back; a missing or oversized file is an error.
func TestReadStateFileWritten(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	path := filepath.Join(dir, "state")
	c := NewFileCommands(testenv.Getenv(map[string]string{"GITHUB_STATE": path}), nil)
	want := map[string]string{"provider": "crates-io", "token": "cio_tp_x", "registry-name": "crates-io", "empty": ""}
	for k, v := range want {
		if err := c.Set(StateFile, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStateFile(path)
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("ReadStateFile = %q, %v; want %q", got, err, want)
	}
	if _, err := ReadStateFile(filepath.Join(dir, "none")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadStateFile(missing) = %v, want not-exist", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte("a="+strings.Repeat("x", MaxStateFile)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStateFile(big); !errors.Is(err, ErrBadStateFile) {
		t.Errorf("ReadStateFile(oversized) = %v, want ErrBadStateFile", err)
	}
}

func TestStateAndCompositeGetenv(t *testing.T) {
	t.Parallel()
	base := testenv.Getenv(map[string]string{
		"STATE_token": "from-env", "INPUT_PROVIDER": "from-input", "INPUT_REGISTRY-NAME": "from-input",
		"CARGO_OIDC_IN_PROVIDER": "jfrog", "CARGO_OIDC_IN_REGISTRY_NAME": "corp", "HOME": "/h",
	})
	st := StateGetenv(base, map[string]string{"token": "from-file"})
	cp := CompositeGetenv(base)
	tests := []struct {
		getenv    func(string) string
		key, want string
	}{
		{st, "STATE_token", "from-file"},
		{st, "STATE_provider", ""},
		{st, "HOME", "/h"},
		{st, "INPUT_PROVIDER", "from-input"},
		{cp, "INPUT_PROVIDER", "jfrog"},
		{cp, "INPUT_REGISTRY-NAME", "corp"},
		{cp, "INPUT_URL", ""},
		{cp, "HOME", "/h"},
		{cp, "STATE_token", "from-env"},
	}
	for _, tt := range tests {
		if got := tt.getenv(tt.key); got != tt.want {
			t.Errorf("getenv(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// FuzzParseStateFile: every entry FileCommands writes reads back with its
// value, and no input makes the parser panic.
func FuzzParseStateFile(f *testing.F) {
	for _, s := range []string{"a=b\n", "a<<E\nv\nE\n", "a<<E\n", "<<\n", "\r\n=\n", "x"} {
		f.Add([]byte(s), "name", "value")
	}
	f.Fuzz(func(t *testing.T, data []byte, name, value string) {
		_, _ = ParseStateFile(data)
		path := filepath.Join(testenv.TempDir(t), "state")
		c := NewFileCommands(testenv.Getenv(map[string]string{"GITHUB_STATE": path}), nil)
		if err := c.Set(StateFile, "first", "1"); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(StateFile, name, value); err != nil {
			return
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		got, err := ReadStateFile(path)
		if err != nil {
			t.Fatalf("what FileCommands wrote does not parse: %v", err)
		}
		if name != "first" && (got[name] != value || got["first"] != "1") {
			t.Fatalf("entry %q=%q read back as %q", name, value, got)
		}
	})
}
