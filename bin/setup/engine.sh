#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Step "engine": make sure a Docker engine answers `docker info`.
#   - an engine that already answers is left alone;
#   - else Debian's docker.io is installed if dockerd is missing, and dockerd is started in
#     the background (own session, log in $JHLTI_CACHE/dockerd.log) so it outlives this script;
#   - waits up to $JHLTI_DOCKERD_TIMEOUT seconds (default 120) for `docker info`.
# Run on its own: bash bin/setup/engine.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_step_file "${BASH_SOURCE[0]}"

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

engine_main() {
  if command -v docker >/dev/null 2>&1 && engine_answers; then
    info "engine answers: $(docker version -f 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null)"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
  fi
  command -v dockerd >/dev/null 2>&1 || die "dockerd not found after installing docker.io"
  command -v docker >/dev/null 2>&1 || die "docker client not found"

  # The package's maintainer scripts may have started an engine already.
  local pidfile=/var/run/docker.pid pid=""
  [ -f "$pidfile" ] && pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    info "dockerd already running (pid $pid), waiting for it"
  else
    rm -f "$pidfile"
    local logf="$JHLTI_CACHE/dockerd.log"
    info "starting dockerd in the background (log: $logf)"
    # setsid: own session, so it survives the end of this script and of its caller.
    setsid nohup dockerd >>"$logf" 2>&1 </dev/null &
    pid=$!
    state_set dockerd_pid "$pid"
  fi

  local timeout="${JHLTI_DOCKERD_TIMEOUT:-120}" t=0
  until engine_answers; do
    if ! kill -0 "$pid" 2>/dev/null && ! pgrep -x dockerd >/dev/null 2>&1; then
      tail -n 30 "$JHLTI_CACHE/dockerd.log" >&2 || true
      die "dockerd exited before answering (log above: $JHLTI_CACHE/dockerd.log)"
    fi
    t=$((t + 1))
    if [ "$t" -ge "$timeout" ]; then
      tail -n 30 "$JHLTI_CACHE/dockerd.log" >&2 || true
      die "docker info did not answer within ${timeout}s (log: $JHLTI_CACHE/dockerd.log)"
    fi
    sleep 1
  done
  info "engine answers after ${t}s: $(docker version -f 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  run_step engine engine_main
fi
