#!/bin/sh
# The steps of the composite action (setup/action.yml and setup/post/action.yml).
# POSIX sh, so it runs in every bash (3.2 on macOS, Git Bash on Windows) and
# in busybox sh, with tools Git for Windows ships.
#
#   setup.sh main   download the release binary for this runner, check it
#                   against the checksums committed with the action, run it
#   setup.sh post   run the binary's post stage for every main stage of the
#                   job, newest first, and remove what the action left
#
# Environment: CARGO_OIDC_ACTION_PATH (the action's folder), RUNNER_TEMP,
# RUNNER_OS, RUNNER_ARCH, CARGO_OIDC_DOWNLOAD_URL (main), INPUT_* (main).
set -eu

die() {
  echo "::error title=cargo-oidc setup::$*"
  exit 1
}

warn() {
  echo "::warning title=cargo-oidc post::$*"
}

cr=$(printf '\r')

# The action's inputs (setup/action.yml, less download-url), in its order.
inputs="provider url provider-name audience identity-mapping-name project-key namespace service-slug role-to-assume aws-region domain domain-owner duration role-session-name repository index-url registry-name default-registry token-scheme export-env credential-mode replace-crates-io config-file credentials-file cleanup revoke retries timeout"

action_dir=${CARGO_OIDC_ACTION_PATH:-}
[ -n "$action_dir" ] || die "CARGO_OIDC_ACTION_PATH is not set: run this script through the action (uses: cargo-oidc/cargo-oidc/setup@v1)"
[ -n "${RUNNER_TEMP:-}" ] || die "RUNNER_TEMP is not set: run this action as a GitHub Actions step"
# Everything the action keeps lives here; the runner empties RUNNER_TEMP
# after every job.
base="$RUNNER_TEMP/cargo-oidc-setup"
state_dir="$base/state"
home="$base/home"

# sha256 prints the SHA-256 of a file in lower-case hex.
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sum=$(sha256sum "$1")
  elif command -v shasum >/dev/null 2>&1; then
    sum=$(shasum -a 256 "$1")
  else
    die "neither sha256sum nor shasum is installed, so the download cannot be checked"
  fi
  sum=${sum%% *}
  printf '%s\n' "${sum#\\}" | tr 'A-F' 'a-f'
}

# download URL FILE fetches URL into FILE: curl, else wget (busybox), else
# a plain copy for a file:// URL. Integrity comes from the checksum, not
# from the transport.
download() {
  case "$1" in
    file://*)
      path=${1#file://}
      case "$path" in
        /[A-Za-z]:/*) path=${path#/} ;; # file:///D:/mirror on Windows
      esac
      cp "$path" "$2"
      return
      ;;
  esac
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --max-time 300 \
      --proto '=https,http' --proto-redir '=https' --output "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    echo "neither curl nor wget is installed"
    return 1
  fi
}

# state_count prints how many state files there are (a glob, not find or
# wc: on Windows find can be Windows' own tool).
state_count() {
  n=0
  for f in "$state_dir"/*.state; do
    if [ -e "$f" ]; then n=$((n + 1)); fi
  done
  echo "$n"
}

main() {
  # Checked here, not inside sha256: a die in $(...) would exit silently.
  command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1 ||
    die "neither sha256sum nor shasum is installed, so the download cannot be checked"
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
  if ! printf '%s\n' "$version" | grep -Eq '^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'; then
    die "$action_dir/VERSION holds '$version', not a release tag like v1.2.3"
  fi
  expected=$(tr -d '\r' <"$action_dir/SHA256SUMS" | awk -v n="$asset" '$2 == n || $2 == "*" n { print $1; exit }')
  case "$expected" in
    *[!0-9a-f]* | "") expected="" ;;
  esac
  if [ ${#expected} -ne 64 ]; then
    die "$action_dir/SHA256SUMS has no checksum for $asset (this runner: $RUNNER_OS $RUNNER_ARCH)"
  fi

  url_base=${CARGO_OIDC_DOWNLOAD_URL:-}
  if [ -z "$url_base" ]; then
    url_base="https://github.com/cargo-oidc/cargo-oidc/releases/download/{version}"
  fi
  url_base=$(printf '%s\n' "$url_base" | sed "s/{version}/$version/g")
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
    if ! download "$url" "$tmp"; then
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
  mkdir -p "$state_dir" "$home"
  chmod 0700 "$state_dir"
  state="$state_dir/$(printf '%04d' $(($(state_count) + 1))).state"
  (umask 077 && : >"$state")
  printf '%s\n' "$bin" >"${state%.state}.bin"
  # The inputs reach this script as CARGO_OIDC_IN_<NAME> (identifier names:
  # dash and busybox sh drop variables such as INPUT_REGISTRY-NAME from the
  # environment of the programs they start) and go to the binary under the
  # names the runner gives a container action's inputs, through env.
  set --
  for name in $inputs; do
    var=CARGO_OIDC_IN_$(printf '%s' "$name" | tr 'a-z-' 'A-Z_')
    eval "value=\${$var-}"
    set -- "$@" "INPUT_$(printf '%s' "$name" | tr 'a-z' 'A-Z')=$value"
  done
  env "$@" GITHUB_STATE="$state" HOME="$home" "$bin"
}

# run_post runs the post stage for one state file. The STATE_* variables
# are passed with env, since their names hold dashes (STATE_registry-name),
# which sh cannot export; the positional parameters collect them.
run_post() {
  state=$1
  name_of=$(basename "$state" .state)
  bin=$(cat "${state%.state}.bin" 2>/dev/null || true)
  echo "Cleaning up after cargo-oidc setup step $name_of"
  set --
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%"$cr"}
    [ -n "$line" ] || continue
    case "$line" in
      *'<<'*)
        name=${line%%<<*}
        delim=${line#*<<}
        value=""
        first=1
        while IFS= read -r l || [ -n "$l" ]; do
          l=${l%"$cr"}
          [ "$l" != "$delim" ] || break
          if [ $first = 1 ]; then value=$l; else value="$value
$l"; fi
          first=0
        done
        ;;
      *=*)
        name=${line%%=*}
        value=${line#*=}
        ;;
      *)
        warn "$name_of: a state line is neither NAME=VALUE nor NAME<<DELIMITER; skipped"
        continue
        ;;
    esac
    set -- "$@" "STATE_$name=$value"
  done <"$state"
  if [ $# -eq 0 ]; then
    echo "Nothing to clean up for $name_of: its setup step did not finish (a failed step cleans up after itself)."
    return 0
  fi
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    warn "the cargo-oidc binary of setup step $name_of is gone ($bin), so its token was not revoked and its credentials file not removed; the token expires on its own"
    return 0
  fi
  status=0
  env "$@" HOME="$home" "$bin" post || status=$?
  if [ $status -ne 0 ]; then
    warn "the post stage of setup step $name_of exited with status $status"
  fi
}

post() {
  n=$(state_count)
  if [ "$n" -eq 0 ]; then
    echo "Nothing to clean up: no cargo-oidc setup step ran in this job."
  fi
  # Newest first, as the runner runs post stages.
  i=$n
  while [ "$i" -gt 0 ]; do
    f="$state_dir/$(printf '%04d' "$i").state"
    if [ -f "$f" ]; then
      run_post "$f"
      rm -f "$f" "${f%.state}.bin"
    fi
    i=$((i - 1))
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
