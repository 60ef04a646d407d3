// Package fspath answers, with one set of rules per operating system, the
// questions the action asks about paths: is this path inside that folder
// (and what is the rest of it), what are the components of a relative path,
// and may a component be used as a file name.
//
// The rules are values (Unix, Windows) so that the Windows rules run in
// tests on any machine: path/filepath implements Windows paths only when
// compiled for Windows. Native is the running system's. Volume parsing and
// cleaning are ported from Go's internal/filepathlite (path.go and
// path_windows.go, Go 1.26, BSD licence), which path/filepath and os.Root
// use, and Join from path/filepath's path_windows.go; a fuzz test compares
// the native rules with path/filepath (on Linux, and on Windows or wine).
package fspath

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// OS is one operating system's path rules.
type OS struct {
	windows bool
}

// The rules of each system the action runs on.
var (
	// Unix: "/" separates, there are no volume names, and names compare
	// byte for byte (Linux; macOS folders are usually case-insensitive too,
	// but refusing a path there because of its case is the safe side).
	Unix = OS{}
	// Windows: "\" and "/" both separate; a path may start with a drive
	// letter ("D:"), a UNC share (\\server\share) or a device prefix
	// (\\?\, \\.\); names compare case-insensitively, and device names
	// (CON, NUL, COM1, ...) are refused.
	Windows = OS{windows: true}
	// Native is the rules of the system this program runs on.
	Native = native()
)

func native() OS {
	if runtime.GOOS == "windows" {
		return Windows
	}
	return Unix
}

// String returns "windows" or "unix".
func (o OS) String() string {
	if o.windows {
		return "windows"
	}
	return "unix"
}

// Separator is the separator Clean and Join write.
func (o OS) Separator() byte {
	if o.windows {
		return '\\'
	}
	return '/'
}

// IsSeparator reports whether c separates path components.
func (o OS) IsSeparator(c byte) bool {
	return c == '/' || o.windows && c == '\\'
}

// VolumeName returns the leading volume name of path, with Separator:
// "C:", `\\server\share`, `\\?\C:`; always "" on Unix.
func (o OS) VolumeName(path string) string {
	return o.fromSlash(path[:o.volumeNameLen(path)])
}

// volumeNameLen is filepathlite's volumeNameLen (path_windows.go).
func (o OS) volumeNameLen(path string) int {
	if !o.windows {
		return 0
	}
	switch {
	case len(path) >= 2 && path[1] == ':':
		// A drive letter.
		return 2
	case len(path) == 0 || !o.IsSeparator(path[0]):
		return 0
	case o.hasPrefixFold(path, `\\.\UNC`):
		return o.uncLen(path, len(`\\.\UNC\`))
	case o.hasPrefixFold(path, `\\.`) || o.hasPrefixFold(path, `\\?`) || o.hasPrefixFold(path, `\??`):
		// A local device path (\\.\) or a root local device path (\\?\,
		// \??\): the next component belongs to the volume.
		if len(path) == 3 {
			return 3
		}
		_, rest, ok := o.cut(path[4:])
		if !ok {
			return len(path)
		}
		return len(path) - len(rest) - 1
	case len(path) >= 2 && o.IsSeparator(path[1]):
		// A UNC path: \\server\share.
		return o.uncLen(path, 2)
	}
	return 0
}

// hasPrefixFold reports whether s begins with prefix, ignoring ASCII case
// and treating both separators alike; the prefix must end at a separator
// or at the end of s.
func (o OS) hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if o.IsSeparator(prefix[i]) {
			if !o.IsSeparator(s[i]) {
				return false
			}
		} else if upper(prefix[i]) != upper(s[i]) {
			return false
		}
	}
	return len(s) == len(prefix) || o.IsSeparator(s[len(prefix)])
}

// uncLen returns the length of a UNC volume (host and share) that starts
// after prefixLen bytes.
func (o OS) uncLen(path string, prefixLen int) int {
	count := 0
	for i := prefixLen; i < len(path); i++ {
		if o.IsSeparator(path[i]) {
			if count++; count == 2 {
				return i
			}
		}
	}
	return len(path)
}

// cut slices path around its first separator.
func (o OS) cut(path string) (before, after string, found bool) {
	for i := 0; i < len(path); i++ {
		if o.IsSeparator(path[i]) {
			return path[:i], path[i+1:], true
		}
	}
	return path, "", false
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// fromSlash turns every separator into the Separator.
func (o OS) fromSlash(path string) string {
	if !o.windows {
		return path
	}
	return strings.ReplaceAll(path, "/", `\`)
}

// IsAbs reports whether path is absolute: on Windows it needs a volume and,
// after a drive letter, a separator ("C:foo" and `\foo` are not absolute).
func (o OS) IsAbs(path string) bool {
	if !o.windows {
		return strings.HasPrefix(path, "/")
	}
	l := o.volumeNameLen(path)
	if l == 0 {
		return false
	}
	if o.IsSeparator(path[0]) && o.IsSeparator(path[1]) {
		return true
	}
	return l < len(path) && o.IsSeparator(path[l])
}

// IsRooted reports whether path is anchored anywhere but in the current
// folder: absolute, or (on Windows) starting with a volume or a separator.
// A path that is not rooted can be joined to a folder.
func (o OS) IsRooted(path string) bool {
	return o.volumeNameLen(path) > 0 || path != "" && o.IsSeparator(path[0])
}

// Clean is path/filepath.Clean under these rules: the shortest equivalent
// path by lexical processing, with every separator written as Separator.
// It is filepathlite's Clean (path.go), lazybuf and postClean included, so
// that it gives what path/filepath gives byte for byte (a fuzz test checks).
func (o OS) Clean(path string) string {
	original := path
	volLen := o.volumeNameLen(path)
	path = path[volLen:]
	if path == "" {
		if volLen > 1 && o.IsSeparator(original[0]) && o.IsSeparator(original[1]) {
			return o.fromSlash(original) // a UNC volume
		}
		return original + "."
	}
	rooted := o.IsSeparator(path[0])
	sep := o.Separator()

	// Reading from path (r: next byte), writing to out (out.w: next byte);
	// dotdot is where ".." must stop: the leading separator or the end of
	// a leading run of ../../..
	n := len(path)
	out := lazybuf{path: path, volAndPath: original, volLen: volLen}
	r, dotdot := 0, 0
	if rooted {
		out.append(sep)
		r, dotdot = 1, 1
	}
	for r < n {
		switch {
		case o.IsSeparator(path[r]):
			r++ // an empty element
		case path[r] == '.' && (r+1 == n || o.IsSeparator(path[r+1])):
			r++ // a . element
		case path[r] == '.' && path[r+1] == '.' && (r+2 == n || o.IsSeparator(path[r+2])):
			// A .. element: remove up to the last separator.
			r += 2
			switch {
			case out.w > dotdot:
				out.w--
				for out.w > dotdot && !o.IsSeparator(out.index(out.w)) {
					out.w--
				}
			case !rooted:
				if out.w > 0 {
					out.append(sep)
				}
				out.append('.')
				out.append('.')
				dotdot = out.w
			}
		default:
			// A real element: a separator if needed, then the element.
			if rooted && out.w != 1 || !rooted && out.w != 0 {
				out.append(sep)
			}
			for ; r < n && !o.IsSeparator(path[r]); r++ {
				out.append(path[r])
			}
		}
	}
	if out.w == 0 {
		out.append('.')
	}
	if o.windows {
		o.postClean(&out)
	}
	return o.fromSlash(out.string())
}

// postClean is filepathlite's (path_windows.go): it keeps a relative path
// relative when cleaning changed it ("a/../c:" is `.\c:`, not the drive c:;
// `\a\..\??\c:\x` is `\.\??\c:\x`, not the device path \??\c:\x). Like
// Go's, it scans the whole buffer, past the written length.
func (o OS) postClean(out *lazybuf) {
	if out.volLen != 0 || out.buf == nil {
		return
	}
	for _, c := range out.buf {
		if o.IsSeparator(c) {
			break
		}
		if c == ':' {
			out.prepend('.', o.Separator())
			return
		}
	}
	if len(out.buf) >= 3 && o.IsSeparator(out.buf[0]) && out.buf[1] == '?' && out.buf[2] == '?' {
		out.prepend(o.Separator(), '.')
	}
}

// lazybuf is filepathlite's lazily built path buffer: no copy is made
// until the output differs from path.
type lazybuf struct {
	path       string
	buf        []byte
	w          int
	volAndPath string
	volLen     int
}

func (b *lazybuf) index(i int) byte {
	if b.buf != nil {
		return b.buf[i]
	}
	return b.path[i]
}

func (b *lazybuf) append(c byte) {
	if b.buf == nil {
		if b.w < len(b.path) && b.path[b.w] == c {
			b.w++
			return
		}
		b.buf = make([]byte, len(b.path))
		copy(b.buf, b.path[:b.w])
	}
	b.buf[b.w] = c
	b.w++
}

func (b *lazybuf) prepend(prefix ...byte) {
	b.buf = slices.Insert(b.buf, 0, prefix...)
	b.w += len(prefix)
}

func (b *lazybuf) string() string {
	if b.buf == nil {
		return b.volAndPath[:b.volLen+b.w]
	}
	return b.volAndPath[:b.volLen] + string(b.buf[:b.w])
}

// Join is path/filepath.Join under these rules: the non-empty elements
// joined with Separator and cleaned; "" when every element is empty. The
// Windows form follows path/filepath's path_windows.go: Join("C:", "f") is
// "C:f", and no UNC path (\\host) is made from elements that were not one.
func (o OS) Join(elem ...string) string {
	if !o.windows {
		var keep []string
		for _, e := range elem {
			if e != "" {
				keep = append(keep, e)
			}
		}
		if len(keep) == 0 {
			return ""
		}
		return o.Clean(strings.Join(keep, "/"))
	}
	var b strings.Builder
	var last byte
	for _, e := range elem {
		switch {
		case b.Len() == 0:
			// The first non-empty element, unchanged.
		case o.IsSeparator(last):
			// Strip the next element's leading separators, so that no
			// UNC path is made; \ followed by ?? becomes \.\??.
			for len(e) > 0 && o.IsSeparator(e[0]) {
				e = e[1:]
			}
			if b.Len() == 1 && strings.HasPrefix(e, "??") && (len(e) == 2 || o.IsSeparator(e[2])) {
				b.WriteString(`.\`)
			}
		case last == ':':
			// C: followed by f is C:f, relative to the drive's folder.
		default:
			b.WriteByte('\\')
			last = '\\'
		}
		if e != "" {
			b.WriteString(e)
			last = e[len(e)-1]
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return o.Clean(b.String())
}

// Split returns the components of a relative path, without empty ones
// ("a//b/" is a, b); "." and ".." are kept for the caller to interpret.
func (o OS) Split(rel string) []string {
	var out []string
	for p := rel; p != ""; {
		var c string
		c, p, _ = o.cut(p)
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// Within reports whether path is dir or inside it, and the rest of path
// below dir ("" for dir itself), written with Separator. Both are cleaned
// first, so ".." is resolved lexically (as Windows does, and as the action
// always has on Linux). On Windows volumes and names compare
// case-insensitively (each character upper-cased, as NTFS does), `\` and
// `/` are alike, and the rest keeps path's spelling. An empty dir contains
// nothing.
func (o OS) Within(path, dir string) (rest string, ok bool) {
	if dir == "" {
		return "", false
	}
	path, dir = o.Clean(path), o.Clean(dir)
	pl, dl := o.volumeNameLen(path), o.volumeNameLen(dir)
	if !o.sameName(path[:pl], dir[:dl]) {
		return "", false
	}
	// A UNC or device volume is always absolute: \\host\share is the
	// folder \\host\share\.
	pr := o.IsAbs(path) || path[pl:] != "" && o.IsSeparator(path[pl])
	dr := o.IsAbs(dir) || dir[dl:] != "" && o.IsSeparator(dir[dl])
	path, dir = path[pl:], dir[dl:]
	if pr != dr {
		return "", false
	}
	pc, dc := o.Split(path), o.Split(dir)
	if len(pc) < len(dc) {
		return "", false
	}
	for i := range dc {
		if !o.sameName(pc[i], dc[i]) {
			return "", false
		}
	}
	return strings.Join(pc[len(dc):], string(o.Separator())), true
}

// sameName compares two cleaned names (or volumes) under the system's case
// rules. Windows upper-cases each character, as NTFS's upcase table does
// for the characters it maps; a pair that Unicode folds but Windows does
// not is judged the same, which at worst maps a path to a folder whose
// os.Root then confines it.
func (o OS) sameName(a, b string) bool {
	if !o.windows {
		return a == b
	}
	if a == b {
		return true
	}
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		a, b = a[na:], b[nb:]
		if ra != rb && unicode.ToUpper(ra) != unicode.ToUpper(rb) {
			return false
		}
	}
	return a == "" && b == ""
}

// NameError reports a path component that cannot be used as a file name
// on this system.
type NameError struct {
	Name   string // the component
	Reason string // why, e.g. "is a Windows device name"
}

// Error names the component and why it is refused.
func (e *NameError) Error() string {
	return fmt.Sprintf("%q %s; rename it", e.Name, e.Reason)
}

// CheckName reports a *NameError when name, one component of a path, does
// not name an ordinary file or folder: on Windows a device name (CON, PRN,
// AUX, NUL, COM1-9, LPT1-9, CONIN$, CONOUT$, with or without an extension
// or trailing dots and spaces), a name ending in a dot or a space (Windows
// drops them, so "a." is "a"), or one with a colon (an alternate data
// stream). Unix accepts every name; "." and ".." are accepted everywhere.
func (o OS) CheckName(name string) error {
	if !o.windows || name == "." || name == ".." {
		return nil
	}
	if isDevice(name) {
		return &NameError{Name: name, Reason: "is a Windows device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9 are devices, with any extension), not a file"}
	}
	if strings.Contains(name, ":") {
		return &NameError{Name: name, Reason: "holds a colon, which Windows reads as a drive or an alternate data stream, not part of a file name"}
	}
	if last := name[len(name)-1]; last == '.' || last == ' ' {
		return &NameError{Name: name, Reason: "ends in a dot or a space, which Windows drops, so it would name another file"}
	}
	return nil
}

// CheckNames runs CheckName on every component of the relative path rel.
func (o OS) CheckNames(rel string) error {
	for _, c := range o.Split(rel) {
		if err := o.CheckName(c); err != nil {
			return err
		}
	}
	return nil
}

// isDevice reports a Windows device name, as filepathlite's
// isReservedName, but always with an extension: Windows 11 lets "CON.txt"
// be a file, older Windows does not, so it is refused everywhere.
func isDevice(name string) bool {
	base := name
	if i := strings.IndexAny(base, ".:"); i >= 0 {
		base = base[:i]
	}
	base = strings.TrimRight(base, " ")
	switch strings.ToUpper(base) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) >= 4 {
		switch strings.ToUpper(base[:3]) {
		case "COM", "LPT":
			switch base[3:] {
			case "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
				return true
			}
		}
	}
	return false
}

// Within reports whether path is dir or inside it, and the rest, under the
// running system's rules (see OS.Within).
func Within(path, dir string) (rest string, ok bool) { return Native.Within(path, dir) }

// Split returns the components of a relative path under the running
// system's rules (see OS.Split).
func Split(rel string) []string { return Native.Split(rel) }

// IsRooted reports whether path is anchored outside the current folder
// under the running system's rules (see OS.IsRooted).
func IsRooted(path string) bool { return Native.IsRooted(path) }

// CheckName checks one path component under the running system's rules
// (see OS.CheckName).
func CheckName(name string) error { return Native.CheckName(name) }
