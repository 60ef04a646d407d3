package release

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestParseFlags: flags parse; a stray argument, an unknown flag and -h are
// errors, the last two after the usage on stderr.
func TestParseFlags(t *testing.T) {
	type test struct {
		args      []string
		want      string // in the error; "" for none
		wantUsage bool   // the usage is on stderr
	}
	testenv.Run(t, map[string]test{
		"flags":          {[]string{"--out", "d"}, "", false},
		"stray argument": {[]string{"--out", "d", "extra"}, `unexpected argument "extra"`, false},
		"unknown flag":   {[]string{"--in", "x"}, "flag provided but not defined: -in", true},
		"help":           {[]string{"-h"}, flag.ErrHelp.Error(), true},
	}, func(t *testing.T, _ string, tt test) {
		fs := flag.NewFlagSet("release-x", flag.ContinueOnError)
		out := fs.String("out", "", "the output folder")
		var stderr bytes.Buffer
		err := ParseFlags(fs, tt.args, &stderr)
		switch {
		case tt.want == "" && (err != nil || *out != "d"):
			t.Fatalf("ParseFlags(%q) = %v, --out %q; want nil, d", tt.args, err, *out)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Fatalf("ParseFlags(%q) = %v, want %q", tt.args, err, tt.want)
		}
		if usage := strings.Contains(stderr.String(), "the output folder"); usage != tt.wantUsage {
			t.Errorf("usage on stderr %v, want %v:\n%s", usage, tt.wantUsage, stderr.String())
		}
	})
}

// TestExitCode: a failure is one line on stderr and exit code 1; success and
// -h are 0 and silent.
func TestExitCode(t *testing.T) {
	type test struct {
		err        error
		code       int
		wantStderr string
	}
	testenv.Run(t, map[string]test{
		"success": {nil, 0, ""},
		"help":    {fmt.Errorf("parse: %w", flag.ErrHelp), 0, ""},
		"failure": {errors.New("--out is required"), 1, "release-x: --out is required\n"},
	}, func(t *testing.T, _ string, tt test) {
		var stderr bytes.Buffer
		if code := ExitCode("release-x", tt.err, &stderr); code != tt.code || stderr.String() != tt.wantStderr {
			t.Errorf("ExitCode(%v) = %d, stderr %q; want %d, %q", tt.err, code, stderr.String(), tt.code, tt.wantStderr)
		}
	})
}
