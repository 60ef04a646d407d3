package cargoconf

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cargo-oidc/cargo-oidc/internal/fspath"
)

// MaxFileSize bounds every file read through Folders: a Cargo config or
// credentials file is a few kilobytes, and a larger one (a sparse file, a
// device) is refused before it is read.
const MaxFileSize = 1 << 20

// maxLinks bounds the symbolic links followed for one path, as Linux does.
const maxLinks = 40

// Folder is one folder the action may read and write in.
type Folder struct {
	// Dir is the folder as this process sees it (in the action's container,
	// /github/workspace).
	Dir string
	// HostDir is the same folder as later steps see it (the runner's path);
	// "" means Dir. Links written by the job name host paths, and errors
	// name host paths.
	HostDir string
	// Name is the folder as a user knows it, for messages: "the workspace".
	Name string
}

type folder struct {
	Folder
	root *os.Root
	err  error // why the folder could not be opened
}

// Folders is the set of folders the action may touch: every file is opened
// through an os.Root, so nothing outside them is read, written or deleted,
// whatever links the job planted. A symbolic link is followed while it stays
// inside a folder (a relative link, or an absolute one naming a path in one
// of the folders by its container or host path) and refused when it leaves
// with a *LinkError.
type Folders struct {
	list []*folder
}

// OpenFolders opens the folders. A folder with an empty Dir is left out, as
// is one inside another (the outer one covers it). A folder that cannot be
// opened is an error only when a path under it is used.
func OpenFolders(list ...Folder) *Folders {
	var keep []Folder
	for _, f := range list {
		if f.Dir == "" {
			continue
		}
		f.Dir = filepath.Clean(f.Dir)
		if f.HostDir == "" {
			f.HostDir = f.Dir
		}
		f.HostDir = filepath.Clean(f.HostDir)
		if f.Name == "" {
			f.Name = f.HostDir
		}
		keep = append(keep, f)
	}
	fl := &Folders{}
	for i, f := range keep {
		inner := false
		for j, o := range keep {
			if _, ok := fspath.Within(f.Dir, o.Dir); ok && (f.Dir != o.Dir || j < i) {
				inner = true
			}
		}
		if inner {
			continue
		}
		root, err := os.OpenRoot(f.Dir)
		fl.list = append(fl.list, &folder{Folder: f, root: root, err: err})
	}
	return fl
}

// Close closes the folders.
func (fl *Folders) Close() error {
	var errs []error
	for _, f := range fl.list {
		if f.root != nil {
			errs = append(errs, f.root.Close())
		}
	}
	return errors.Join(errs...)
}

// names lists the folders for messages: "the workspace and the runner's temp folder".
func (fl *Folders) names() string {
	var names []string
	seen := map[string]bool{}
	for _, f := range fl.list {
		if !seen[f.Name] {
			seen[f.Name] = true
			names = append(names, f.Name)
		}
	}
	switch len(names) {
	case 0:
		return "the folders the action may use"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// Display returns the host path of path (a path under one of the folders as
// this process sees it), for messages; other paths are returned as they are.
func (fl *Folders) Display(path string) string {
	f, rel, ok := fl.locate(path, false)
	if !ok {
		return path
	}
	return f.display(rel)
}

func (f *folder) display(rel string) string {
	if rel == "" {
		return f.HostDir
	}
	return filepath.Join(f.HostDir, rel)
}

func (f *folder) path(rel string) string {
	if rel == "" {
		return f.Dir
	}
	return filepath.Join(f.Dir, rel)
}

// locate finds the folder path lies in (the deepest one) and the path
// relative to it; host also matches the folders' host paths.
func (fl *Folders) locate(path string, host bool) (*folder, string, bool) {
	if !filepath.IsAbs(path) {
		return nil, "", false
	}
	var best *folder
	bestRel, bestLen := "", -1
	for _, f := range fl.list {
		dirs := []string{f.Dir}
		if host {
			dirs = append(dirs, f.HostDir)
		}
		for _, d := range dirs {
			if rel, ok := fspath.Within(path, d); ok && len(d) > bestLen {
				best, bestRel, bestLen = f, rel, len(d)
			}
		}
	}
	return best, bestRel, best != nil
}

// LinkError reports a path that leads through a symbolic link outside the
// folders the action may use. Nothing was read or written.
type LinkError struct {
	Path    string // the path asked for (host path)
	Link    string // the symbolic link (host path)
	Target  string // where the link points, as written in it
	Folders string // the folders, e.g. "the workspace and the runner's temp folder"
}

// Error names the link, its target and what to do.
func (e *LinkError) Error() string {
	s := fmt.Sprintf("%s is a symbolic link to %s, outside %s", e.Link, e.Target, e.Folders)
	if e.Path != e.Link {
		s = fmt.Sprintf("refusing %s: its folder %s", e.Path, s)
	} else {
		s = fmt.Sprintf("refusing %s: it is a symbolic link to %s, outside %s", e.Path, e.Target, e.Folders)
	}
	return s + "; the action reads and writes only inside them (a link that stays inside is followed): replace the link with a file or folder of its own, or choose a path inside them"
}

// OutsideError reports a path that is not under any of the folders.
type OutsideError struct {
	Path    string
	Folders string
}

// Error names the path and the folders it should be in.
func (e *OutsideError) Error() string {
	return fmt.Sprintf("%s is outside %s, the only places the action reads and writes; choose a path inside them", e.Path, e.Folders)
}

// TooLargeError reports a file larger than MaxFileSize; it was not read.
type TooLargeError struct {
	Path  string
	Size  int64 // -1 when unknown (the file grew while being read)
	Limit int64 // the limit in bytes; 0 means MaxFileSize, the limit for a Cargo file
}

// Error names the file, its size and the limit.
func (e *TooLargeError) Error() string {
	if e.Limit > 0 && e.Limit != MaxFileSize {
		size := fmt.Sprintf("more than %d bytes", e.Limit)
		if e.Size >= 0 {
			size = fmt.Sprintf("%d bytes", e.Size)
		}
		return fmt.Sprintf("%s is %s, over the %d-byte limit, and was not read", e.Path, size, e.Limit)
	}
	size := "more than 1 MiB"
	if e.Size >= 0 {
		size = fmt.Sprintf("%d bytes", e.Size)
	}
	return fmt.Sprintf("%s is %s, over the %d MiB limit for a Cargo file, and was not read: check that the path names the right file", e.Path, size, MaxFileSize>>20)
}

// split returns the components of a relative path (a path from
// fspath.Within, or a link's target), split at the system's separators: on
// Windows both \ and /.
func split(rel string) []string { return fspath.Split(rel) }

// join appends a component to a path relative to a folder's os.Root, with
// the system's separator (os.Root on Windows takes \ and /).
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + string(filepath.Separator) + name
}

func parentOf(rel string) string {
	d := filepath.Dir(rel)
	if d == "." {
		return ""
	}
	return d
}

// resolved is a path with its links resolved: rel under f, and the final
// component's information when it exists.
type resolved struct {
	f   *folder
	rel string
	fi  os.FileInfo // nil when the file does not exist yet
}

// open finds the folder path is under and opens it: the folder, path
// relative to it, the host path for messages, and an *OutsideError when path
// is under none of them.
func (fl *Folders) open(path string) (f *folder, rel, shown string, err error) {
	f, rel, ok := fl.locate(path, false)
	if !ok {
		return nil, "", "", &OutsideError{Path: path, Folders: fl.names()}
	}
	shown = f.display(rel)
	if f.err != nil {
		return nil, "", "", fmt.Errorf("cannot open %s (for %s): %w", f.HostDir, shown, f.err)
	}
	return f, rel, shown, nil
}

// resolve follows path's symbolic links as long as they stay inside the
// folders. A missing component ends the walk: the rest is created on write.
func (fl *Folders) resolve(path string) (resolved, error) {
	f, rel, shown, err := fl.open(path)
	if err != nil {
		return resolved{}, err
	}
	if rel == "" {
		return resolved{}, fmt.Errorf("cannot use %s: it is a folder; give the path of a file", shown)
	}
	done, rest, links := "", split(rel), 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if err := fspath.CheckName(c); err != nil {
			// A Windows device name (NUL, CON.txt), a name Windows would
			// change (a trailing dot) or a stream (a:b), in the path or in
			// a link's target: os.Root refuses these too, without saying why.
			return resolved{}, fmt.Errorf("cannot use %s: %w", shown, err)
		}
		switch c {
		case ".":
			continue
		case "..":
			// Only a link's target brings "..": the path itself is clean.
			if done == "" {
				return resolved{}, fmt.Errorf("refusing %s: a symbolic link on the way leads above %s; the action reads and writes only inside %s: replace the link, or choose a path inside them", shown, f.HostDir, fl.names())
			}
			done = parentOf(done)
			continue
		}
		next := join(done, c)
		fi, err := f.root.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			for _, r := range rest {
				if r == ".." {
					return resolved{}, fmt.Errorf("cannot use %s: %s does not exist: %w", shown, f.display(next), fs.ErrNotExist)
				}
			}
			return resolved{f: f, rel: filepath.Join(append([]string{next}, rest...)...)}, nil
		}
		if err != nil {
			return resolved{}, fmt.Errorf("cannot use %s: %w", shown, f.unroot(err))
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if links++; links > maxLinks {
				return resolved{}, fmt.Errorf("cannot use %s: more than %d symbolic links on the way", shown, maxLinks)
			}
			if f, done, rest, err = fl.followLink(f, shown, done, next, rest); err != nil {
				return resolved{}, err
			}
			continue
		}
		if len(rest) > 0 && !fi.IsDir() {
			return resolved{}, fmt.Errorf("cannot use %s: %s is not a folder", shown, f.display(next))
		}
		done = next
		if len(rest) == 0 {
			return resolved{f: f, rel: done, fi: fi}, nil
		}
	}
	// A link's target ended in "." or "..": done is a folder.
	if done == "" {
		return resolved{}, fmt.Errorf("cannot use %s: it leads to the folder %s; give the path of a file", shown, f.HostDir)
	}
	fi, err := f.root.Lstat(done)
	if err != nil {
		return resolved{}, fmt.Errorf("cannot use %s: %w", shown, f.unroot(err))
	}
	return resolved{f: f, rel: done, fi: fi}, nil
}

// followLink reads the symbolic link next (in folder f, whose walk has
// reached done) and returns where the walk goes on: the folder, the part of
// it walked, and the components left. A link leaving the folders is a
// *LinkError.
func (fl *Folders) followLink(f *folder, shown, done, next string, rest []string) (*folder, string, []string, error) {
	target, err := f.root.Readlink(next)
	if err != nil {
		return nil, "", nil, fmt.Errorf("cannot use %s: %w", shown, f.unroot(err))
	}
	outside := &LinkError{Path: shown, Link: f.display(next), Target: target, Folders: fl.names()}
	if fspath.IsRooted(target) && !filepath.IsAbs(target) {
		// On Windows, \x or C:x: relative to the current drive or to the
		// drive's current folder, which the action cannot know.
		return nil, "", nil, outside
	}
	if filepath.IsAbs(target) {
		nf, nrel, ok := fl.locate(target, true)
		if !ok || nf.err != nil {
			return nil, "", nil, outside
		}
		return nf, "", append(split(nrel), rest...), nil
	}
	if escapes(done, target) {
		return nil, "", nil, outside
	}
	return f, done, append(split(target), rest...), nil
}

// escapes reports whether a relative link target, read in folder dir
// (relative to the root), climbs above the root at any point.
func escapes(dir, target string) bool {
	depth := 0
	for _, c := range append(split(dir), split(target)...) {
		switch c {
		case ".":
		case "..":
			if depth--; depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// unroot drops the path of a *PathError (relative to the root, and the
// temporary file's at that): every message names the file by its host path.
func (f *folder) unroot(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// notRegular describes why fi is not a file the action may read or replace.
func notRegular(shown string, fi os.FileInfo) error {
	switch t := fi.Mode().Type(); {
	case fi.Mode().IsRegular():
		return nil
	case fi.IsDir():
		return fmt.Errorf("cannot use %s: it is a folder; give the path of a file", shown)
	default:
		return fmt.Errorf("cannot use %s: it is not a regular file (%s); give the path of a file", shown, t)
	}
}

// read reads the resolved file r, bounded by MaxFileSize. A missing file
// gives (nil, nil).
func (r resolved) read() ([]byte, error) {
	shown := r.f.display(r.rel)
	if r.fi == nil {
		return nil, nil
	}
	if err := notRegular(shown, r.fi); err != nil {
		return nil, err
	}
	return r.readLimited(0, MaxFileSize, func(shown string) error {
		return fmt.Errorf("cannot read %s: it was replaced while being read; run again", shown)
	})
}

// readLimited reads the regular file r (opened with the extra flag),
// refusing more than limit bytes with a *TooLargeError, and a file that is
// not the one r found with the error replaced makes.
func (r resolved) readLimited(flag int, limit int64, replaced func(shown string) error) ([]byte, error) {
	shown := r.f.display(r.rel)
	if r.fi.Size() > limit {
		return nil, &TooLargeError{Path: shown, Size: r.fi.Size(), Limit: limit}
	}
	file, err := r.f.root.OpenFile(r.rel, os.O_RDONLY|flag|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", shown, r.f.unroot(err))
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", shown, err)
	}
	if !os.SameFile(fi, r.fi) {
		return nil, replaced(shown)
	}
	data, err := io.ReadAll(io.LimitReader(file, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", shown, err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Path: shown, Size: -1, Limit: limit}
	}
	return data, nil
}

// mkdirAll creates the missing folders of rel (resolved: its existing part
// holds no link), mode perm, given to owner. It returns the folders it
// created, outermost first.
func (f *folder) mkdirAll(rel string, perm os.FileMode, owner Owner) ([]string, error) {
	var created []string
	cur := ""
	for _, c := range split(rel) {
		cur = join(cur, c)
		fi, err := f.root.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return created, fmt.Errorf("cannot create folder %s: a file of that name exists", f.display(cur))
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return created, fmt.Errorf("cannot create folder %s: %w", f.display(cur), f.unroot(err))
		}
		if err := f.root.Mkdir(cur, perm); err != nil {
			return created, fmt.Errorf("cannot create folder %s: %w", f.display(cur), f.unroot(err))
		}
		created = append(created, cur)
		if err := f.root.Chmod(cur, perm); err != nil { // not subject to the umask
			return created, fmt.Errorf("cannot set the mode of folder %s: %w", f.display(cur), f.unroot(err))
		}
		if owner.Set {
			if err := f.root.Lchown(cur, owner.UID, owner.GID); err != nil {
				return created, fmt.Errorf("cannot give folder %s to user %d, group %d: %w", f.display(cur), owner.UID, owner.GID, f.unroot(err))
			}
		}
	}
	return created, nil
}

// writeAtomic replaces rel (resolved) with what src holds: a temporary file
// in the same folder is created with mode 0600, given to owner, set to perm,
// filled, synced and renamed over rel; then the folder is synced. On error
// rel is untouched. It returns the identity of the new file.
func (f *folder) writeAtomic(rel string, src io.Reader, perm os.FileMode, owner Owner) (id FileID, err error) {
	shown := f.display(rel)
	dir, base := parentOf(rel), filepath.Base(rel)
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return FileID{}, fmt.Errorf("cannot write %s: %w", shown, err)
	}
	tmp := join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
	file, err := f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return FileID{}, fmt.Errorf("cannot write %s: %w", shown, f.unroot(err))
	}
	defer func() {
		if err != nil {
			file.Close()
			_ = f.root.Remove(tmp)
		}
	}()
	if owner.Set {
		if err = file.Chown(owner.UID, owner.GID); err != nil {
			return FileID{}, fmt.Errorf("cannot give %s to user %d, group %d: %w", shown, owner.UID, owner.GID, f.unroot(err))
		}
	}
	if err = file.Chmod(perm); err != nil {
		return FileID{}, fmt.Errorf("cannot write %s: %w", shown, f.unroot(err))
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(file, h), src)
	if err != nil {
		return FileID{}, fmt.Errorf("cannot write %s: %w", shown, f.unroot(err))
	}
	if err = file.Sync(); err != nil {
		return FileID{}, fmt.Errorf("cannot write %s: %w", shown, f.unroot(err))
	}
	fi, err := file.Stat()
	if err != nil {
		return FileID{}, fmt.Errorf("cannot write %s: %w", shown, f.unroot(err))
	}
	if err = file.Close(); err != nil {
		return FileID{}, fmt.Errorf("cannot write %s: %w", shown, f.unroot(err))
	}
	if err = f.root.Rename(tmp, rel); err != nil {
		return FileID{}, fmt.Errorf("cannot write %s: %w", shown, f.unroot(err))
	}
	if d, derr := f.root.Open(orDot(dir)); derr == nil {
		_ = d.Sync() // best effort: some file systems cannot sync folders
		d.Close()
	}
	id = identity(fi)
	id.Size = n
	copy(id.SHA256[:], h.Sum(nil))
	return id, nil
}

func orDot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// Check reports whether Install could write path, without writing: the path
// resolves inside the folders and names a regular file or nothing yet.
func (fl *Folders) Check(path string) error {
	r, err := fl.resolve(path)
	if err != nil || r.fi == nil {
		return err
	}
	return notRegular(r.f.display(r.rel), r.fi)
}

// Install writes what src holds to path (for example the provider binary)
// through the same atomic writer as the Cargo files, with mode perm. Links
// are followed while they stay inside the folders. Missing folders are
// created with mode 0755; they and the file are given to owner.
func (fl *Folders) Install(path string, src io.Reader, perm os.FileMode, owner Owner) error {
	r, err := fl.resolve(path)
	if err != nil {
		return err
	}
	if r.fi != nil {
		if err := notRegular(r.f.display(r.rel), r.fi); err != nil {
			return err
		}
	}
	if _, err := r.f.mkdirAll(parentOf(r.rel), 0o755, owner); err != nil {
		return err
	}
	_, err = r.f.writeAtomic(r.rel, src, perm, owner)
	return err
}
