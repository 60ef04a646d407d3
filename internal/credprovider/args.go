package credprovider

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
)

// SettingWhere names the credential-provider setting in ParseArgs' errors.
const SettingWhere = "the credential-provider setting"

// ParseArgs reads "--name=value" arguments: every action input (provider,
// url, provider-name, ...) and --id-token-env / --id-token-file. An
// argument given twice is refused, not overridden by the later one (which
// would let text smuggled into one value replace another), and so is one
// holding a space, control or format character (config.SplitsArgument),
// which Command never writes.
func ParseArgs(args []string) (*Options, error) {
	return ParseInputs(args, SettingWhere, nil)
}

// ParseInputs reads arguments by ParseArgs' rules; where names them in
// errors ("the credential-provider setting", "the command line"), and def,
// when set, gives an input that is not given its default (the terminal
// commands take action.yml's defaults, as a step does).
func ParseInputs(args []string, where string, def func(name string) string) (*Options, error) {
	in := map[string]string{}
	seen := map[string]bool{}
	o := &Options{}
	for _, a := range args {
		if r, bad := config.BadCharacter(a, config.SplitsArgument); bad {
			return nil, fmt.Errorf("cargo-oidc: argument %q holds %U, a space, control or format character; give every argument of %s without one", a, r, where)
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			return nil, fmt.Errorf("cargo-oidc: argument %q is not of the form --name=value; check %s", a, where)
		}
		if seen[name] {
			return nil, fmt.Errorf("cargo-oidc: argument --%s is given twice in %s; give each argument once", name, where)
		}
		seen[name] = true
		switch name {
		case "id-token-env":
			o.IDTokenEnv = value
		case "id-token-file":
			o.IDTokenFile = value
		case RecordArg:
			o.Record = value
		case CacheArg:
			o.CacheDir = value
		default:
			if !known(name) {
				return nil, fmt.Errorf("cargo-oidc: unknown argument --%s in %s; use the action's input names (--provider=, --url=, ...)", name, where)
			}
			in[name] = value
		}
	}
	if o.IDTokenEnv != "" && o.IDTokenFile != "" {
		return nil, errors.New("cargo-oidc: give --id-token-env or --id-token-file, not both")
	}
	cfg, err := config.Load(func(name string) string {
		if v, ok := in[name]; ok || def == nil {
			return v
		}
		return def(name)
	})
	if err != nil {
		return nil, fmt.Errorf("cargo-oidc: %s is invalid:\n%w", where, err)
	}
	o.cfg = cfg
	return o, nil
}

func known(name string) bool {
	for _, in := range config.Inputs {
		if in == name {
			return true
		}
	}
	return false
}

// IDTokens finds the job's ID token source (exchange.DetectSource:
// --id-token-env and --id-token-file first, then the CI system's own), with
// every token it gives handed to mask the moment it is read.
func (o *Options) IDTokens(getenv func(string) string, client *exchange.Client, mask func(string)) (*exchange.Source, error) {
	src, err := exchange.DetectSource(exchange.SourceEnv{Getenv: getenv, IDTokenEnv: o.IDTokenEnv, IDTokenFile: o.IDTokenFile, Client: client})
	if err != nil {
		return nil, err
	}
	if mask != nil {
		src = exchange.Masked(src, mask).(*exchange.Source)
	}
	return src, nil
}
