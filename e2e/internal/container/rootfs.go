package container

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// System is the smallest Linux userland the tests' local images are made
// of, from the host's own files since nothing can be pulled: a static
// busybox with its applets in /bin, the CA bundle, and /etc/passwd, group,
// nsswitch.conf and hosts.
type System struct {
	Busybox string   // host path of a static busybox
	Applets []string // busybox --list, less busybox itself and bash
	CA      string   // host path of the CA bundle, "" when there is none
}

// HostSystem finds the host's static busybox, its applets and CA bundle.
func HostSystem(ctx context.Context) (*System, error) {
	s := &System{}
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			s.Busybox = p
			break
		}
	}
	if s.Busybox == "" {
		return nil, fmt.Errorf("busybox not found; install it with `apt-get install -y busybox-static`")
	}
	out, err := exec.CommandContext(ctx, s.Busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w (a static busybox is needed: apt-get install -y busybox-static)", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && a != "bash" && !strings.Contains(a, "/") {
			s.Applets = append(s.Applets, a)
		}
	}
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"} {
		if _, err := os.Stat(p); err == nil {
			s.CA = p
			break
		}
	}
	return s, nil
}

// Hash returns a short hash of format, the applets and the identity (path,
// size, modification time) of the system's files and of extra host files:
// an image tagged or labelled with it is made again when one changes.
func (s *System) Hash(format string, extra ...string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", format, strings.Join(s.Applets, ","))
	for _, p := range append([]string{s.Busybox, s.CA}, extra...) {
		if fi, err := os.Stat(p); p != "" && err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Tar writes a root filesystem: every entry owned by root, at a fixed time,
// parent folders made as needed.
type Tar struct {
	tw   *tar.Writer
	dirs map[string]bool
}

var epoch = time.Unix(0, 0)

// Dir adds the folder name (and its parents, 0755).
func (t *Tar) Dir(name string, mode int64) error {
	if t.dirs[name] || name == "." || name == "/" {
		return nil
	}
	if err := t.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	t.dirs[name] = true
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: epoch})
}

// Symlink adds name pointing at target.
func (t *Tar) Symlink(name, target string) error {
	if err := t.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch})
}

// Bytes adds a file holding data.
func (t *Tar) Bytes(name string, mode int64, data []byte) error {
	return t.copy(name, mode, int64(len(data)), bytes.NewReader(data))
}

// File adds the host file src (following symlinks) as name.
func (t *Tar) File(name, src string, mode int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return t.copy(name, mode, fi.Size(), f)
}

func (t *Tar) copy(name string, mode, size int64, r io.Reader) error {
	if err := t.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: epoch}); err != nil {
		return err
	}
	_, err := io.Copy(t.tw, r)
	return err
}

// Tree adds the host tree src under dst, keeping symlinks and modes; skip
// leaves out the paths (relative to src, slash-separated) it reports.
func (t *Tar) Tree(src, dst string, skip func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := path.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := int64(info.Mode().Perm())
		switch {
		case d.IsDir():
			return t.Dir(name, mode)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return t.Symlink(name, target)
		case info.Mode().IsRegular():
			return t.File(name, p, mode)
		}
		return nil
	})
}

// system adds the System's folders and files.
func (t *Tar) system(s *System) error {
	for _, d := range []struct {
		name string
		mode int64
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755}, {"usr/local/bin", 0o755},
		{"usr/local/sbin", 0o755}, {"etc/ssl/certs", 0o755}, {"root", 0o700}, {"home", 0o755}, {"opt", 0o755},
		{"tmp", 0o1777}, {"var/tmp", 0o1777}, {"var/run", 0o755},
	} {
		if err := t.Dir(d.name, d.mode); err != nil {
			return err
		}
	}
	if err := t.File("bin/busybox", s.Busybox, 0o755); err != nil {
		return err
	}
	for _, a := range s.Applets {
		if err := t.Symlink("bin/"+a, "busybox"); err != nil {
			return err
		}
	}
	if err := t.Symlink("usr/bin/env", "/bin/busybox"); err != nil {
		return err
	}
	for _, f := range [][2]string{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
		{"etc/nsswitch.conf", "hosts: files dns\n"},
		{"etc/hosts", "127.0.0.1 localhost\n"},
	} {
		if err := t.Bytes(f[0], 0o644, []byte(f[1])); err != nil {
			return err
		}
	}
	if s.CA == "" {
		return nil
	}
	return t.File("etc/ssl/certs/ca-certificates.crt", s.CA, 0o644)
}

// Import makes the image name with `podman import` from the System's files
// and what add writes, with the Dockerfile instructions changes (ENV, CMD,
// LABEL...).
func (e *Engine) Import(ctx context.Context, name string, s *System, changes []string, add func(*Tar) error) error {
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	cmd := e.Command(ctx, append(args, "-", name)...)
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("podman import: %w", err)
	}
	bw := bufio.NewWriterSize(pw, 1<<20)
	t := &Tar{tw: tar.NewWriter(bw), dirs: map[string]bool{}}
	werr := t.system(s)
	if werr == nil {
		werr = add(t)
	}
	if werr == nil {
		werr = t.tw.Close()
	}
	if werr == nil {
		werr = bw.Flush()
	}
	pw.CloseWithError(werr)
	err := cmd.Wait()
	if werr != nil {
		return fmt.Errorf("%s: write the root filesystem: %w", name, werr)
	}
	if err != nil {
		return fmt.Errorf("podman import %s: %w\n%s", name, err, tail(out.String(), 2000))
	}
	return nil
}
