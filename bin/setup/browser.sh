#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Step "browser": the real browser of the e2e tier's browser tests, Debian's chromium (driven by
# npm playwright-core, a devDependency). Not one of all.sh's default steps (the demo does not
# need a browser): test/run runs it when the e2e tier is selected, and the e2e tier fails
# loudly when chromium is still missing.
# Run on its own: bash bin/setup/browser.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_step_file "${BASH_SOURCE[0]}"

browser_main() {
  if ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium
  fi
  command -v chromium >/dev/null 2>&1 || die "chromium is not on PATH after installing Debian's chromium"
  info "$(chromium --version 2>/dev/null | head -1) ($(command -v chromium))"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  run_step browser browser_main
fi
