package cargoconf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Owner is the user and group that files and folders should belong to. The action
// runs as root in its container; files it creates in the workspace must belong to
// the workspace's owner on the host.
type Owner struct {
	UID, GID int
	Set      bool // false: leave ownership as the process creates it
}

// OwnerOf returns the owner of dir (a file works too).
func OwnerOf(dir string) (Owner, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return Owner{}, fmt.Errorf("cannot find the owner of %s: %w", dir, err)
	}
	o, ok := ownerOfInfo(fi)
	if !ok {
		return Owner{}, fmt.Errorf("cannot find the owner of %s: no ownership information on this system", dir)
	}
	return o, nil
}

func (o Owner) chown(path string) error {
	if !o.Set {
		return nil
	}
	if err := os.Lchown(path, o.UID, o.GID); err != nil {
		return fmt.Errorf("cannot give %s to user %d, group %d: %w", path, o.UID, o.GID, err)
	}
	return nil
}

// MkdirAll creates dir and any missing parents with mode perm, giving every folder
// it creates to owner. Folders that already exist are left alone.
func MkdirAll(dir string, perm os.FileMode, owner Owner) error {
	dir = filepath.Clean(dir)
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("cannot create folder %s: a file of that name exists", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot create folder %s: %w", dir, err)
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent, perm, owner); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cannot create folder %s: %w", dir, err)
	}
	if err := os.Chmod(dir, perm); err != nil { // not subject to the umask
		return fmt.Errorf("cannot set the mode of folder %s: %w", dir, err)
	}
	return owner.chown(dir)
}

// WriteFileAtomic replaces path with data: it writes a temporary file in the same
// folder (created with mode 0600, then set to perm and given to owner), syncs it,
// renames it over path and syncs the folder. Readers see the old or the new content,
// never a mix; on error path is untouched. Missing parent folders are created with
// mode 0755 and given to owner. If path is a symbolic link, the link itself is
// replaced, not its target.
func WriteFileAtomic(path string, data []byte, perm os.FileMode, owner Owner) (err error) {
	dir := filepath.Dir(path)
	if err := MkdirAll(dir, 0o755, owner); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err = owner.chown(tmp); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // best effort: some file systems cannot sync folders
		d.Close()
	}
	return nil
}

// readNoFollow reads path without following a symbolic link. A missing file gives
// (nil, fs.ErrNotExist).
func readNoFollow(path string) ([]byte, os.FileInfo, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxFile {
		return nil, nil, fmt.Errorf("%s is larger than %d bytes", path, maxFile)
	}
	return data, fi, nil
}

// maxFile bounds the size of a config or credentials file we read.
const maxFile = 16 << 20

// keepOwner returns the owner a rewritten file should have: the existing file's when
// running as root (so rewriting never changes who owns a user's file), else owner.
func keepOwner(fi os.FileInfo, owner Owner) Owner {
	if fi == nil || os.Geteuid() != 0 {
		return owner
	}
	if o, ok := ownerOfInfo(fi); ok {
		return o
	}
	return owner
}

// UpdateConfig merges r into the Cargo config file at path (see Merge) and writes it
// atomically. A missing file is created with mode 0644, with its missing parent
// folders, all given to owner; an existing file keeps its mode (and, when running as
// root, its owner). If path is a symbolic link, the file it points to is updated and
// the link is kept (a config file holds no secret, and a user may link a shared
// config). The file is not rewritten when nothing changes. On any error the file is
// untouched.
func UpdateConfig(path string, r Registry, owner Owner) error {
	if err := r.Validate(); err != nil {
		return err
	}
	target := path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return fmt.Errorf("%s is a symbolic link that cannot be followed: %w", path, err)
		}
	}
	existing, fi, err := readNoFollow(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	out, err := Merge(existing, path, r)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if fi != nil {
		if string(out) == string(existing) {
			return nil
		}
		mode = fi.Mode().Perm()
	}
	return WriteFileAtomic(target, out, mode, keepOwner(fi, owner))
}

// WriteCredentials sets the token in the Cargo credentials file at path (see
// MergeCredential) and reports whether it created the file. It refuses a path that
// is a symbolic link (the link is not followed), creates missing parent folders with
// mode 0700, and writes atomically with mode 0600; a pre-existing file with a looser
// mode is tightened to 0600. Folders and a new file are given to owner; an existing
// file keeps its owner when running as root. Errors never contain the token.
func WriteCredentials(path, registry, token string, cratesIO bool, owner Owner) (created bool, err error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return false, fmt.Errorf("refusing to write credentials to %s: it is a symbolic link, which is not followed; remove the link or choose another credentials-file", path)
	}
	if err := MkdirAll(filepath.Dir(path), 0o700, owner); err != nil {
		return false, err
	}
	existing, fi, err := readNoFollow(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if errors.Is(err, syscall.ELOOP) {
			return false, fmt.Errorf("refusing to write credentials to %s: it is a symbolic link, which is not followed; remove the link or choose another credentials-file", path)
		}
		return false, fmt.Errorf("cannot read %s: %w", path, err)
	}
	out, err := MergeCredential(existing, path, registry, token, cratesIO)
	if err != nil {
		return false, err
	}
	if err := WriteFileAtomic(path, out, 0o600, keepOwner(fi, owner)); err != nil {
		return false, err
	}
	return fi == nil, nil
}

// RemoveCredential removes the token that WriteCredentials set from the credentials
// file at path, for cleanup when the file existed before (a file the action created
// is simply deleted by the caller). A missing file or token is not an error. The
// file keeps its mode and owner; a symbolic link is refused.
func RemoveCredential(path, registry string, cratesIO bool) error {
	existing, fi, err := readNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("refusing to edit credentials file %s: it is a symbolic link, which is not followed", path)
	}
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	out, err := RemoveCredentialText(existing, path, registry, cratesIO)
	if err != nil {
		return err
	}
	if string(out) == string(existing) {
		return nil
	}
	return WriteFileAtomic(path, out, fi.Mode().Perm(), keepOwner(fi, Owner{}))
}
