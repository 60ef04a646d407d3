package testenv

import "syscall"

// wineRegistryKey reports whether the key HKLM\Software\Wine exists, which
// wine makes in every prefix and Windows never has.
func wineRegistryKey() bool {
	var k syscall.Handle
	name, err := syscall.UTF16PtrFromString(`Software\Wine`)
	if err != nil {
		return false
	}
	if syscall.RegOpenKeyEx(syscall.HKEY_LOCAL_MACHINE, name, 0, syscall.KEY_READ, &k) != nil {
		return false
	}
	syscall.RegCloseKey(k)
	return true
}
