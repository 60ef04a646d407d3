package release

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ParseFlags parses args into fs for a release command: a mistake prints
// fs's usage to stderr and is returned, -h or --help prints it and returns
// flag.ErrHelp, and an argument left over is refused.
func ParseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: the command takes only flags (run it with -h for them)", fs.Arg(0))
	}
	return nil
}

// ExitCode is what a release command's main does with run's error: it
// prints "name: error" to stderr and returns 1; for nil, or for
// flag.ErrHelp (ParseFlags printed the usage already), it prints nothing
// and returns 0.
func ExitCode(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}
