#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Offline toolchain setup for jupyterhub-lti-stack: Docker engine, a Terraform-compatible
# binary, the three providers in a local filesystem mirror, and the local stand-in base
# images. Idempotent and cache-aware: a second run only checks.
#
#   bash bin/setup/all.sh            # everything
#   JHLTI_SETUP_STEPS="engine base-images" bash bin/setup/all.sh   # a subset
#   JHLTI_SETUP_STEPS=lint-tools bash bin/setup/all.sh   # shellcheck only (not a default step)
#   JHLTI_SETUP_STEPS=browser bash bin/setup/all.sh      # chromium only (not a default step)
#   . "${JHLTI_CACHE:-$HOME/.cache/jupyterhub-lti-stack}/env.sh"   # afterwards
#
# Environment (all optional):
#   JHLTI_CACHE            cache dir (default ~/.cache/jupyterhub-lti-stack); rebuildable
#   TERRAFORM_BINARY_NAME  binary to use if it runs (else terraform on PATH, else OpenTofu)
#   JHLTI_ENGINE=tofu      use OpenTofu (built from its Go module) as the engine
#   JHLTI_BUILD_TOFU=1     build OpenTofu too (TOFU_BINARY in env.sh) to exercise both
#   JHLTI_INSTALL=online   the online install: Terraform/OpenTofu from PATH, providers from
#                          their registry (or JHLTI_PROVIDER_NETWORK_MIRROR, an https:// URL),
#                          no Go, no debootstrap; the CLI chooses it when registries answer
#   JHLTI_PROVIDER_MIRROR  directory from `terraform providers mirror` (air-gapped installs)
#   JHLTI_DEBIAN_MIRROR    Debian mirror for debootstrap (default: the host's apt sources)
#   JHLTI_CA_BUNDLE        CA bundle given to pip in the stand-in builds
#                          (default /etc/ssl/certs/ca-certificates.crt)
#   JHLTI_DOCKERD_TIMEOUT  seconds to wait for a started dockerd (default 120)
#
# Every step prints its wall time; a failed step is named, the steps that do not depend on
# it still run, and the script exits non-zero. Each step runs in its own bash process with
# errexit (run_step in lib.sh): its first failing command ends it.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# write_env (step "env") is defined here: the step's process sources this file (main only
# runs when the file is executed).
setup_step_file "${BASH_SOURCE[0]}"
# shellcheck source=engine.sh
. "$JHLTI_SETUP_DIR/engine.sh"
# shellcheck source=terraform.sh
. "$JHLTI_SETUP_DIR/terraform.sh"
# shellcheck source=providers.sh
. "$JHLTI_SETUP_DIR/providers.sh"
# shellcheck source=base-images.sh
. "$JHLTI_SETUP_DIR/base-images.sh"
# shellcheck source=lint-tools.sh
. "$JHLTI_SETUP_DIR/lint-tools.sh"
# shellcheck source=browser.sh
. "$JHLTI_SETUP_DIR/browser.sh"

write_env() {
  local tf kind tofu f="$JHLTI_CACHE/env.sh"
  tf="$(state_get terraform_binary)" || die "no terraform binary recorded"
  kind="$(state_get terraform_kind)" || die "no terraform kind recorded"
  tofu="$(state_get tofu_binary || true)"
  [ -f "$JHLTI_CACHE/terraformrc" ] || die "no CLI config $JHLTI_CACHE/terraformrc"
  {
    echo "# Written by bin/setup/all.sh: source it to use the toolchain it prepared."
    echo "export JHLTI_CACHE='$JHLTI_CACHE'"
    echo "export TF_CLI_CONFIG_FILE='$JHLTI_CACHE/terraformrc'"
    echo "export TERRAFORM_BINARY_NAME='$tf'"
    echo "export JHLTI_TERRAFORM_KIND='$kind'"
    if [ -n "$tofu" ]; then echo "export TOFU_BINARY='$tofu'"; fi
    echo "export JHLTI_INSTALL='${JHLTI_INSTALL:-offline}'"
    echo "export JHLTI_PROVIDER_MIRROR_DIR='$JHLTI_CACHE/providers'"
    echo "export CHECKPOINT_DISABLE=1"
    echo "export JHLTI_SETUP_FAILED_STEPS='${JHLTI_SETUP_FAILED_STEPS:-}'"
  } >"$f.tmp"
  mv "$f.tmp" "$f"
  info "wrote $f"
  sed 's/^/      /' "$f" >&2
}

main() {
  local steps="${JHLTI_SETUP_STEPS:-engine terraform providers base-images env}"
  local t0 failed=() s
  t0="$(now)"
  log "${JHLTI_INSTALL:-offline} toolchain setup (cache: $JHLTI_CACHE; steps: $steps)"
  declare -A ok=()
  skip() { # name reason
    STEP_NAMES+=("$1"); STEP_TIMES+=("$2"); STEP_RC+=(skipped)
    log "step $1: skipped ($2)"
    failed+=("$1")
  }
  for s in $steps; do
    case "$s" in
      lint-tools) run_step lint-tools lint_tools_main && ok[lint-tools]=1 || failed+=(lint-tools) ;;
      browser) run_step browser browser_main && ok[browser]=1 || failed+=(browser) ;;
      engine) run_step engine engine_main && ok[engine]=1 || failed+=(engine) ;;
      terraform) run_step terraform terraform_main && ok[terraform]=1 || failed+=(terraform) ;;
      providers)
        if [ -z "${ok[terraform]:-}" ] && [[ " $steps " == *" terraform "* ]]; then
          skip providers "terraform step failed"
        else
          run_step providers providers_main && ok[providers]=1 || failed+=(providers)
        fi
        ;;
      base-images)
        if [ -z "${ok[engine]:-}" ] && [[ " $steps " == *" engine "* ]]; then
          skip base-images "engine step failed"
        else
          run_step base-images base_images_main && ok[base-images]=1 || failed+=(base-images)
        fi
        ;;
      env)
        # Written whenever a binary and a CLI config exist, so that callers can still
        # source it; JHLTI_SETUP_FAILED_STEPS tells them what is missing.
        if [ -z "$(state_get terraform_binary || true)" ] || [ ! -f "$JHLTI_CACHE/terraformrc" ]; then
          skip env "no terraform binary or CLI config yet"
        else
          JHLTI_SETUP_FAILED_STEPS="${failed[*]}" run_step env write_env || failed+=(env)
        fi
        ;;
      *) die "unknown step '$s' (known: engine terraform providers base-images env lint-tools browser)" ;;
    esac
  done
  print_step_summary
  log "total ${steps// /+}: $(elapsed "$t0")s"
  if [ "${#failed[@]}" -gt 0 ]; then
    log "SETUP FAILED in step(s): ${failed[*]}"
    exit 1
  fi
  log "setup ok: . $JHLTI_CACHE/env.sh"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
