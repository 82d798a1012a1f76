#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Step "terraform": choose the Terraform-compatible binary the project uses.
#   1. $TERRAFORM_BINARY_NAME if set and runnable,
#   2. else `terraform` on PATH,
#   3. else OpenTofu $JHLTI_TOFU_VERSION (default: images/versions.json) built from its Go module into the
#      cache ($JHLTI_CACHE/bin/tofu-<v>/tofu).
# JHLTI_ENGINE=tofu forces OpenTofu as the chosen engine; JHLTI_BUILD_TOFU=1 builds OpenTofu
# as well (recorded as TOFU_BINARY) so a caller can exercise both engines.
# The online install (JHLTI_INSTALL=online) never builds: it takes 1. or 2. (or `tofu` on PATH
# with JHLTI_ENGINE=tofu) and fails, saying so, when there is none.
# Result: $JHLTI_STATE/terraform_binary (absolute path), $JHLTI_STATE/terraform_kind
# (terraform|tofu), and $JHLTI_STATE/tofu_binary when OpenTofu was built (kept while it runs).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_step_file "${BASH_SOURCE[0]}"

JHLTI_TOFU_VERSION="${JHLTI_TOFU_VERSION:-$(pinned opentofu)}"

# Version probes ignore the caller's CLI config (it may name a file that does not exist yet).
tf_version() { TF_CLI_CONFIG_FILE=/dev/null "$1" version 2>/dev/null; }

runnable() { [ -n "$1" ] && tf_version "$1" >/dev/null; }

# First line of `version` (sed reads all of it: no SIGPIPE for the binary under pipefail).
tf_version_line() { tf_version "$1" | sed -n 1p; }

engine_kind() {
  local l
  l="$(tf_version_line "$1" || true)"
  case "${l,,}" in
    *opentofu*) echo tofu ;;
    *) echo terraform ;;
  esac
}

build_tofu() {
  local v="$JHLTI_TOFU_VERSION"
  local out="$JHLTI_CACHE/bin/tofu-$v/tofu"
  if [ -x "$out" ] && [[ "$(tf_version_line "$out" || true)" == *"v$v" ]]; then
    info "OpenTofu $v already built: $out"
    echo "$out"
    return 0
  fi
  go_env
  info "downloading module github.com/opentofu/opentofu@v$v"
  local json dir
  json="$(go mod download -json "github.com/opentofu/opentofu@v$v")" || die "go mod download opentofu@v$v failed: $json"
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$dir" ] || die "no module dir for opentofu@v$v in: $json"
  # Its go.mod has a replace directive, so `go install ...@v` is refused: build in a copy.
  local src="$JHLTI_CACHE/src/opentofu-$v"
  rm -rf "${src:?}"
  mkdir -p "$(dirname "$src")"
  cp -r "${dir:?}" "$src"
  chmod -R u+w "$src"
  info "building OpenTofu $v (go $(go env GOVERSION), CGO_ENABLED=0, -trimpath)"
  mkdir -p "$(dirname "$out")"
  local logf="$JHLTI_CACHE/bin/tofu-$v.build.log"
  if ! (cd "$src" && go build -trimpath \
    -ldflags "-s -w -X 'github.com/opentofu/opentofu/version.dev=no'" \
    -o "$out.tmp" ./cmd/tofu) >"$logf" 2>&1; then
    grep -v '^go: downloading' "$logf" | tail -n 30 >&2
    die "go build of OpenTofu $v failed (log: $logf)"
  fi
  mv "$out.tmp" "$out"
  rm -rf "${src:?}"
  runnable "$out" || die "built OpenTofu does not run"
  echo "$out"
}

terraform_main() {
  local bin="" why="" recorded
  # An OpenTofu built by an earlier run (JHLTI_BUILD_TOFU=1) stays recorded while it runs, so a
  # later setup without the flag (npm run demo) does not take it from the test tiers.
  recorded="$(state_get tofu_binary || true)"
  if [ -n "$recorded" ] && ! runnable "$recorded"; then rm -f "${JHLTI_STATE:?}/tofu_binary"; fi
  if [ "${JHLTI_INSTALL:-offline}" = online ]; then
    local name=terraform
    [ "${JHLTI_ENGINE:-}" = tofu ] && name=tofu
    if [ -n "${TERRAFORM_BINARY_NAME:-}" ] && runnable "$(command -v "$TERRAFORM_BINARY_NAME" || true)"; then
      bin="$(command -v "$TERRAFORM_BINARY_NAME")"
      why="TERRAFORM_BINARY_NAME"
    elif runnable "$(command -v "$name" || true)"; then
      bin="$(command -v "$name")"
      why="$name on PATH"
    else
      die "the online install takes Terraform (or OpenTofu with JHLTI_ENGINE=tofu) from PATH or TERRAFORM_BINARY_NAME and found none: install it from its vendor, or use the offline install (--install offline), which builds OpenTofu from source"
    fi
  elif [ "${JHLTI_ENGINE:-}" = tofu ]; then
    bin="$(build_tofu)"
    why="JHLTI_ENGINE=tofu"
  elif [ -n "${TERRAFORM_BINARY_NAME:-}" ] && runnable "$(command -v "$TERRAFORM_BINARY_NAME" || true)"; then
    bin="$(command -v "$TERRAFORM_BINARY_NAME")"
    why="TERRAFORM_BINARY_NAME"
  elif runnable "$(command -v terraform || true)"; then
    bin="$(command -v terraform)"
    why="terraform on PATH"
  else
    [ -n "${TERRAFORM_BINARY_NAME:-}" ] && warn "TERRAFORM_BINARY_NAME=$TERRAFORM_BINARY_NAME does not run; falling back"
    bin="$(build_tofu)"
    why="no terraform found: built OpenTofu"
  fi
  runnable "$bin" || die "chosen binary $bin does not run"
  bin="$(readlink -f "$bin")"
  state_set terraform_binary "$bin"
  state_set terraform_kind "$(engine_kind "$bin")"
  info "engine: $bin ($(engine_kind "$bin"); $why): $(tf_version_line "$bin")"
  if [ "${JHLTI_BUILD_TOFU:-0}" = 1 ] && [ "${JHLTI_INSTALL:-offline}" != online ]; then
    local tofu
    tofu="$(build_tofu)"
    state_set tofu_binary "$tofu"
    info "also built OpenTofu: $tofu"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  run_step terraform terraform_main
fi
