# shellcheck shell=bash
# Shared helpers for the offline toolchain setup (bin/setup/all.sh). Source, don't run.
#
# Conventions
#   - every step runs in a fresh bash process with `set -euo pipefail` and inherit_errexit
#     (run_step): a failing command anywhere in the step (also inside functions and command
#     substitutions) ends the step, and run_step prints "FAILED step <name>" with the exit
#     code and time. A fresh process, not a subshell: bash ignores errexit in every command
#     of an `&&`/`||` list or an `if` condition, subshells and functions included, so
#     `( set -e; ... )` would not stop a step that all.sh calls as `run_step ... && ...`.
#   - a step file sources this file and then calls `setup_step_file "${BASH_SOURCE[0]}"`:
#     run_step sources lib.sh and every file registered so, in that order, in the step's
#     process. Step files therefore only define functions and variables at top level (and
#     run something only under `[ "${BASH_SOURCE[0]}" = "$0" ]`).
#   - inside a step, a command that may fail is written `cmd || true`, `cmd || die ...` or
#     as an `if` condition; a function used as a condition runs without errexit (bash
#     rule), so every command in it is checked explicitly.
#   - steps talk to each other through files under $JHLTI_CACHE/state/, never through
#     exported variables (separate processes), so any step can also be run on its own.
#   - nothing here names a registry host: registries are reached through the host's own
#     client configuration (go env, npm config, pip config, apt sources).

set -o pipefail

export CHECKPOINT_DISABLE=1
export DEBIAN_FRONTEND=noninteractive
# Debian's needrestart (pulled in by docker.io) must not ask or scan after installs.
export NEEDRESTART_SUSPEND=1

JHLTI_CACHE="${JHLTI_CACHE:-$HOME/.cache/jupyterhub-lti-stack}"
export JHLTI_CACHE
JHLTI_SETUP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JHLTI_REPO_ROOT="$(cd "$JHLTI_SETUP_DIR/../.." && pwd)"
JHLTI_STATE="$JHLTI_CACHE/state"
export JHLTI_SETUP_DIR JHLTI_REPO_ROOT JHLTI_STATE
mkdir -p "$JHLTI_CACHE" "$JHLTI_STATE"

# One id per all.sh run (apt-get update at most once per run).
JHLTI_RUN_ID="${JHLTI_RUN_ID:-$$}"
export JHLTI_RUN_ID

log() { printf '==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
warn() { printf '    WARNING: %s\n' "$*" >&2; }
die() {
  printf '    ERROR in step %s: %s\n' "${JHLTI_STEP:-setup}" "$*" >&2
  exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Files whose functions the steps use (lib.sh itself comes first): see setup_step_file.
[ -n "${JHLTI_STEP_FILES+set}" ] || JHLTI_STEP_FILES=()
setup_step_file() { # FILE : make FILE's functions available to the steps run by run_step
  local f g
  f="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  for g in "${JHLTI_STEP_FILES[@]}"; do
    [ "$g" != "$f" ] || return 0
  done
  JHLTI_STEP_FILES+=("$f")
}

# The program of a step's process: $1.. = step files, "--", the definition of FUNCTION as
# the caller has it (so a function defined outside the step files runs too), FUNCTION ARGS...
# shellcheck disable=SC2016 # expanded by the step's bash, not here
JHLTI_STEP_PROGRAM='
set -euo pipefail
shopt -s inherit_errexit
__files=()
while [ "$1" != -- ]; do __files+=("$1"); shift; done
shift
for __f in "$JHLTI_SETUP_DIR/lib.sh" "${__files[@]}"; do
  . "$__f"
done
eval "$1"
shift
unset __files __f
"$@"
'

# run_step NAME FUNCTION [ARGS...]
# Runs FUNCTION in a fresh bash process (JHLTI_STEP_PROGRAM: errexit, nounset, pipefail,
# inherit_errexit; lib.sh and the registered step files sourced), prints start/end with wall
# time, records the result in $JHLTI_STATE/timings.tsv and in the global arrays
# STEP_NAMES/STEP_TIMES/STEP_RC, and returns the step's exit status. How run_step itself is
# called (`run_step ... && ok=1 || failed+=(...)`, inside `if`, ...) does not matter: the
# step's process starts with errexit on and no enclosing list or condition.
# Variables reach the step only through the environment (exported, or `VAR=value run_step`).
STEP_NAMES=()
STEP_TIMES=()
STEP_RC=()
run_step() {
  local name="$1"
  shift
  local t0 rc=0 secs fndef=""
  [ "$#" -gt 0 ] || die "run_step $name: no function given"
  t0="$(now)"
  log "step $name: start ($(date -u +%H:%M:%SZ))"
  if [ "$(type -t "$1")" = function ]; then
    fndef="$(declare -f "$1")"
  fi
  JHLTI_STEP="$name" bash -c "$JHLTI_STEP_PROGRAM" "jhlti-step-$name" \
    "${JHLTI_STEP_FILES[@]}" -- "$fndef" "$@" || rc=$?
  secs="$(elapsed "$t0")"
  STEP_NAMES+=("$name")
  STEP_TIMES+=("$secs")
  STEP_RC+=("$rc")
  printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$name" "$secs" "$rc" >>"$JHLTI_STATE/timings.tsv"
  if [ "$rc" -eq 0 ]; then
    log "step $name: ok in ${secs}s"
  else
    log "FAILED step $name (exit $rc) after ${secs}s"
  fi
  return "$rc"
}

print_step_summary() {
  local i
  log "summary (wall time per step)"
  for i in "${!STEP_NAMES[@]}"; do
    if [ "${STEP_RC[$i]}" = skipped ]; then
      printf '    %-14s %8s   skipped (%s)\n' "${STEP_NAMES[$i]}" "-" "${STEP_TIMES[$i]}" >&2
    elif [ "${STEP_RC[$i]}" = 0 ]; then
      printf '    %-14s %8ss  ok\n' "${STEP_NAMES[$i]}" "${STEP_TIMES[$i]}" >&2
    else
      printf '    %-14s %8ss  FAILED (exit %s)\n' "${STEP_NAMES[$i]}" "${STEP_TIMES[$i]}" "${STEP_RC[$i]}" >&2
    fi
  done
}

# apt-get update at most once per all.sh run.
apt_update_once() {
  local marker="$JHLTI_STATE/.apt-updated-$JHLTI_RUN_ID"
  [ -e "$marker" ] && return 0
  info "apt-get update"
  if ! apt-get update -q >>"$JHLTI_CACHE/apt.log" 2>&1; then
    tail -n 30 "$JHLTI_CACHE/apt.log" >&2
    die "apt-get update failed"
  fi
  rm -f "${JHLTI_STATE:?}"/.apt-updated-* 2>/dev/null || true
  : >"$marker"
}

# apt_install PKG... : install Debian packages that are not installed yet.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "need root to apt-get install ${missing[*]}"
  apt_update_once
  info "apt-get install ${missing[*]} (log: $JHLTI_CACHE/apt.log)"
  if ! apt-get install -y -q "${missing[@]}" >>"$JHLTI_CACHE/apt.log" 2>&1; then
    tail -n 30 "$JHLTI_CACHE/apt.log" >&2
    die "apt-get install ${missing[*]} failed"
  fi
}

# Go environment for every Go build of the setup: caches live under the cache dir so that
# reruns are fast and a wiped cache rebuilds everything.
go_env() {
  command -v go >/dev/null 2>&1 || die "go is not on PATH (needed to build providers / OpenTofu)"
  export GOMODCACHE="$JHLTI_CACHE/go/mod"
  export GOCACHE="$JHLTI_CACHE/go/build"
  export GOFLAGS="-buildvcs=false"
  export GOTOOLCHAIN=local
  export CGO_ENABLED=0
  mkdir -p "$GOMODCACHE" "$GOCACHE" || die "cannot create the Go caches under $JHLTI_CACHE/go"
}

# Terraform binary chosen by terraform.sh (absolute path).
state_get() { [ -f "$JHLTI_STATE/$1" ] && cat "$JHLTI_STATE/$1"; }
state_set() { printf '%s' "$2" >"$JHLTI_STATE/$1.tmp" && mv "$JHLTI_STATE/$1.tmp" "$JHLTI_STATE/$1"; }

# sha256 of stdin, hex only
sha256() { sha256sum | cut -d' ' -f1; }

# pinned KEY[.SUBKEY] : a version from images/versions.json, the project's one file of pins.
pinned() {
  local v
  v="$(node -e 'const v = require(process.argv[1]); const r = process.argv[2].split(".").reduce((o, k) => (o || {})[k], v); if (typeof r !== "string") process.exit(1); console.log(r)' \
    "$JHLTI_REPO_ROOT/images/versions.json" "$1")" || die "no version \"$1\" in images/versions.json"
  echo "$v"
}

# dir_hash DIR : content hash of a directory tree (relative paths, modes, link targets
# and file contents).
dir_hash() {
  (
    cd "$1" || exit 1
    find . \( -type f -o -type l \) -printf '%p %y %m %l\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  ) | sha256
}
