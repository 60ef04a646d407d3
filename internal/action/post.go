package action

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
)

// maxMintedRecord bounds the record of minted tokens the post stage reads.
const maxMintedRecord = 1 << 20

// Post runs the post stage: it revokes the crates.io tokens (the one the
// main stage got and, in credential-mode provider, every one the credential
// provider minted), removes the credentials file the main stage created and
// deletes the credential provider's token cache folder.
// Revocation is bounded by the timeout input. Its failures are warnings,
// never a failure of the job; it returns an error only when it cannot write
// its own log.
func Post(ctx context.Context, e Env) error {
	r := ghaction.New(e.Getenv, e.Stdout)
	state := func(k string) string { return e.Getenv("STATE_" + k) }
	token := state(stateToken)
	r.Mask(token)
	if state(stateProvider) == "" {
		r.Info("Nothing to clean up: the main stage did not finish.")
		return r.Err()
	}

	folders := openFolders(ghaction.NewPaths(e.Getenv, e.HostWorkspace, e.HostTemp))
	defer folders.Close()

	if state(stateProvider) == string(config.CratesIO) && state(stateRevoke) == "true" {
		var tokens []string
		if token != "" {
			tokens = append(tokens, token)
		}
		minted, merr := readMinted(folders, state(stateMinted))
		for _, t := range minted {
			r.Mask(t)
		}
		tokens = append(tokens, minted...)
		if merr != nil {
			r.Warning("cargo-oidc: crates.io tokens minted by the credential provider not revoked",
				merr.Error()+"\nThey stay valid until they expire (30 minutes after each was issued).")
		}
		revokeAll(ctx, e, r, state, tokens, len(minted))
		if m := state(stateMinted); m != "" && merr == nil {
			if err := folders.RemoveAllBeneath(filepath.Dir(m)); err != nil {
				r.Warning("cargo-oidc: record of minted tokens not deleted", err.Error())
			}
		}
	}

	if path := state(stateCredentialsFile); path != "" && state(stateCleanup) == "true" {
		cleanupCredentials(r, folders, path, state)
	}
	if dir := state(stateCache); dir != "" {
		// The provider's cached tokens: no token outlives the job on disk.
		if err := folders.RemoveAllBeneath(dir); err != nil {
			r.Warning("cargo-oidc: token cache not deleted", err.Error()+"\nDelete the folder by hand: it holds registry tokens until they expire.")
		} else {
			r.Info("Deleted the credential provider's token cache.")
		}
	}
	return r.Err()
}

// PostFromFile runs the post stage with the state the main stage wrote to
// the GITHUB_STATE file at path, not with STATE_<name> variables: the
// composite action setup/ runs its clean-up as another action, which gets no
// state from the runner, and passes the file's path instead (no value on a
// command line). A state file that cannot be read is a warning, like every
// failure of the post stage.
func PostFromFile(ctx context.Context, e Env, path string) error {
	state, err := ghaction.ReadStateFile(path)
	if err != nil {
		r := ghaction.New(e.Getenv, e.Stdout)
		r.Warning("cargo-oidc: nothing cleaned up",
			err.Error()+"\nIts token was not revoked and its credentials file not removed; the token expires on its own.")
		return r.Err()
	}
	e.Getenv = ghaction.StateGetenv(e.Getenv, state)
	return Post(ctx, e)
}

// stepTimeout is the timeout input the main stage saved, or the default.
func stepTimeout(v string) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return config.DefaultTimeout
	}
	return d
}

// revokeAll revokes every token (the main stage's first, then minted of the
// credential provider's), all within the step's timeout, and reports the
// outcome.
func revokeAll(ctx context.Context, e Env, r *ghaction.Runner, state func(string) string, tokens []string, minted int) {
	if len(tokens) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout(state(stateTimeout)))
	defer cancel()
	retries, _ := strconv.Atoi(state(stateRetries))
	client := exchange.NewClient(exchange.HTTPConfig{Base: e.HTTP, Retries: retries, Debug: r.Debug, Redactor: r.Redactor()})
	svc := &exchange.CratesIO{Client: client, BaseURL: state(stateURL), Mask: r.Mask, Now: e.now}
	var failed []string
	revoked, revokedMinted := 0, 0
	seen := map[string]bool{}
	for i, t := range tokens {
		if seen[t] {
			continue
		}
		seen[t] = true
		if err := svc.Revoke(ctx, t); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		revoked++
		if i >= len(tokens)-minted {
			revokedMinted++
		}
	}
	if len(failed) > 0 {
		r.Warning("cargo-oidc: crates.io token not revoked",
			fmt.Sprintf("%d of %d token(s) not revoked: %s\nThey stay valid until they expire (30 minutes after each was issued).",
				len(failed), len(seen), failed[0]))
	}
	switch {
	case revoked == 1 && revokedMinted == 0:
		r.Info("Revoked the crates.io token.")
	case revoked > 0:
		r.Info(fmt.Sprintf("Revoked %d crates.io token(s), %d of them minted by the credential provider.", revoked, revokedMinted))
	}
}

// readMinted reads the tokens the credential provider recorded, one per
// line ("" path or no file: none). The file is read through the folders,
// following no symbolic link, and within a size bound: a record (or its
// folder) that a step replaced with a link is not read.
func readMinted(folders *cargoconf.Folders, path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := folders.ReadBounded(path, maxMintedRecord)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the record of minted tokens was not read: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if t := string(bytes.TrimSpace(sc.Bytes())); t != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// stateCredentialsID is the identity (device, inode, size, hash) of the
// credentials file the main stage created.
const stateCredentialsID = "credentials-id"

// cleanupCredentials removes the credentials file the main stage created,
// or the token it added to an existing one. Nothing is followed through a
// symbolic link, and a created file is deleted only while it is still the
// file the main stage wrote.
func cleanupCredentials(r *ghaction.Runner, folders *cargoconf.Folders, path string, state func(string) string) {
	var err error
	created := state(stateCredentialsCreated) == "true"
	gone := false
	if created {
		_, serr := os.Lstat(path)
		gone = errors.Is(serr, fs.ErrNotExist)
		var id cargoconf.FileID
		if id, err = cargoconf.ParseFileID(state(stateCredentialsID)); err == nil {
			err = folders.RemoveCreated(path, id)
		}
	} else {
		err = folders.RemoveCredential(path, state(stateRegistryName), state(stateProvider) == string(config.CratesIO))
	}
	if err != nil {
		r.Warning("cargo-oidc: credentials file not cleaned up", fmt.Sprintf("%v\nDelete the file by hand if it still holds the token; the token expires on its own.", err))
		return
	}
	switch {
	case created && gone:
		r.Info("The credentials file the main stage created was already gone.")
		return
	case created:
		r.Info("Deleted the credentials file the main stage created.")
		return
	}
	r.Info("Removed the token from the credentials file.")
}
