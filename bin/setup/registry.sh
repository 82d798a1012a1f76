#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Step "registry": Debian's docker-registry (the CNCF distribution registry), the loopback
# stand-in of a container registry through which the e2e tier proves the online install
# (test/e2e/test_online_install.py runs it on 127.0.0.1 with its own config). Not one of
# all.sh's default steps: test/run runs it when the e2e tier is selected, and that test fails
# loudly when the binary is still missing.
# Run on its own: bash bin/setup/registry.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_step_file "${BASH_SOURCE[0]}"

registry_main() {
  if ! command -v docker-registry >/dev/null 2>&1; then
    # Its package would start a system service with its default config (htpasswd auth, port
    # 5000): a policy-rc.d that refuses service starts keeps it off while it installs.
    local policy=/usr/sbin/policy-rc.d
    if [ -e "$policy" ]; then
      apt_install docker-registry
    else
      { printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy"; } || die "cannot write $policy"
      (apt_install docker-registry) || { rm -f "$policy"; die "apt-get install docker-registry failed"; }
      rm -f "$policy"
    fi
  fi
  command -v docker-registry >/dev/null 2>&1 || die "docker-registry is not on PATH after installing Debian's docker-registry"
  info "$(docker-registry --version 2>/dev/null | head -1) ($(command -v docker-registry))"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  run_step registry registry_main
fi
