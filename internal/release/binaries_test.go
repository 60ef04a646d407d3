package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// fakeSums are checksums for every target: the SHA-256 of each asset's name.
func fakeSums() []Sum {
	var sums []Sum
	for _, t := range Targets {
		sums = append(sums, SumOf(t.Asset(), []byte(t.Asset())))
	}
	return sums
}

func TestTargetsAndAssets(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"linux/amd64": "cargo-oidc-linux-amd64", "linux/arm64": "cargo-oidc-linux-arm64",
		"darwin/amd64": "cargo-oidc-darwin-amd64", "darwin/arm64": "cargo-oidc-darwin-arm64",
		"windows/amd64": "cargo-oidc-windows-amd64.exe", "windows/arm64": "cargo-oidc-windows-arm64.exe",
	}
	if len(Targets) != len(want) {
		t.Fatalf("%d targets, want %d", len(Targets), len(want))
	}
	for _, tg := range Targets {
		if got := tg.Asset(); got != want[tg.String()] {
			t.Errorf("%s: asset %q, want %q", tg, got, want[tg.String()])
		}
		p, err := ParseTarget(tg.String())
		if err != nil || p != tg {
			t.Errorf("ParseTarget(%q) = %v, %v", tg, p, err)
		}
	}
	for _, bad := range []string{"", "linux", "linux/386", "freebsd/amd64", "LINUX/AMD64", "linux/amd64/x"} {
		if _, err := ParseTarget(bad); err == nil || !strings.Contains(err.Error(), "is not released") {
			t.Errorf("ParseTarget(%q): err %v, want 'is not released'", bad, err)
		}
	}
}

func TestBuildArgs(t *testing.T) {
	t.Parallel()
	got := strings.Join(BuildArgs("v1.2.3", "/out/x"), " ")
	for _, want := range []string{"-trimpath", "-tags nethttpomithttp2", "-X main.version=v1.2.3", "-s -w", "-o /out/x"} {
		if !strings.Contains(got, want) {
			t.Errorf("go %s: missing %q", got, want)
		}
	}
}

func TestValidateVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v  string
		ok bool
	}{
		{"v1.2.3", true}, {"v0.1.0", true}, {"v1.2.3-rc.1", true}, {"v10.20.30-alpha-2", true},
		{"1.2.3", false}, {"v1.2", false}, {"v01.2.3", false}, {"v1.2.3 ", false}, {"", false},
		{"v1.2.3/../x", false}, {"v1.2.3\n", false}, {"latest", false},
	}
	for _, tt := range tests {
		if err := ValidateVersion(tt.v); (err == nil) != tt.ok {
			t.Errorf("ValidateVersion(%q) = %v, want ok=%v", tt.v, err, tt.ok)
		}
	}
}

// TestSetupFilesGolden: the files a release commit adds to setup/, for a
// fixed set of checksums, byte for byte.
func TestSetupFilesGolden(t *testing.T) {
	t.Parallel()
	files, err := SetupFiles("v1.2.3", fakeSums())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files, want SHA256SUMS and VERSION", len(files))
	}
	if got := string(files[SetupVersionFile]); got != "v1.2.3\n" {
		t.Errorf("VERSION = %q", got)
	}
	testenv.Golden(t, filepath.Join("testdata", "SHA256SUMS.golden"), files[SetupSumsFile])
	parsed, err := ParseSums(files[SetupSumsFile])
	if err != nil || len(parsed) != len(Targets) {
		t.Fatalf("ParseSums(golden) = %d sums, %v", len(parsed), err)
	}
}

func TestSetupFilesRefuses(t *testing.T) {
	type test struct {
		version string
		sums    []Sum
		want    string
	}
	testenv.Run(t, map[string]test{
		"bad version":         {"1.2.3", fakeSums(), "is not vMAJOR.MINOR.PATCH"},
		"a target missing":    {"v1.2.3", fakeSums()[1:], "no checksum for cargo-oidc-linux-amd64"},
		"a name twice":        {"v1.2.3", append(fakeSums(), fakeSums()[0]), "listed twice"},
		"bad hash":            {"v1.2.3", append(fakeSums(), Sum{Name: "x", Hex: "ABC"}), "not 64 lower-case hex digits"},
		"a path as name":      {"v1.2.3", append(fakeSums(), SumOf("../x", nil)), "not a plain release file name"},
		"a name with a space": {"v1.2.3", append(fakeSums(), SumOf("a b", nil)), "not a plain release file name"},
	}, func(t *testing.T, _ string, tt test) {
		_, err := SetupFiles(tt.version, tt.sums)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err %v, want %q", err, tt.want)
		}
	})
}

func TestParseSums(t *testing.T) {
	h := strings.Repeat("ab", 32)
	type test struct {
		in   string
		want []Sum
		err  string
	}
	testenv.Run(t, map[string]test{
		"empty":                 {"", nil, ""},
		"text mode":             {h + "  a\n", []Sum{{"a", h}}, ""},
		"binary mode":           {h + " *a\n", []Sum{{"a", h}}, ""},
		"crlf and blank lines":  {"\r\n" + h + "  a\r\n\n", []Sum{{"a", h}}, ""},
		"no newline at the end": {h + "  a", []Sum{{"a", h}}, ""},
		"upper-case hash":       {strings.ToUpper(h) + "  a\n", nil, "line 1"},
		"short hash":            {h[:60] + "  a\n", nil, "line 1"},
		"one space":             {h + " a\n", nil, "two spaces"},
		"path":                  {h + "  ../a\n", nil, "not a plain release file name"},
		"twice":                 {h + "  a\n" + h + "  a\n", nil, "line 2: a is listed twice"},
		"comment":               {"# sums\n", nil, "line 1"},
	}, func(t *testing.T, _ string, tt test) {
		got, err := ParseSums([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err %v, want %q", err, tt.err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("got %v, want %v", got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("sum %d = %v, want %v", i, got[i], tt.want[i])
			}
		}
	})
}

func FuzzParseSums(f *testing.F) {
	golden, _ := os.ReadFile(filepath.Join("testdata", "SHA256SUMS.golden"))
	f.Add(golden)
	f.Add([]byte(strings.Repeat("0", 64) + " *x\r\n"))
	f.Add([]byte("zz  a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := ParseSums(data)
		if err != nil {
			return
		}
		// What parses formats back and parses to the same sums.
		out, err := FormatSums(sums)
		if err != nil {
			t.Fatalf("FormatSums of parsed sums: %v", err)
		}
		again, err := ParseSums(out)
		if err != nil || len(again) != len(sums) {
			t.Fatalf("round trip: %d sums, %v; want %d", len(again), err, len(sums))
		}
		seen := map[string]string{}
		for _, s := range sums {
			seen[s.Name] = s.Hex
		}
		for _, s := range again {
			if seen[s.Name] != s.Hex {
				t.Fatalf("round trip changed %s", s.Name)
			}
		}
	})
}

func TestPinImage(t *testing.T) {
	t.Parallel()
	main := realActionYAML(t)
	local := "127.0.0.1:5000/cargo-oidc/cargo-oidc:1.2.3@" + digest
	got, err := PinImage(main, local)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "image: docker://"+local+"\n") {
		t.Errorf("runs.image not pinned:\n%s", got)
	}
	// The release itself still insists on GHCR.
	if _, err := ReleaseActionYAML(main, local); err == nil {
		t.Error("ReleaseActionYAML accepted an image outside ghcr.io")
	}
	for _, bad := range []string{"127.0.0.1:5000/cargo-oidc:1.2.3", "cargo-oidc@" + digest, "127.0.0.1:5000/x@sha256:abc", "127.0.0.1:5000/X@" + digest} {
		if _, err := PinImage(main, bad); err == nil {
			t.Errorf("PinImage accepted %q", bad)
		}
	}
}

func TestWriteFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(testenv.TempDir(t), "f")
	for _, data := range []string{"one\n", "two\n"} {
		if err := WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != data {
			t.Errorf("file holds %q, want %q", got, data)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("%d entries in the folder, want only the file (no temporary left)", len(entries))
	}
	if err := WriteFile(filepath.Join(p, "below-a-file"), nil, 0o644); err == nil {
		t.Error("writing below a file succeeded")
	}
}
