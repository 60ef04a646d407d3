//go:build !unix

package main

import "os"

// maxRSS reports 0: Windows has no getrusage.
func maxRSS(*os.ProcessState) int64 { return 0 }
