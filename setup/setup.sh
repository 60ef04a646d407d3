#!/bin/sh
# The steps of the composite action (setup/action.yml and setup/post/action.yml).
# POSIX sh, so it runs in every bash (3.2 on macOS, Git Bash on Windows),
# dash and busybox sh, with tools Git for Windows ships.
#
#   setup.sh main   download the release binary for this runner, check it
#                   against the checksums committed with the action, run it
#   setup.sh post   run the binary's post stage for every main stage of this
#                   job, newest first, and remove what the action left
#
# Environment: CARGO_OIDC_ACTION_PATH (the folder holding VERSION and
# SHA256SUMS), RUNNER_TEMP, RUNNER_OS, RUNNER_ARCH, GITHUB_RUN_ID,
# GITHUB_RUN_ATTEMPT, GITHUB_JOB, GITHUB_ENV (main), CARGO_OIDC_DOWNLOAD_URL
# (main), CARGO_OIDC_IN_<NAME> (main: the inputs, which the binary reads
# itself), CARGO_OIDC_SETUP_JOB (set by main through GITHUB_ENV).
#
# No value goes on a command line: a process's arguments are readable by
# every user of the machine. The binary reads the inputs from the
# environment and the state from its file; curl reads the download URL from
# its standard input.
set -eu

die() {
  echo "::error title=cargo-oidc setup::$*"
  exit 1
}

warn() {
  echo "::warning title=cargo-oidc post::$*"
}

# The largest binary accepted (64 MiB): a release binary is about 10 MiB.
max_size=67108864

action_dir=${CARGO_OIDC_ACTION_PATH:-}
[ -n "$action_dir" ] || die "CARGO_OIDC_ACTION_PATH is not set: run this script through the action (uses: cargo-oidc/cargo-oidc/setup@v1)"
[ -n "${RUNNER_TEMP:-}" ] || die "RUNNER_TEMP is not set: run this action as a GitHub Actions step"
# Everything the action keeps lives here; the runner empties RUNNER_TEMP
# after every job.
base="$RUNNER_TEMP/cargo-oidc-setup"
state_dir="$base/state"
home="$base/home"

# sha256 prints the SHA-256 of a file in lower-case hex (empty when the
# file cannot be read).
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sum=$(sha256sum "$1" 2>/dev/null) || sum=""
  else
    sum=$(shasum -a 256 "$1" 2>/dev/null) || sum=""
  fi
  sum=${sum%% *}
  printf '%s\n' "${sum#\\}" | tr 'A-F' 'a-f'
}

# release sets version, asset, exe and expected (the SHA-256 committed for
# this runner's binary), or sets problem and returns 1.
release() {
  problem=""
  if ! command -v sha256sum >/dev/null 2>&1 && ! command -v shasum >/dev/null 2>&1; then
    problem="neither sha256sum nor shasum is installed, so the binary cannot be checked"
    return 1
  fi
  case "${RUNNER_OS:-}" in
    Linux) os=linux ;;
    macOS) os=darwin ;;
    Windows) os=windows ;;
    *)
      problem="there is no cargo-oidc binary for RUNNER_OS=${RUNNER_OS:-(unset)}; released: Linux, macOS, Windows"
      return 1
      ;;
  esac
  case "${RUNNER_ARCH:-}" in
    X64) arch=amd64 ;;
    ARM64) arch=arm64 ;;
    *)
      problem="there is no cargo-oidc binary for RUNNER_ARCH=${RUNNER_ARCH:-(unset)}; released: X64, ARM64"
      return 1
      ;;
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
    problem="this copy of the action is not a release: $action_dir has no VERSION and SHA256SUMS (a release commit adds them). Use a release tag, like cargo-oidc/cargo-oidc/setup@v1"
    return 1
  fi
  version=$(tr -d '\r\n' <"$action_dir/VERSION")
  if ! printf '%s\n' "$version" | grep -Eq '^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'; then
    problem="$action_dir/VERSION holds '$version', not a release tag like v1.2.3"
    return 1
  fi
  expected=$(tr -d '\r' <"$action_dir/SHA256SUMS" | awk -v n="$asset" '$2 == n || $2 == "*" n { print $1; exit }')
  case "$expected" in
    *[!0-9a-f]* | "") expected="" ;;
  esac
  if [ ${#expected} -ne 64 ]; then
    problem="$action_dir/SHA256SUMS has no checksum for $asset (this runner: $RUNNER_OS $RUNNER_ARCH)"
    return 1
  fi
  bin="$base/bin/$version/$exe"
}

# shown prints URL without its user information (user:password@): the
# runner masks a secret only where it appears exactly, and {version} or the
# asset name make the URL differ from the secret.
shown() {
  case "$1" in
    *://*)
      scheme=${1%%://*}
      rest=${1#*://}
      authority=${rest%%[/?#]*}
      path=${rest#"$authority"}
      printf '%s://%s%s\n' "$scheme" "${authority##*@}" "$path"
      ;;
    *) printf '%s\n' "$1" ;;
  esac
}

# download URL FILE fetches URL into FILE, at most max_size bytes, with
# curl, else wget (busybox), else a plain copy for a file:// URL; it sets
# problem and returns 1 on failure. Integrity comes from the checksum, not
# from the transport; no redirect to plain http is followed. curl reads the
# URL from its standard input (its config), so the URL, with any
# credentials, is on no command line.
download() {
  rm -f "$2" "$2.status" "$2.log"
  case "$1" in
    file://*)
      path=${1#file://}
      case "$path" in
        /[A-Za-z]:/*) path=${path#/} ;; # file:///D:/mirror on Windows
      esac
      if ! cp "$path" "$2"; then
        problem="the file cannot be copied"
        return 1
      fi
      ;;
    *)
      if command -v curl >/dev/null 2>&1; then
        {
          printf 'url = "%s"\n' "$1" |
            curl --config - --fail --silent --show-error --location --max-redirs 10 --retry 3 \
              --connect-timeout 20 --max-time 300 --max-filesize "$max_size" \
              --proto '=https,http' --proto-redir '=https' --output - ||
            echo "$?" >"$2.status"
        } | head -c "$((max_size + 1))" >"$2"
      elif command -v wget >/dev/null 2>&1; then
        if [ "$(shown "$1")" != "$1" ]; then
          problem="download-url holds credentials (user:password@), which wget would have on its command line, readable by every user of the machine; install curl, which reads the URL from its input"
          return 1
        fi
        # -S logs every response's headers: wget (busybox's has no
        # --max-redirect) follows redirects itself, so a redirect to
        # plain http is refused from the log before the file is used.
        {
          wget -S -O - "$1" 2>"$2.log" || echo "$?" >"$2.status"
        } | head -c "$((max_size + 1))" >"$2"
        if grep -Eiq '^[[:space:]]*location:[[:space:]]*http:' "$2.log"; then
          problem="the server redirected to a plain http:// URL, which is refused"
          return 1
        fi
      else
        problem="neither curl nor wget is installed"
        return 1
      fi
      ;;
  esac
  size=$(wc -c <"$2" | tr -d ' \t')
  status=$(cat "$2.status" 2>/dev/null || true)
  if [ "$size" -gt "$max_size" ] || [ "$status" = 63 ]; then
    problem="the file is larger than $max_size bytes (64 MiB), far larger than a release binary"
    return 1
  fi
  if [ -n "$status" ]; then
    if [ -f "$2.log" ]; then
      grep -i -e 'error' -e 'failed' -e 'refused' -e 'wget:' "$2.log" | tail -n 3 || true
    fi
    if command -v curl >/dev/null 2>&1; then
      problem="curl failed with exit status $status (its message is above; redirects are followed to https only)"
    else
      problem="wget failed with exit status $status"
    fi
    return 1
  fi
  rm -f "$2.status" "$2.log"
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

# owner prints what a state's .id file holds: the run, its attempt, the
# job and the job's random id, so the post step acts only on the state the
# setup steps of its own job wrote.
owner() {
  printf 'run=%s\nattempt=%s\njob=%s\nsetup=%s\n' "${GITHUB_RUN_ID:-}" "${GITHUB_RUN_ATTEMPT:-}" "${GITHUB_JOB:-}" "${CARGO_OIDC_SETUP_JOB:-}"
}

main() {
  release || die "$problem"

  url=${CARGO_OIDC_DOWNLOAD_URL:-}
  if [ -z "$url" ]; then
    url="https://github.com/cargo-oidc/cargo-oidc/releases/download/{version}"
  fi
  while :; do
    case "$url" in
      *"{version}"*) url=${url%%"{version}"*}$version${url#*"{version}"} ;;
      *) break ;;
    esac
  done
  url=${url%/}
  case "$url" in
    https://* | http://* | file://*) ;;
    *) die "download-url is not an https, http or file URL: it must start with https://, http:// or file://" ;;
  esac
  case "$url" in
    *[[:space:][:cntrl:]\"\\]*) die "download-url holds a space, a quote, a backslash or a control character: percent-encode it" ;;
  esac
  url="$url/$asset"
  show=$(shown "$url")
  if [ "$show" != "$url" ]; then
    # The credentials are masked as well as never printed.
    userinfo=${url#*://}
    userinfo=${userinfo%%[/?#]*}
    userinfo=${userinfo%@*}
    echo "::add-mask::$userinfo"
    case "$userinfo" in
      *:?*) echo "::add-mask::${userinfo#*:}" ;;
    esac
  fi

  bin_dir="$base/bin/$version"
  mkdir -p "$bin_dir"
  if [ -f "$bin" ] && [ "$(sha256 "$bin")" = "$expected" ]; then
    echo "cargo-oidc $version for $RUNNER_OS $RUNNER_ARCH: already downloaded and checked in this job"
  else
    echo "::group::Downloading cargo-oidc $version for $RUNNER_OS $RUNNER_ARCH"
    echo "From $show"
    tmp="$bin_dir/.download.$$"
    if ! download "$url" "$tmp"; then
      rm -f "$tmp" "$tmp.status" "$tmp.log"
      echo "::endgroup::"
      die "could not download $show: $problem; check download-url and the runner's network (a mirror must hold the release's files under their release names)"
    fi
    actual=$(sha256 "$tmp")
    if [ "$actual" != "$expected" ]; then
      rm -f "$tmp"
      echo "::endgroup::"
      die "the SHA-256 of $show is $actual, but the checksum committed with this action for $asset $version is $expected; the file was deleted and not run. A mirror must serve the release's files unchanged"
    fi
    echo "SHA-256 $actual matches $action_dir/SHA256SUMS"
    chmod 0755 "$tmp"
    mv -f "$tmp" "$bin"
    echo "::endgroup::"
  fi

  # The job's random id, made by its first setup step and passed to the
  # later steps (the post step among them) through GITHUB_ENV.
  case "${CARGO_OIDC_SETUP_JOB:-}" in
    *[!0-9a-f]* | "") CARGO_OIDC_SETUP_JOB="" ;;
  esac
  if [ ${#CARGO_OIDC_SETUP_JOB} -ne 32 ]; then
    [ -n "${GITHUB_ENV:-}" ] || die "GITHUB_ENV is not set: run this action as a GitHub Actions step"
    CARGO_OIDC_SETUP_JOB=$(od -A n -N 16 -t x1 /dev/urandom | tr -d ' \t\r\n')
    [ ${#CARGO_OIDC_SETUP_JOB} -eq 32 ] || die "no random id could be read from /dev/urandom"
    printf 'CARGO_OIDC_SETUP_JOB=%s\n' "$CARGO_OIDC_SETUP_JOB" >>"$GITHUB_ENV"
  fi

  # The binary writes its state (what the post stage needs) to a file of
  # its own, since the post step is another action and cannot read this
  # step's GITHUB_STATE. HOME is the action's own folder, as in the
  # container (provider mode installs the binary under it).
  mkdir -p "$state_dir" "$home"
  chmod 0700 "$state_dir"
  state="$state_dir/$(printf '%04d' $(($(state_count) + 1))).state"
  (umask 077 && : >"$state" && owner >"${state%.state}.id")
  # The inputs reach the binary as the CARGO_OIDC_IN_<NAME> variables
  # setup/action.yml sets (identifier names: dash and busybox sh drop
  # variables such as INPUT_REGISTRY-NAME from a program's environment);
  # --composite makes it read them.
  GITHUB_STATE="$state" HOME="$home" "$bin" --composite
}

# run_post runs the post stage for one state file, when a setup step of
# this job wrote it, with the binary checked against SHA256SUMS again.
run_post() {
  state=$1
  name_of=$(basename "$state" .state)
  if [ "$(cat "${state%.state}.id" 2>/dev/null || true)" != "$(owner)" ]; then
    warn "state $name_of in $state_dir was not written by a setup step of this job (run ${GITHUB_RUN_ID:-}, attempt ${GITHUB_RUN_ATTEMPT:-}, job ${GITHUB_JOB:-}); skipped"
    return 0
  fi
  echo "Cleaning up after cargo-oidc setup step $name_of"
  if [ ! -s "$state" ]; then
    echo "Nothing to clean up for $name_of: its setup step did not finish (a failed step cleans up after itself)."
    return 0
  fi
  if [ -n "$problem" ]; then
    warn "setup step $name_of: $problem; its token was not revoked and its credentials file not removed; the token expires on its own"
    return 0
  fi
  if [ ! -f "$bin" ] || [ "$(sha256 "$bin")" != "$expected" ]; then
    warn "the cargo-oidc $version binary in $base/bin is gone or changed (its SHA-256 is not the one in $action_dir/SHA256SUMS; use the same version of setup and setup/post), so the token of setup step $name_of was not revoked and its credentials file not removed; the token expires on its own"
    return 0
  fi
  status=0
  HOME="$home" "$bin" post --state-file="$state" || status=$?
  if [ $status -ne 0 ]; then
    warn "the post stage of setup step $name_of exited with status $status"
  fi
}

post() {
  n=$(state_count)
  if [ "$n" -eq 0 ]; then
    echo "Nothing to clean up: no cargo-oidc setup step ran in this job."
  else
    release || true
  fi
  # Newest first, as the runner runs post stages.
  i=$n
  while [ "$i" -gt 0 ]; do
    f="$state_dir/$(printf '%04d' "$i").state"
    if [ -f "$f" ]; then
      run_post "$f"
      rm -f "$f" "${f%.state}.id"
    fi
    i=$((i - 1))
  done
  # The binaries, the provider's copy, its token cache (each post stage
  # above deleted its own already) and the state: nothing of the action
  # stays for later jobs on a self-hosted runner.
  rm -rf "$base"
}

case "${1:-}" in
  main) main ;;
  post) post ;;
  *) die "usage: setup.sh main|post" ;;
esac
