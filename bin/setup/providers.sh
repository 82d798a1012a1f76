#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Step "providers": the three providers the stacks require (constructs/provider-versions.ts), in a filesystem
# mirror, and a Terraform CLI config that uses it.
#
#   mirror:  $JHLTI_CACHE/providers/<host>/<ns>/<type>/<version>/linux_amd64/terraform-provider-<type>_v<version>
#            for host registry.terraform.io (Terraform) and registry.opentofu.org (OpenTofu)
#   config:  $JHLTI_CACHE/terraformrc (filesystem_mirror for the three, `direct` for the rest)
#
# Each provider comes from, in this order:
#   1. the mirror itself (already built: skipped),
#   2. $JHLTI_PROVIDER_MIRROR, a directory made elsewhere with `terraform providers mirror DIR`
#      (packed *.zip layout) or an unpacked mirror: the air-gapped path for real installs,
#   3. a build from its Go module through the Go module proxy: wrapper module in
#      bin/setup/providers/<name>/ (requires the provider's declared module path, replaces
#      it with the repository path at the pinned commit's pseudo-version), built with
#      CGO_ENABLED=0 -trimpath -ldflags "-s -w -X main.version=<v>" as the release builds are.
# Then a throwaway `init` with the chosen engine (and OpenTofu if built) proves the mirror
# resolves the exact versions without any network.
#
# The online install (JHLTI_INSTALL=online) builds and copies nothing: the CLI config sends
# `init` to the public registry, or to the provider network mirror JHLTI_PROVIDER_NETWORK_MIRROR
# (an https:// URL, e.g. a site's Artifactory or `terraform providers mirror` output served
# over HTTPS) for the three providers; the throwaway `init` proves it serves the pinned versions.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_step_file "${BASH_SOURCE[0]}"

# name ns type version declared-module-path fetch-module-path pseudo-version(commit)
# Measured: the Go module proxy reachable here serves only some versions (403 "This module
# version is not available" for the rest). docker 3.6.2, the version the @cdktf bindings were
# generated for, is refused at every path; the commit after v4.6.0 (96d331c) is served, so the
# stacks require docker 4.6.0 (constructs/provider-versions.ts). random 3.7.2 is served under
# its declared path (the old terraform-providers name), not under hashicorp/.
# Versions from images/versions.json; the module coordinates below belong to those versions.
PROVIDERS=(
  "docker kreuzwerker docker $(pinned providers.docker) github.com/terraform-providers/terraform-provider-docker github.com/kreuzwerker/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4"
  "tls hashicorp tls $(pinned providers.tls) github.com/hashicorp/terraform-provider-tls github.com/hashicorp/terraform-provider-tls v1.2.1-0.20250423195406-eefba144662d"
  "random hashicorp random $(pinned providers.random) github.com/terraform-providers/terraform-provider-random github.com/terraform-providers/terraform-provider-random v1.3.2-0.20250422105519-bc2ddb552b46"
)
MIRROR="$JHLTI_CACHE/providers"
HOSTS=(registry.terraform.io registry.opentofu.org)
PLATFORM=linux_amd64

mirror_bin() { # host ns type version
  echo "$MIRROR/$1/$2/$3/$4/$PLATFORM/terraform-provider-$3_v$4"
}

# Place a built/imported binary into both host layouts (hard links, same file).
# Checked explicitly (it also runs where errexit is off: build_provider is a condition).
install_into_mirror() { # file ns type version
  local f="${1:?}" h dst
  [ -f "$f" ] || die "no provider binary $f to put into the mirror"
  for h in "${HOSTS[@]}"; do
    dst="$(mirror_bin "$h" "${2:?}" "${3:?}" "${4:?}")"
    mkdir -p "$(dirname "$dst")" || die "cannot create the mirror directory for $dst"
    rm -f "$dst" || die "cannot replace $dst"
    ln "$f" "$dst" 2>/dev/null || cp "$f" "$dst" || die "cannot put $f into the mirror as $dst"
    chmod 0755 "$dst" || die "cannot chmod $dst"
  done
}

unzip_to() { # zip dir
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$1" -d "$2"
  else
    python3 -m zipfile -e "$1" "$2"
  fi
}

# The provider's file in $JHLTI_PROVIDER_MIRROR (an unpacked binary or a packed *.zip), on
# stdout; status 1 when that mirror has none. Only looks: safe as a condition.
mirror_source() { # ns type version
  local src="${JHLTI_PROVIDER_MIRROR:-}" h f
  [ -n "$src" ] && [ -d "$src" ] || return 1
  for h in "${HOSTS[@]}"; do
    # unpacked layout
    for f in "$src/$h/$1/$2/$3/$PLATFORM/terraform-provider-${2}_v$3"*; do
      [ -f "$f" ] || continue
      echo "$f"
      return 0
    done
    # packed layout (terraform providers mirror)
    f="$src/$h/$1/$2/terraform-provider-$2_$3_$PLATFORM.zip"
    if [ -f "$f" ]; then
      echo "$f"
      return 0
    fi
  done
  return 1
}

import_provider() { # file-from-mirror_source ns type version
  local f="${1:?}" tmp="$JHLTI_CACHE/providers-build/import-${3:?}" b
  rm -rf "${tmp:?}"
  mkdir -p "$tmp"
  if [[ "$f" == *.zip ]]; then
    unzip_to "$f" "$tmp" || die "cannot unzip $f"
    b="$(find "$tmp" -maxdepth 1 -type f -name "terraform-provider-$3*" | sed -n 1p)"
    [ -n "$b" ] || die "no provider binary inside $f"
  else
    b="$tmp/bin"
    cp "$f" "$b"
    chmod 0755 "$b"
  fi
  install_into_mirror "$b" "$2" "$3" "$4"
  rm -rf "${tmp:?}"
  info "$2/$3 $4 imported from $f"
}

# Status 1 (with a warning) when the module cannot be obtained or built. It is called as a
# condition, where bash runs it without errexit: every command is checked explicitly.
build_provider() { # name ns type version declared repo pseudo
  local name="${1:?}" ns="$2" type="$3" v="$4" declared="$5" repo="$6" pseudo="$7"
  go_env
  # The pinned pseudo-versions are not in the public checksum database (they are not the
  # canonical pseudo-version of the commit): skip the checksum DB for the provider module
  # only; the wrapper's committed go.sum (where present) pins its hash.
  export GONOSUMDB="$repo${GONOSUMDB:+,$GONOSUMDB}"
  export GOFLAGS="$GOFLAGS -mod=mod"
  local wd="$JHLTI_CACHE/providers-build/$name"
  rm -rf "${wd:?}" || die "cannot remove $wd"
  mkdir -p "$wd" || die "cannot create $wd"
  cp "$JHLTI_SETUP_DIR/providers/$name/"* "$wd/" || die "cannot copy the $name wrapper module"
  local out="$wd/terraform-provider-${type}_v$v"
  info "building $ns/$type $v from $repo@$pseudo"
  if ! (cd "$wd" && go mod download -x "$repo@$pseudo" >"$wd/download.log" 2>&1); then
    grep -v '^#' "$wd/download.log" | head -n 5 >&2
    warn "module $repo@$pseudo is not obtainable through the configured Go module proxy"
    return 1
  fi
  local logf="$JHLTI_CACHE/providers-build/$name.build.log"
  if [ ! -f "$wd/go.sum" ] || ! grep -q "^$repo $pseudo " "$wd/go.sum"; then
    if ! (cd "$wd" && go mod tidy) >"$logf" 2>&1; then
      grep -v '^go: downloading' "$logf" | tail -n 20 >&2
      warn "go mod tidy failed for the $name wrapper (log: $logf)"
      return 1
    fi
  fi
  if ! (cd "$wd" && go build -trimpath -ldflags "-s -w -X main.version=$v -X main.Version=$v" \
    -o "$out" "$declared") >>"$logf" 2>&1; then
    grep -v '^go: downloading' "$logf" | tail -n 30 >&2
    warn "go build of $ns/$type $v failed (log: $logf)"
    return 1
  fi
  install_into_mirror "$out" "$ns" "$type" "$v"
  rm -rf "${wd:?}" || die "cannot remove $wd"
}

# The project's providers as a CLI config list: ["<host>/<ns>/<type>", ...] for both hosts.
provider_addresses() {
  local inc="" h spec ns type
  for h in "${HOSTS[@]}"; do
    for spec in "${PROVIDERS[@]}"; do
      read -r _ ns type _ _ _ _ <<<"$spec"
      inc+="\"$h/$ns/$type\", "
    done
  done
  echo "[${inc%, }]"
}

# write_cli_config COMMENT METHOD-BLOCK: $JHLTI_CACHE/terraformrc with the project's providers
# from METHOD-BLOCK (a filesystem or network mirror, its include list appended) and every other
# provider directly from its registry.
write_cli_config() {
  local cfg="$JHLTI_CACHE/terraformrc" inc
  inc="$(provider_addresses)"
  cat >"$cfg.tmp" <<EOF
# Written by bin/setup/providers.sh: $1
provider_installation {
  $2 {
$3
    include = $inc
  }
  direct {
    exclude = $inc
  }
}
EOF
  mv "$cfg.tmp" "$cfg"
  info "CLI config: $cfg"
}

# The CLI config of the online install: the network mirror for the project's three providers
# (when given), else every provider directly from its registry.
write_online_cli_config() {
  local mirror="${JHLTI_PROVIDER_NETWORK_MIRROR:-}"
  if [ -z "$mirror" ]; then
    printf '%s\n' "# Written by bin/setup/providers.sh (online install): every provider from its registry." >"$JHLTI_CACHE/terraformrc"
    info "CLI config: $JHLTI_CACHE/terraformrc (providers from their registry)"
    return 0
  fi
  case "$mirror" in
    https://*/) ;;
    https://*) mirror="$mirror/" ;;
    *) die "JHLTI_PROVIDER_NETWORK_MIRROR must be an https:// URL (Terraform talks to network mirrors over HTTPS only), got: $mirror" ;;
  esac
  write_cli_config "online install, the project's providers from the network mirror $mirror (JHLTI_PROVIDER_NETWORK_MIRROR); any other provider directly." \
    network_mirror "    url     = \"$mirror\""
}

verify_init() { # binary label
  local bin="$1" d
  d="$(mktemp -d "$JHLTI_CACHE/verify-init.XXXXXX")"
  cat >"$d/main.tf" <<EOF
terraform {
  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = "$(pinned providers.docker)"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "$(pinned providers.tls)"
    }
    random = {
      source  = "hashicorp/random"
      version = "$(pinned providers.random)"
    }
  }
}
EOF
  if ! (cd "$d" && TF_CLI_CONFIG_FILE="$JHLTI_CACHE/terraformrc" TF_PLUGIN_CACHE_DIR="" \
    "$bin" init -input=false -no-color >"$d/init.log" 2>&1); then
    cat "$d/init.log" >&2
    die "$2 init against the ${3:-mirror} failed (dir kept: $d)"
  fi
  local n
  n="$(grep -c '^provider ' "$d/.terraform.lock.hcl" || true)"
  [ "$n" = 3 ] || { cat "$d/init.log" >&2; die "$2 init wrote $n providers to the lock file, expected 3"; }
  info "$2 init resolved: $(grep '^provider ' "$d/.terraform.lock.hcl" | sed 's/provider "\(.*\)" {/\1/' | tr '\n' ' ')"
  rm -rf "${d:?}"
}

providers_online() {
  write_online_cli_config
  local tf tofu source="${JHLTI_PROVIDER_NETWORK_MIRROR:-public registry}"
  tf="$(state_get terraform_binary)" || true
  [ -n "$tf" ] || die "no terraform binary recorded: run the terraform step first"
  verify_init "$tf" "$(state_get terraform_kind)" "$source"
  tofu="$(state_get tofu_binary || true)"
  if [ -n "$tofu" ] && [ "$tofu" != "$tf" ]; then verify_init "$tofu" tofu "$source"; fi
  # The offline mirror's check no longer holds for this CLI config.
  rm -f "$JHLTI_STATE/providers_verified"
}

providers_main() {
  if [ "${JHLTI_INSTALL:-offline}" = online ]; then
    providers_online
    return 0
  fi
  mkdir -p "$MIRROR"
  local spec name ns type v declared repo pseudo missing=() done_any=0
  for spec in "${PROVIDERS[@]}"; do
    read -r name ns type v declared repo pseudo <<<"$spec"
    if [ -x "$(mirror_bin registry.terraform.io "$ns" "$type" "$v")" ] &&
      [ -x "$(mirror_bin registry.opentofu.org "$ns" "$type" "$v")" ]; then
      info "$ns/$type $v: in the mirror (skip)"
      continue
    fi
    local t0 from
    t0="$(now)"
    if from="$(mirror_source "$ns" "$type" "$v")"; then
      import_provider "$from" "$ns" "$type" "$v"
    elif build_provider "$name" "$ns" "$type" "$v" "$declared" "$repo" "$pseudo"; then
      info "$ns/$type $v built in $(elapsed "$t0")s"
    else
      missing+=("$ns/$type $v")
      continue
    fi
    done_any=1
  done
  write_cli_config "the project's providers come from the local filesystem mirror (built from source, no registry); any other provider is installed directly as usual." \
    filesystem_mirror "    path    = \"$MIRROR\""
  if [ "${#missing[@]}" -gt 0 ]; then
    die "provider(s) not obtainable: $(printf '%s; ' "${missing[@]}")the Go module proxy does not serve their pinned source version. Put them in a directory made with 'terraform providers mirror DIR' on a machine with registry access and rerun with JHLTI_PROVIDER_MIRROR=DIR."
  fi
  local tf
  tf="$(state_get terraform_binary)" || true
  [ -n "$tf" ] || die "no terraform binary recorded: run the terraform step first"
  if [ "$done_any" = 1 ] || [ ! -f "$JHLTI_STATE/providers_verified" ] ||
    [ "$(cat "$JHLTI_STATE/providers_verified")" != "$tf" ]; then
    verify_init "$tf" "$(state_get terraform_kind)"
    local tofu
    tofu="$(state_get tofu_binary || true)"
    if [ -n "$tofu" ] && [ "$tofu" != "$tf" ]; then
      verify_init "$tofu" tofu
    fi
    state_set providers_verified "$tf"
  else
    info "mirror unchanged and verified before with $tf (skip init check)"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  run_step providers providers_main
fi
