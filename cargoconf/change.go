package cargoconf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Kind says which Cargo file a Change writes.
type Kind int

// The Cargo files.
const (
	ConfigFile Kind = iota + 1
	CredentialsFile
)

// String names the file kind for messages.
func (k Kind) String() string {
	switch k {
	case ConfigFile:
		return "config file"
	case CredentialsFile:
		return "credentials file"
	}
	return "file"
}

// Change is a planned write of one Cargo file: what it will hold, and what
// it held before, so that Rollback can put it back.
type Change struct {
	Kind Kind
	// Path is the path asked for (as this process sees it).
	Path string
	// Target is the file written: Path with its symbolic links resolved,
	// as this process sees it.
	Target string
	// Data is the new content.
	Data []byte
	// Existed reports whether the file existed before.
	Existed bool

	f       *folder
	rel     string
	before  []byte
	mode    os.FileMode // the existing file's mode
	owner   Owner       // the existing file's owner (Set when running as root)
	written bool
	dirs    []string // folders Apply created, outermost first
	id      FileID
}

// ID returns the identity of the file Apply wrote (zero before).
func (c *Change) ID() FileID { return c.id }

// Created reports whether Apply created the file (it did not exist before).
func (c *Change) Created() bool { return c.written && !c.Existed }

// Changed reports whether applying c changes anything.
func (c *Change) Changed() bool { return !c.Existed || !bytes.Equal(c.Data, c.before) }

// plan resolves path and reads what it holds.
func (fl *Folders) plan(path string, kind Kind) (*Change, string, error) {
	r, err := fl.resolve(path)
	if err != nil {
		return nil, "", err
	}
	before, err := r.read()
	if err != nil {
		return nil, "", err
	}
	c := &Change{Kind: kind, Path: path, Target: r.f.path(r.rel), Existed: r.fi != nil, f: r.f, rel: r.rel, before: before}
	if r.fi != nil {
		c.mode, c.owner = r.fi.Mode().Perm(), ownerOfInfo(r.fi)
	}
	return c, fl.Display(path), nil
}

// PlanConfig reads the Cargo config file at path and merges r into it (see
// Merge), writing nothing. Links on the way are followed while they stay
// inside the folders: a config file linked to another file in the workspace
// is updated in place and stays a link.
func (fl *Folders) PlanConfig(path string, r Registry) (*Change, error) {
	c, shown, err := fl.plan(path, ConfigFile)
	if err != nil {
		return nil, err
	}
	if c.Data, err = Merge(c.before, shown, r); err != nil {
		return nil, err
	}
	return c, nil
}

// PlanCredentials reads the Cargo credentials file at path and sets the
// registry's token in it (see MergeCredential), writing nothing. Errors never
// contain the token.
func (fl *Folders) PlanCredentials(path, registry, token string, cratesIO bool) (*Change, error) {
	c, shown, err := fl.plan(path, CredentialsFile)
	if err != nil {
		return nil, err
	}
	if c.Data, err = MergeCredential(c.before, shown, registry, token, cratesIO); err != nil {
		return nil, err
	}
	return c, nil
}

// Apply writes the changes in order, each atomically. A file that existed
// keeps its mode and (when running as root, as in the action's container,
// the only user who can give a file away) its owner, except that an existing credentials file loses
// any group and other permission (it now holds a token). A new config file
// gets mode 0644, a new credentials file 0600; missing folders are created
// (0755 for a config file, 0700 for a credentials file). New files and
// folders are given to owner. A config file whose content would not change
// is not rewritten. On an error Apply rolls back what it did and returns
// the error.
func (fl *Folders) Apply(changes []*Change, owner Owner) error {
	for i, c := range changes {
		if err := c.apply(owner); err != nil {
			if rerr := fl.Rollback(changes[:i+1]); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
	}
	return nil
}

func (c *Change) apply(owner Owner) error {
	if c.written {
		return fmt.Errorf("%s %s was already written", c.Kind, c.f.display(c.rel))
	}
	if !c.Changed() {
		return nil
	}
	dirPerm, perm, fileOwner := os.FileMode(0o755), os.FileMode(0o644), owner
	if c.Kind == CredentialsFile {
		dirPerm, perm = 0o700, 0o600
	}
	if c.Existed {
		perm, fileOwner = c.mode, c.owner
		if c.Kind == CredentialsFile {
			perm &= 0o700
		}
	}
	dirs, err := c.f.mkdirAll(parentOf(c.rel), dirPerm, owner)
	c.dirs = dirs
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", c.f.display(c.rel), err)
	}
	id, err := c.f.writeAtomic(c.rel, bytes.NewReader(c.Data), perm, fileOwner)
	if err != nil {
		return err
	}
	c.written, c.id = true, id
	return nil
}

// Rollback puts back what Apply wrote, latest first: a file that existed
// gets its content, mode and owner back; a file Apply created is removed
// (only if it is still the one written), and so are the folders Apply
// created, if empty.
func (fl *Folders) Rollback(changes []*Change) error {
	var errs []error
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		if c.written {
			if c.Existed {
				if _, err := c.f.writeAtomic(c.rel, bytes.NewReader(c.before), c.mode, c.owner); err != nil {
					errs = append(errs, fmt.Errorf("cannot restore %s: %w", c.f.display(c.rel), err))
				}
			} else if err := c.f.removeIf(c.rel, c.id); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			c.written = false
		}
		for j := len(c.dirs) - 1; j >= 0; j-- {
			_ = c.f.root.Remove(c.dirs[j]) // fails, as it should, when not empty
		}
		c.dirs = nil
	}
	return errors.Join(errs...)
}

// FileID identifies a file the action wrote, so that a later stage touches
// only that file: device and inode, size and SHA-256 of the content.
type FileID struct {
	Dev, Ino uint64
	Size     int64
	SHA256   [sha256.Size]byte
}

// identity returns fi's device and inode (size and hash are the caller's).
func identity(fi os.FileInfo) FileID {
	var id FileID
	id.Dev, id.Ino = statIdentity(fi)
	return id
}

// String returns "dev:ino:size:sha256hex", the form ParseFileID reads.
func (id FileID) String() string {
	return fmt.Sprintf("%d:%d:%d:%s", id.Dev, id.Ino, id.Size, hex.EncodeToString(id.SHA256[:]))
}

// IsZero reports whether id is the zero FileID.
func (id FileID) IsZero() bool { return id == FileID{} }

// ParseFileID reads the form String writes.
func ParseFileID(s string) (FileID, error) {
	bad := func(why string) (FileID, error) {
		return FileID{}, fmt.Errorf("invalid file identity %q: %s (want device:inode:size:sha256)", s, why)
	}
	parts := strings.Split(s, ":")
	if len(parts) != 4 {
		return bad("not four fields")
	}
	var id FileID
	var err error
	if id.Dev, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return bad("bad device")
	}
	if id.Ino, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return bad("bad inode")
	}
	if id.Size, err = strconv.ParseInt(parts[2], 10, 64); err != nil || id.Size < 0 {
		return bad("bad size")
	}
	sum, err := hex.DecodeString(parts[3])
	if err != nil || len(sum) != sha256.Size {
		return bad("bad hash")
	}
	copy(id.SHA256[:], sum)
	return id, nil
}

// ChangedError reports a file a later stage left alone because it is no
// longer the file the action wrote.
type ChangedError struct {
	Path   string // host path
	Why    string
	Folder bool // Path is a folder
}

// Error says which file was left alone and why.
func (e *ChangedError) Error() string {
	what := "file"
	if e.Folder {
		what = "folder"
	}
	return fmt.Sprintf("%s was left alone: %s, so it is no longer the %s cargo-oidc wrote", e.Path, e.Why, what)
}

// resolveNoLinks finds path without following any symbolic link: every
// folder on the way must be a real folder and the file a regular file.
func (fl *Folders) resolveNoLinks(path string) (resolved, error) {
	f, rel, shown, err := fl.open(path)
	if err != nil {
		return resolved{}, err
	}
	parts := split(rel)
	cur := ""
	for i, c := range parts {
		cur = join(cur, c)
		fi, err := f.root.Lstat(cur)
		if err != nil {
			return resolved{}, fmt.Errorf("%s: %w", shown, f.unroot(err))
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return resolved{}, &ChangedError{Path: shown, Why: f.display(cur) + " is now a symbolic link, which is not followed"}
		}
		last := i == len(parts)-1
		if !last && !fi.IsDir() {
			return resolved{}, &ChangedError{Path: shown, Why: f.display(cur) + " is no longer a folder"}
		}
		if last {
			if !fi.Mode().IsRegular() {
				return resolved{}, &ChangedError{Path: shown, Why: "it is no longer a regular file"}
			}
			return resolved{f: f, rel: cur, fi: fi}, nil
		}
	}
	return resolved{}, fmt.Errorf("%s names a folder, not a file", shown)
}

// RemoveCreated deletes the file at path (a Change's Target) if it is still
// the file that Apply created with identity id: reached without any
// symbolic link, a regular file with the same device, inode, size and
// content hash. A file that is gone is not an error; any other file is left
// alone with a *ChangedError.
func (fl *Folders) RemoveCreated(path string, id FileID) error {
	r, err := fl.resolveNoLinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return r.f.removeIf(r.rel, id)
}

// removeIf removes rel if it is the file id names.
func (f *folder) removeIf(rel string, id FileID) error {
	shown := f.display(rel)
	if id.IsZero() {
		return &ChangedError{Path: shown, Why: "its identity was not recorded"}
	}
	file, err := f.root.OpenFile(rel, os.O_RDONLY|oNoFollow|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return fmt.Errorf("cannot check %s: %w", shown, f.unroot(err))
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return fmt.Errorf("cannot check %s: %w", shown, err)
	}
	got := identity(fi)
	switch {
	case !fi.Mode().IsRegular():
		return &ChangedError{Path: shown, Why: "it is no longer a regular file"}
	case got.Dev != id.Dev || got.Ino != id.Ino:
		return &ChangedError{Path: shown, Why: "another file has taken its place"}
	case fi.Size() != id.Size:
		return &ChangedError{Path: shown, Why: "its size changed"}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(file, id.Size+1)); err != nil {
		return fmt.Errorf("cannot check %s: %w", shown, err)
	}
	if !bytes.Equal(h.Sum(nil), id.SHA256[:]) {
		return &ChangedError{Path: shown, Why: "its content changed"}
	}
	// The name must still lead to the file just checked.
	now, err := f.root.Lstat(rel)
	if err != nil || !os.SameFile(now, fi) {
		return &ChangedError{Path: shown, Why: "another file has taken its place"}
	}
	if err := f.root.Remove(rel); err != nil {
		return fmt.Errorf("cannot remove %s: %w", shown, f.unroot(err))
	}
	return nil
}

// RemoveCredential removes the token that a credentials Change set from the
// existing credentials file at path (its Target), without following any
// symbolic link. A missing file or token is not an error. The file keeps its
// mode and owner.
func (fl *Folders) RemoveCredential(path, registry string, cratesIO bool) error {
	r, err := fl.resolveNoLinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	existing, err := r.read()
	if err != nil {
		return err
	}
	out, err := RemoveCredentialText(existing, r.f.display(r.rel), registry, cratesIO)
	if err != nil {
		return err
	}
	if bytes.Equal(out, existing) {
		return nil
	}
	owner := ownerOfInfo(r.fi)
	_, err = r.f.writeAtomic(r.rel, bytes.NewReader(out), r.fi.Mode().Perm(), owner)
	return err
}
