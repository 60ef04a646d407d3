package action

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
)

// postTimeout bounds the post stage: a revoke that cannot be done in this
// time is reported and left to expire on its own.
const postTimeout = 30 * time.Second

// Post runs the post stage: it revokes the crates.io token and removes the
// credentials file the main stage created. Its failures are warnings, never
// a failure of the job; it returns an error only when it cannot write its
// own log.
func Post(ctx context.Context, e Env) error {
	r := ghaction.New(e.Getenv, e.Stdout)
	state := func(k string) string { return e.Getenv("STATE_" + k) }
	token := state(stateToken)
	r.Mask(token)
	if state(stateProvider) == "" {
		r.Info("Nothing to clean up: the main stage did not finish.")
		return r.Err()
	}

	if token != "" && state(stateProvider) == string(config.CratesIO) && state(stateRevoke) == "true" {
		ctx, cancel := context.WithTimeout(ctx, postTimeout)
		retries, _ := strconv.Atoi(state(stateRetries))
		client := exchange.NewClient(exchange.HTTPConfig{Base: e.HTTP, Retries: retries, Debug: r.Debug})
		svc := &exchange.CratesIO{Client: client, BaseURL: state(stateURL), Mask: r.Mask, Now: e.now}
		err := svc.Revoke(ctx, token)
		cancel()
		if err != nil {
			r.Warning("cargo-oidc: crates.io token not revoked",
				fmt.Sprintf("%v\nThe token stays valid until it expires (30 minutes after it was issued).", err))
		} else {
			r.Info("Revoked the crates.io token.")
		}
	}

	if path := state(stateCredentialsFile); path != "" && state(stateCleanup) == "true" {
		cleanupCredentials(r, ghaction.NewPaths(e.Getenv, e.HostWorkspace, e.HostTemp), path, state)
	}
	return r.Err()
}

// stateCredentialsID is the identity (device, inode, size, hash) of the
// credentials file the main stage created.
const stateCredentialsID = "credentials-id"

// cleanupCredentials removes the credentials file the main stage created,
// or the token it added to an existing one. Nothing is followed through a
// symbolic link, and a created file is deleted only while it is still the
// file the main stage wrote.
func cleanupCredentials(r *ghaction.Runner, paths ghaction.Paths, path string, state func(string) string) {
	folders := openFolders(paths)
	defer folders.Close()
	var err error
	if state(stateCredentialsCreated) == "true" {
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
	r.Info("Removed the token from the credentials file.")
}
