//go:build !unix

package main

import "os"

// maxRSS reports nothing: Windows has no getrusage.
func maxRSS(*os.ProcessState) (int64, bool) { return 0, false }
