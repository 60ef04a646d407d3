# Build stage: a static, stripped binary. The token services all speak
# HTTP/1.1, so net/http's bundled HTTP/2 is left out (nethttpomithttp2): the
# binary stays under 7.8 MB. The runner builds this file with
# `docker build` (no build args) when action.yml says `image: Dockerfile`;
# releases ship a prebuilt image instead (see README.md, "Pinning").
# The Go image is the toolchain go.mod names (go 1.26.8); Dependabot's docker
# ecosystem (.github/dependabot.yml) proposes every newer one.
FROM golang:1.26.8 AS build
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
WORKDIR /src
# No separate `go mod download`: it would also fetch the test-only modules
# (YAML, JOSE, registry); `go build` fetches only what the binary needs.
COPY go.mod go.sum ./
COPY main.go ./
COPY exchange/ exchange/
COPY cargoconf/ cargoconf/
COPY internal/ internal/
ARG VERSION=dev
RUN mkdir -p /out \
 && go build -tags nethttpomithttp2 -ldflags "-s -w -X main.version=${VERSION}" -o /out/cargo-oidc . \
 && ln -s cargo-oidc /out/cargo-oidc-post

# Final stage: the binary and the CA bundle (for HTTPS to the token
# services; Go reads it from this path), nothing else. The runner starts the container
# without --user, so the image runs as root; it mounts the workspace over the
# working directory, so there is no WORKDIR.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/ /
ENTRYPOINT ["/cargo-oidc"]
