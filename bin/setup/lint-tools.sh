#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Step "lint-tools": the checkers of the lint tier of test/run. shellcheck comes from Debian
# (bookworm: 0.9.0) through apt_install, so a fresh machine gets it from the project's own
# scripts. Not one of all.sh's default steps (the demo does not need it): test/run runs it
# when the lint tier is selected, and the lint tier itself when shellcheck is still missing.
# Run on its own: bash bin/setup/lint-tools.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_step_file "${BASH_SOURCE[0]}"

lint_tools_main() {
  if ! command -v shellcheck >/dev/null 2>&1; then
    apt_install shellcheck
  fi
  command -v shellcheck >/dev/null 2>&1 || die "shellcheck is not on PATH after installing Debian's shellcheck"
  info "shellcheck $(shellcheck --version | sed -n 's/^version: //p') ($(command -v shellcheck))"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  run_step lint-tools lint_tools_main
fi
