package cargoconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A private folder holds files with secrets that another process (the
// credential provider, run by Cargo as the job's user) writes and a later
// stage reads and deletes: MkdirPrivate creates it, ReadBounded reads a file
// in it and RemoveAllBeneath deletes it. All three work through the
// folders' os.Root, so none of them reaches outside the folders whatever
// links the job planted; the later stage's two follow no link at all.

// MkdirPrivate creates the folder path with mode 0700 (whatever the umask)
// and gives it to owner (when owner.Set), for files that hold secrets. path
// must not exist yet: a file, folder or symbolic link already there is an
// error, and nothing is reused. The folders on the way are found as Install
// finds them (links followed while they stay inside the folders); missing
// ones are created with mode 0755 and given to owner. On an error the new
// folder is removed again.
func (fl *Folders) MkdirPrivate(path string, owner Owner) error {
	f, rel, shown, err := fl.open(path)
	if err != nil {
		return err
	}
	if rel == "" {
		return fmt.Errorf("cannot create folder %s: it is %s itself; give a folder inside it", shown, f.Name)
	}
	parent := parentOf(rel)
	if parent != "" {
		r, err := fl.resolve(f.path(parent))
		if err != nil {
			return err
		}
		if r.fi != nil && !r.fi.IsDir() {
			return fmt.Errorf("cannot create folder %s: %s is not a folder", shown, r.f.display(r.rel))
		}
		if _, err := r.f.mkdirAll(r.rel, 0o755, owner); err != nil {
			return err
		}
		f, parent = r.f, r.rel
	} else if f.err != nil {
		return fmt.Errorf("cannot open %s (for %s): %w", f.HostDir, shown, f.err)
	}
	name := join(parent, filepath.Base(rel))
	shown = f.display(name)
	// mkdirat never follows a link in the last place: one there is EEXIST.
	if err := f.root.Mkdir(name, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("cannot create folder %s: something of that name exists already; run again", shown)
		}
		return fmt.Errorf("cannot create folder %s: %w", shown, f.unroot(err))
	}
	if err := f.setPrivate(name, owner); err != nil {
		_ = f.root.Remove(name)
		return fmt.Errorf("cannot create folder %s: %w", shown, err)
	}
	return nil
}

// setPrivate sets mode 0700 and owner on the folder rel just created,
// through a descriptor opened without following a link, so that a link put
// in its place meanwhile is not changed instead.
func (f *folder) setPrivate(rel string, owner Owner) error {
	d, err := f.root.OpenFile(rel, os.O_RDONLY|oNoFollow|oDirectory, 0)
	if err != nil {
		return f.unroot(err)
	}
	defer d.Close()
	if err := d.Chmod(0o700); err != nil {
		return f.unroot(err)
	}
	if owner.Set {
		if err := d.Chown(owner.UID, owner.GID); err != nil {
			return fmt.Errorf("cannot give it to user %d, group %d: %w", owner.UID, owner.GID, f.unroot(err))
		}
	}
	return nil
}

// ReadBounded reads the file at path without following any symbolic link:
// every folder on the way must be a real folder and the file a regular file
// (else a *ChangedError, and nothing is read). A file over limit bytes is
// refused with a *TooLargeError. A missing file gives an error that
// errors.Is(err, fs.ErrNotExist) matches.
func (fl *Folders) ReadBounded(path string, limit int64) ([]byte, error) {
	r, err := fl.resolveNoLinks(path)
	if err != nil {
		return nil, err
	}
	return r.readLimited(oNoFollow, limit, func(shown string) error {
		return &ChangedError{Path: shown, Why: "another file took its place while it was read"}
	})
}

// RemoveAllBeneath deletes the folder at path and everything in it without
// following any symbolic link: path must be reached through real folders
// and be a real folder itself (else a *ChangedError, and nothing is
// deleted); a link inside it is deleted, never what it points to. A folder
// that is gone is not an error. One of the folders itself is never deleted.
func (fl *Folders) RemoveAllBeneath(path string) error {
	f, rel, shown, err := fl.open(path)
	if err != nil {
		return err
	}
	if rel == "" {
		return fmt.Errorf("refusing to delete %s: it is %s itself", shown, f.Name)
	}
	cur := ""
	for _, c := range split(rel) {
		cur = join(cur, c)
		fi, err := f.root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot delete %s: %w", shown, f.unroot(err))
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return &ChangedError{Path: shown, Why: f.display(cur) + " is now a symbolic link, which is not followed", Folder: true}
		}
		if !fi.IsDir() {
			return &ChangedError{Path: shown, Why: f.display(cur) + " is no longer a folder", Folder: true}
		}
	}
	// The root's RemoveAll deletes with descriptors opened beneath the
	// root and never follows a link it meets inside.
	if err := f.root.RemoveAll(rel); err != nil {
		return fmt.Errorf("cannot delete %s: %w", shown, f.unroot(err))
	}
	return nil
}
