package cargoconf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	o, ok := statOwner(fi)
	if !ok {
		return Owner{}, fmt.Errorf("cannot find the owner of %s: no ownership information on this system", dir)
	}
	return o, nil
}

// ownerOfInfo returns the owner recorded in fi, Set only when this process can
// give files away (it runs as root).
func ownerOfInfo(fi os.FileInfo) Owner {
	if fi == nil || os.Geteuid() != 0 {
		return Owner{}
	}
	if o, ok := statOwner(fi); ok {
		return o
	}
	return Owner{}
}

// MkdirAll creates dir and any missing parents with mode perm, giving every folder
// it creates to owner. Folders that already exist are left alone. It is for
// folders outside the workspace's Cargo files (those go through Folders).
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
	if owner.Set {
		if err := os.Lchown(dir, owner.UID, owner.GID); err != nil {
			return fmt.Errorf("cannot give %s to user %d, group %d: %w", dir, owner.UID, owner.GID, err)
		}
	}
	return nil
}

// WriteFileAtomic replaces path with data through the same writer as Folders
// (a temporary file in the same folder, created 0600, given to owner and set to
// perm, synced, renamed over path, folder synced). Readers see the old or the
// new content, never a mix; on error path is untouched. Missing parent folders
// are created with mode 0755 and given to owner. If path is a symbolic link,
// the link itself is replaced, not its target.
func WriteFileAtomic(path string, data []byte, perm os.FileMode, owner Owner) error {
	dir := filepath.Dir(path)
	if err := MkdirAll(dir, 0o755, owner); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer root.Close()
	f := &folder{Folder: Folder{Dir: dir, HostDir: dir}, root: root}
	_, err = f.writeAtomic(filepath.Base(path), bytes.NewReader(data), perm, owner)
	return err
}
