#!/usr/bin/env bash
# A Docker engine of the lab's own, for machines where none runs (CI, hosts without systemd).
#
#   private-dockerd.sh start | stop | env
#
# It listens only on a private socket (nothing else on the machine switches to it), makes
# no default bridge and no iptables rules (the lab uses host networking), keeps its images
# under the lab cache (so an imported base survives between runs) and is stopped by the PID
# it wrote, never by name.  `start` waits at most ACD_DOCKERD_WAIT_S (default 60) seconds
# and fails with the tail of the engine's log when it does not answer.
#   ACD_DOCKERD_DIR    runtime folder: socket, PID file, log (default /run/acd-docker)
#   ACD_LAB_CACHE      cache folder; images live in its docker/ (default ~/.cache/acd)
# Use it with: export DOCKER_HOST=$(deploy/asterisk/private-dockerd.sh env)
set -euo pipefail

run_dir=${ACD_DOCKERD_DIR:-/run/acd-docker}
cache=${ACD_LAB_CACHE:-$HOME/.cache/acd}
socket=$run_dir/docker.sock
pidfile=$run_dir/dockerd.pid
log=$run_dir/dockerd.log
wait_s=${ACD_DOCKERD_WAIT_S:-60}

say() { printf 'private-dockerd: %s\n' "$*" >&2; }
fail() { printf 'private-dockerd: error: %s\n' "$*" >&2; exit 1; }

running_pid() {
  local p
  [ -f "$pidfile" ] || return 1
  p=$(cat "$pidfile")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$p"
}

answers() { DOCKER_HOST=unix://$socket timeout 10 docker info >/dev/null 2>&1; }

start() {
  [ "$(id -u)" = 0 ] || fail "starting a Docker engine needs root"
  command -v dockerd >/dev/null || fail "dockerd is not installed (apt-get install docker.io)"
  command -v docker >/dev/null || fail "the docker client is not installed (apt-get install docker.io)"
  if p=$(running_pid) && answers; then say "already running (pid $p, unix://$socket)"; return 0; fi
  mkdir -p "$run_dir" "$cache/docker"
  chmod 700 "$run_dir"
  rm -f "$pidfile" "$socket"
  setsid dockerd -H "unix://$socket" --pidfile "$pidfile" --exec-root "$run_dir/exec" \
    --data-root "$cache/docker" --bridge=none --iptables=false --ip-masq=false \
    >"$log" 2>&1 </dev/null &
  local launched=$! i
  for i in $(seq 1 $((wait_s * 5))); do
    if ! kill -0 "$launched" 2>/dev/null; then
      tail -n 15 "$log" >&2 || true
      fail "dockerd exited during start (log: $log)"
    fi
    if answers; then say "running (pid $launched, unix://$socket; log: $log)"; return 0; fi
    sleep 0.2
  done
  tail -n 15 "$log" >&2 || true
  kill -TERM "$launched" 2>/dev/null || true
  fail "dockerd did not answer on unix://$socket within $wait_s s (log: $log)"
}

stop() {
  local p i
  p=$(running_pid) || { say "not running"; return 0; }
  kill -TERM "$p"
  for i in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; say "dockerd (pid $p) did not stop within 30 s; killed"; fi
  rm -f "$pidfile"
  say "stopped (pid $p)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "unix://$socket" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
