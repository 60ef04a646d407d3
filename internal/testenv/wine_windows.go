package testenv

import "syscall"

// underWine is whether ntdll.dll exports wine_get_version, which only
// wine's does.
var underWine = syscall.NewLazyDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
