#!/usr/bin/env bash
# The steps of the composite action (setup/action.yml and setup/post/action.yml),
# for bash on Linux, macOS and Windows (Git Bash) runners. It keeps to bash
# 3.2 (macOS's /bin/bash) and to tools Git for Windows ships.
#
#   setup.sh main   download the release binary for this runner, check it
#                   against the checksums committed with the action, run it
#   setup.sh post   run the binary's post stage for every main stage of the
#                   job, newest first, and remove what the action left
#
# Environment: CARGO_OIDC_ACTION_PATH (the action's folder), RUNNER_TEMP,
# RUNNER_OS, RUNNER_ARCH, CARGO_OIDC_DOWNLOAD_URL (main), INPUT_* (main).
set -euo pipefail

die() {
  echo "::error title=cargo-oidc setup::$*"
  exit 1
}

warn() {
  echo "::warning title=cargo-oidc post::$*"
}

action_dir=${CARGO_OIDC_ACTION_PATH:-}
[ -n "$action_dir" ] || die "CARGO_OIDC_ACTION_PATH is not set: run this script through the action (uses: cargo-oidc/cargo-oidc/setup@v1)"
[ -n "${RUNNER_TEMP:-}" ] || die "RUNNER_TEMP is not set: run this action as a GitHub Actions step"
# Everything the action keeps lives here; the runner empties RUNNER_TEMP
# after every job.
base="$RUNNER_TEMP/cargo-oidc-setup"

# sha256 prints the SHA-256 of a file in lower-case hex.
sha256() {
  local out
  if command -v sha256sum >/dev/null 2>&1; then
    out=$(sha256sum "$1")
  elif command -v shasum >/dev/null 2>&1; then
    out=$(shasum -a 256 "$1")
  else
    die "neither sha256sum nor shasum is installed, so the download cannot be checked"
  fi
  out=${out%% *}
  printf '%s\n' "${out#\\}" | tr 'A-F' 'a-f'
}

main() {
  local os arch asset exe version expected url_base url bin_dir bin tmp actual
  case "${RUNNER_OS:-}" in
    Linux) os=linux ;;
    macOS) os=darwin ;;
    Windows) os=windows ;;
    *) die "there is no cargo-oidc binary for RUNNER_OS=${RUNNER_OS:-(unset)}; released: Linux, macOS, Windows" ;;
  esac
  case "${RUNNER_ARCH:-}" in
    X64) arch=amd64 ;;
    ARM64) arch=arm64 ;;
    *) die "there is no cargo-oidc binary for RUNNER_ARCH=${RUNNER_ARCH:-(unset)}; released: X64, ARM64" ;;
  esac
  asset="cargo-oidc-$os-$arch"
  exe=cargo-oidc
  if [ "$os" = windows ]; then
    asset="$asset.exe"
    exe="$exe.exe"
  fi

  # The release commit carries VERSION and SHA256SUMS next to this script;
  # the binary is trusted only when it matches them.
  if [ ! -f "$action_dir/VERSION" ] || [ ! -f "$action_dir/SHA256SUMS" ]; then
    die "this copy of the action is not a release: $action_dir has no VERSION and SHA256SUMS (a release commit adds them). Use a release tag, like cargo-oidc/cargo-oidc/setup@v1"
  fi
  version=$(tr -d '\r\n' <"$action_dir/VERSION")
  if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
    die "$action_dir/VERSION holds '$version', not a release tag like v1.2.3"
  fi
  expected=$(tr -d '\r' <"$action_dir/SHA256SUMS" | awk -v n="$asset" '$2 == n || $2 == "*" n { print $1 }')
  if ! [[ $expected =~ ^[0-9a-f]{64}$ ]]; then
    die "$action_dir/SHA256SUMS has no checksum for $asset (this runner: $RUNNER_OS $RUNNER_ARCH)"
  fi

  url_base=${CARGO_OIDC_DOWNLOAD_URL:-https://github.com/cargo-oidc/cargo-oidc/releases/download/{version\}}
  url_base=${url_base//\{version\}/$version}
  url_base=${url_base%/}
  case "$url_base" in
    https://* | http://* | file://*) ;;
    *) die "download-url '$url_base' is not an https, http or file URL" ;;
  esac
  url="$url_base/$asset"

  bin_dir="$base/bin/$version"
  bin="$bin_dir/$exe"
  mkdir -p "$bin_dir"
  if [ -f "$bin" ] && [ "$(sha256 "$bin")" = "$expected" ]; then
    echo "cargo-oidc $version for $RUNNER_OS $RUNNER_ARCH: already downloaded and checked in this job"
  else
    echo "::group::Downloading cargo-oidc $version for $RUNNER_OS $RUNNER_ARCH"
    echo "From $url"
    tmp="$bin_dir/.download.$$"
    rm -f "$tmp"
    if ! curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --max-time 300 \
      --proto '=https,http,file' --proto-redir '=https' --output "$tmp" "$url"; then
      rm -f "$tmp"
      echo "::endgroup::"
      die "could not download $url; check download-url and the runner's network (a mirror must hold the release's files under their release names)"
    fi
    actual=$(sha256 "$tmp")
    if [ "$actual" != "$expected" ]; then
      rm -f "$tmp"
      echo "::endgroup::"
      die "the SHA-256 of $url is $actual, but the checksum committed with this action for $asset $version is $expected; the file was deleted and not run. A mirror must serve the release's files unchanged"
    fi
    echo "SHA-256 $actual matches $action_dir/SHA256SUMS"
    chmod 0755 "$tmp"
    mv -f "$tmp" "$bin"
    echo "::endgroup::"
  fi

  # The binary writes its state (what the post stage needs) to a file of
  # its own, since the post step is another action and cannot read this
  # step's GITHUB_STATE. HOME is the action's own folder, as in the
  # container (provider mode installs the binary under it).
  local state_dir home n state
  state_dir="$base/state"
  home="$base/home"
  mkdir -p "$state_dir" "$home"
  chmod 0700 "$state_dir"
  local -a states=()
  list_states
  n=${#states[@]}
  state="$state_dir/$(printf '%04d' $((n + 1))).state"
  (umask 077 && : >"$state")
  printf '%s\n' "$bin" >"${state%.state}.bin"
  GITHUB_STATE="$state" HOME="$home" "$bin"
}

# run_post runs the post stage for one state file.
run_post() {
  local state=$1 bin line name delim value l first
  local -a assigns=()
  bin=$(cat "${state%.state}.bin" 2>/dev/null || true)
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    [ -n "$line" ] || continue
    case "$line" in
      *'<<'*)
        name=${line%%<<*}
        delim=${line#*<<}
        value=""
        first=1
        while IFS= read -r l || [ -n "$l" ]; do
          l=${l%$'\r'}
          [ "$l" != "$delim" ] || break
          if [ $first = 1 ]; then value=$l; else value="$value"$'\n'"$l"; fi
          first=0
        done
        ;;
      *=*)
        name=${line%%=*}
        value=${line#*=}
        ;;
      *)
        warn "$state: a line is neither NAME=VALUE nor NAME<<DELIMITER; skipped"
        continue
        ;;
    esac
    assigns+=("STATE_$name=$value")
  done <"$state"
  echo "Cleaning up after cargo-oidc setup step $(basename "$state" .state)"
  if [ ${#assigns[@]} -eq 0 ]; then
    echo "Nothing to clean up for $(basename "$state"): its setup step did not finish (a failed step cleans up after itself)."
    return 0
  fi
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    warn "the cargo-oidc binary of $(basename "$state") is gone ($bin), so its token was not revoked and its credentials file not removed; the token expires on its own"
    return 0
  fi
  env "${assigns[@]}" HOME="$base/home" "$bin" post || warn "the post stage of $(basename "$state") exited with status $?"
}

# list_states sets the array states to the state files, oldest first (a
# glob, not find or sort: on Windows those names can be Windows' own tools).
list_states() {
  local f
  states=()
  for f in "$base/state/"*.state; do
    if [ -e "$f" ]; then states+=("$f"); fi
  done
}

post() {
  local i state
  local -a states=()
  list_states
  if [ ${#states[@]} -eq 0 ]; then
    echo "Nothing to clean up: no cargo-oidc setup step ran in this job."
  fi
  for ((i = ${#states[@]} - 1; i >= 0; i--)); do
    state=${states[i]}
    run_post "$state"
    rm -f "$state" "${state%.state}.bin"
  done
  # The binaries, the provider's copy and the state: nothing of the action
  # stays for later jobs on a self-hosted runner.
  rm -rf "$base"
}

case "${1:-}" in
  main) main ;;
  post) post ;;
  *) die "usage: setup.sh main|post" ;;
esac
