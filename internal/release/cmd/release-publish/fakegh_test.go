package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The fake GitHub CLI is this test binary, run through a symbolic link
// named gh (see newWorld). It keeps GitHub releases in a folder next to its
// bin folder, ROOT/gh/releases/TAG/{release.json,assets/NAME}, appends
// every call to ROOT/gh/calls.jsonl, and behaves as gh does where the
// release workflow depends on it:
//   - release view: "release not found" on stderr, exit 1, for no release;
//   - release create: makes a draft, uploads the files, then publishes
//     (gh does the same when given files); ROOT/gh/fail with "create:N"
//     stops after N files with the draft left, "create:0" before anything;
//   - release upload: refuses a name that exists unless --clobber;
//   - release download --pattern NAME --dir DIR; release edit.

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "gh" {
		if err := fakeGH(filepath.Dir(filepath.Dir(os.Args[0])), os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeRelease is a release as the fake stores it.
type fakeRelease struct {
	Tag        string `json:"tag"`
	Draft      bool   `json:"draft"`
	Prerelease bool   `json:"prerelease"`
	Latest     string `json:"latest"` // the last --latest value given
	Title      string `json:"title"`
	Notes      string `json:"notes"`
}

type fakeState struct{ dir string }

func (s fakeState) relDir(tag string) string { return filepath.Join(s.dir, "releases", tag) }

func (s fakeState) load(tag string) (*fakeRelease, error) {
	b, err := os.ReadFile(filepath.Join(s.relDir(tag), "release.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r fakeRelease
	return &r, json.Unmarshal(b, &r)
}

func (s fakeState) save(r *fakeRelease) error {
	if err := os.MkdirAll(filepath.Join(s.relDir(r.Tag), "assets"), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.relDir(r.Tag), "release.json"), b, 0o644)
}

// assets lists a release's asset names, sorted.
func (s fakeState) assets(tag string) []string {
	entries, _ := os.ReadDir(filepath.Join(s.relDir(tag), "assets"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func (s fakeState) asset(tag, name string) string {
	return filepath.Join(s.relDir(tag), "assets", name)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ghArgs splits gh's arguments into positional ones and --flag[=value]
// ones; flags that take a value take the next argument.
func ghArgs(args []string, withValue ...string) (pos []string, flags map[string]string) {
	flags = map[string]string{}
	takes := map[string]bool{}
	for _, f := range withValue {
		takes[f] = true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			pos = append(pos, a)
			continue
		}
		name, val, ok := strings.Cut(a[2:], "=")
		if !ok && takes[name] && i+1 < len(args) {
			i++
			val = args[i]
		} else if !ok {
			val = "true"
		}
		flags[name] = val
	}
	return pos, flags
}

func fakeGH(root string, args []string) error {
	s := fakeState{dir: filepath.Join(root, "gh")}
	line, _ := json.Marshal(args)
	f, err := os.OpenFile(filepath.Join(s.dir, "calls.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "%s\n", line)
	f.Close()
	if len(args) < 3 || args[0] != "release" {
		return fmt.Errorf("fake gh: unexpected call %q", args)
	}
	pos, flags := ghArgs(args[2:], "json", "title", "notes", "pattern", "dir")
	tag := pos[0]
	r, err := s.load(tag)
	if err != nil {
		return err
	}
	switch args[1] {
	case "view":
		if r == nil {
			return errors.New("release not found")
		}
		if flags["json"] != "tagName,isDraft,isPrerelease,assets" {
			return fmt.Errorf("fake gh: unexpected --json %q", flags["json"])
		}
		type asset struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		}
		out := struct {
			TagName      string  `json:"tagName"`
			IsDraft      bool    `json:"isDraft"`
			IsPrerelease bool    `json:"isPrerelease"`
			Assets       []asset `json:"assets"`
		}{TagName: tag, IsDraft: r.Draft, IsPrerelease: r.Prerelease, Assets: []asset{}}
		for _, n := range s.assets(tag) {
			fi, err := os.Stat(s.asset(tag, n))
			if err != nil {
				return err
			}
			out.Assets = append(out.Assets, asset{n, fi.Size()})
		}
		return json.NewEncoder(os.Stdout).Encode(out)
	case "create":
		if r != nil {
			return errors.New("a release with the same tag name already exists: " + tag)
		}
		if flags["verify-tag"] != "true" {
			return errors.New("fake gh: create without --verify-tag")
		}
		fail, _ := os.ReadFile(filepath.Join(s.dir, "fail"))
		if string(fail) == "create:0" {
			return errors.New("HTTP 502: Bad Gateway (fake)")
		}
		r = &fakeRelease{Tag: tag, Draft: true, Prerelease: flags["prerelease"] == "true",
			Latest: flags["latest"], Title: flags["title"], Notes: flags["notes"]}
		if err := s.save(r); err != nil {
			return err
		}
		for i, file := range pos[1:] {
			if string(fail) == fmt.Sprintf("create:%d", i) {
				return errors.New("HTTP 502: Bad Gateway (fake) uploading " + filepath.Base(file))
			}
			if err := copyFile(s.asset(tag, filepath.Base(file)), file); err != nil {
				return err
			}
		}
		r.Draft = false
		return s.save(r)
	case "upload":
		if r == nil {
			return errors.New("release not found")
		}
		for _, file := range pos[1:] {
			dst := s.asset(tag, filepath.Base(file))
			if _, err := os.Stat(dst); err == nil && flags["clobber"] != "true" {
				return fmt.Errorf("asset under the same name already exists: [%s]", filepath.Base(file))
			}
			if err := copyFile(dst, file); err != nil {
				return err
			}
		}
		return nil
	case "download":
		if r == nil {
			return errors.New("release not found")
		}
		name := flags["pattern"]
		if _, err := os.Stat(s.asset(tag, name)); err != nil {
			return errors.New("no assets match the file pattern")
		}
		return copyFile(filepath.Join(flags["dir"], name), s.asset(tag, name))
	case "edit":
		if r == nil {
			return errors.New("release not found")
		}
		if v, ok := flags["draft"]; ok {
			r.Draft = v == "true"
		}
		if v, ok := flags["prerelease"]; ok {
			r.Prerelease = v == "true"
		}
		if v, ok := flags["latest"]; ok {
			r.Latest = v
		}
		return s.save(r)
	}
	return fmt.Errorf("fake gh: unexpected call %q", args)
}
