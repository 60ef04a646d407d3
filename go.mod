module github.com/cargo-oidc/cargo-oidc

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.8 // indirect
	github.com/sethvargo/go-githubactions v1.4.0 // indirect
	golang.org/x/crypto/x509roots/fallback v0.0.0-20261030153154-30a33513ff6d // indirect
)
