#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Regression test for issue #15: a failing command anywhere inside a setup step ends that step
# with a non-zero status, however run_step is called. all.sh calls every step as
#   run_step NAME FN && ok[NAME]=1 || failed+=(NAME)
# and bash ignores errexit inside any command of such a list (subshells and functions
# included), so a step that only did `( set -e; "$@" )` went on after its first failure.
#
#   bash test/setup/run-step.test.sh [LIB]    LIB: the lib.sh to test (default bin/setup/lib.sh)
#
# Runs in a temporary JHLTI_CACHE; prints TAP ("ok N - ...", "not ok N - ...") on stdout and
# the steps' own log on stderr; exits 1 when a check fails. Run by the lint tier of test/run.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lib="${1:-$repo/bin/setup/lib.sh}"
[ -f "$lib" ] || { echo "Bail out! no lib.sh at $lib"; exit 1; }

JHLTI_TEST_TMP="$(mktemp -d)" || { echo "Bail out! mktemp failed"; exit 1; }
trap 'rm -rf "${JHLTI_TEST_TMP:?}"' EXIT
# The step functions below find their files through the environment: that is how variables
# reach a step (it runs in its own process).
export JHLTI_TEST_TMP
export JHLTI_CACHE="$JHLTI_TEST_TMP/cache"
unset JHLTI_RUN_ID JHLTI_STEP_FILES
# shellcheck source=../../bin/setup/lib.sh
. "$lib"
# Everything run_step does in this script goes to this file (and, on failure, to stderr).
steplog="$JHLTI_TEST_TMP/steps.log"

n=0
bad=0
check() { # description command... : one TAP line
  n=$((n + 1))
  if "${@:2}"; then
    echo "ok $n - $1"
  else
    echo "not ok $n - $1"
    bad=$((bad + 1))
  fi
}
absent() { [ ! -e "$1" ]; }
present() { [ -e "$1" ]; }
is() { [ "$1" = "$2" ] || { echo "# expected '$2', got '$1'"; return 1; }; }

declare -A ok=()
failed=()
# The way all.sh runs a step; also records the step's status as the last STEP_RC entry.
all_sh_style() { # name fn
  run_step "$1" "$2" >>"$steplog" 2>&1 && ok[$1]=1 || failed+=("$1")
}
was_failed() { [[ " ${failed[*]} " == *" $1 "* ]] && [ -z "${ok[$1]:-}" ]; }
was_ok() { [ -n "${ok[$1]:-}" ] && [[ " ${failed[*]} " != *" $1 "* ]]; }
last_rc() { echo "${STEP_RC[${#STEP_RC[@]} - 1]}"; }
# timings.tsv: date, name, seconds, exit status
tsv_rc() { awk -F'\t' -v s="$1" '$2 == s { rc = $4 } END { print rc }' "$JHLTI_STATE/timings.tsv"; }

# --- the core case of the issue: first command fails, second would create a marker -------
step_first_fails() {
  cp "$JHLTI_TEST_TMP/does-not-exist" "$JHLTI_TEST_TMP/copy"
  : >"$JHLTI_TEST_TMP/marker-first-fails"
}
all_sh_style first-fails step_first_fails
check "a failing first command fails the step (run_step ... && ok=1 || failed+=())" was_failed first-fails
check "the command after the failing one did not run (no marker file)" absent "$JHLTI_TEST_TMP/marker-first-fails"
check "the step's status is the failing command's (cp: 1)" is "$(last_rc)" 1
check "timings.tsv records the failed step with its status" is "$(tsv_rc first-fails)" 1

# --- positive control: the step body does run (so the checks above are not vacuous) ------
step_ok() {
  false || true # a command that is expected to fail, written as such
  if false; then :; fi
  : >"$JHLTI_TEST_TMP/marker-ok"
}
all_sh_style ok step_ok
check "a step without failures is ok" was_ok ok
check "its body ran to the end (marker file)" present "$JHLTI_TEST_TMP/marker-ok"
check "timings.tsv records the ok step with status 0" is "$(tsv_rc ok)" 0

# --- failures in the places where bash's errexit is easiest to lose --------------------
helper_fails() {
  false
  : >"$JHLTI_TEST_TMP/marker-helper-went-on"
}
step_nested() {
  helper_fails
  : >"$JHLTI_TEST_TMP/marker-nested"
}
all_sh_style nested step_nested
check "a failure inside a function called by the step fails the step" was_failed nested
check "neither the helper nor the step went on" absent "$JHLTI_TEST_TMP/marker-helper-went-on"
check "... (no step marker either)" absent "$JHLTI_TEST_TMP/marker-nested"

step_cmdsubst() {
  local v
  v="$(
    false
    echo value
  )"
  : >"$JHLTI_TEST_TMP/marker-cmdsubst-$v"
}
all_sh_style cmdsubst step_cmdsubst
check "a failure inside a command substitution fails the step (inherit_errexit)" was_failed cmdsubst
check "the step did not go on after it" absent "$JHLTI_TEST_TMP/marker-cmdsubst-value"

step_pipe() {
  false | cat
  : >"$JHLTI_TEST_TMP/marker-pipe"
}
all_sh_style pipe step_pipe
check "a failure early in a pipeline fails the step (pipefail)" was_failed pipe
check "the step did not go on after it" absent "$JHLTI_TEST_TMP/marker-pipe"

step_unset() {
  local d="$JHLTI_TEST_TMP/$JHLTI_TEST_NO_SUCH_VARIABLE"
  : >"$JHLTI_TEST_TMP/marker-unset"
  echo "$d"
}
all_sh_style unset step_unset
check "an unset variable fails the step (nounset)" was_failed unset
check "the step did not go on after it" absent "$JHLTI_TEST_TMP/marker-unset"

step_die() {
  die "on purpose"
  # shellcheck disable=SC2317 # reached only if die did not end the step: what this checks
  : >"$JHLTI_TEST_TMP/marker-die"
}
all_sh_style die step_die
check "die ends the step with status 1" is "$(last_rc)" 1
check "the step did not go on after die" absent "$JHLTI_TEST_TMP/marker-die"
check "die named the step in its message" grep -q 'ERROR in step die: on purpose' "$steplog"

step_status() {
  sh -c 'exit 7'
  : >"$JHLTI_TEST_TMP/marker-status"
}
all_sh_style status step_status
check "the step's status is the failing command's (7)" is "$(last_rc)" 7
check "the step did not go on after it" absent "$JHLTI_TEST_TMP/marker-status"

# --- other ways of calling run_step ------------------------------------------------------
if run_step in-if step_first_fails >>"$steplog" 2>&1; then in_if=ok; else in_if=failed; fi
check "run_step as an if condition: the step fails" is "$in_if" failed
check "run_step as an if condition: the step did not go on" absent "$JHLTI_TEST_TMP/marker-first-fails"

(
  set +e
  run_step in-subshell step_first_fails >>"$steplog" 2>&1 || exit 0
  exit 1
)
check "run_step in a subshell without errexit, in an || list: the step fails" is "$?" 0
check "... and did not go on" absent "$JHLTI_TEST_TMP/marker-first-fails"

# A step function from a step file, registered the way bin/setup/*.sh register theirs.
cat >"$JHLTI_TEST_TMP/step-file.sh" <<'EOF'
# shellcheck shell=bash
step_from_file() {
  step_file_helper
  : >"$JHLTI_TEST_TMP/marker-from-file"
}
step_file_helper() { false; }
step_file_ok() { : >"$JHLTI_TEST_TMP/marker-file-ok"; }
EOF
# shellcheck source=/dev/null # written just above, at run time
. "$JHLTI_TEST_TMP/step-file.sh"
if [ "$(type -t setup_step_file)" = function ]; then
  setup_step_file "$JHLTI_TEST_TMP/step-file.sh"
fi
all_sh_style from-file step_from_file
check "a step from a registered step file: a failing helper fails the step" was_failed from-file
check "... and it did not go on" absent "$JHLTI_TEST_TMP/marker-from-file"
all_sh_style file-ok step_file_ok
check "a step from a registered step file runs (control)" was_ok file-ok
check "... to its end" present "$JHLTI_TEST_TMP/marker-file-ok"

# The summary still lists every step with its status.
print_step_summary 2>"$JHLTI_TEST_TMP/summary"
check "the summary lists the failed step" grep -Eq 'first-fails +[0-9.]+s +FAILED \(exit 1\)' "$JHLTI_TEST_TMP/summary"
check "the summary lists the ok step" grep -Eq '^ +ok +[0-9.]+s +ok$' "$JHLTI_TEST_TMP/summary"

echo "1..$n"
if [ "$bad" -gt 0 ]; then
  echo "# $bad of $n checks failed; the steps' log:"
  sed 's/^/#   /' "$steplog"
  exit 1
fi
