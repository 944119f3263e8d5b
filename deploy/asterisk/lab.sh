#!/usr/bin/env bash
# The local Asterisk 22 lab: one interface, two back ends.
#
#   lab.sh up | down | cli [ARGS] | status | logs | env | build
#
# Back end "chroot" (machines without a Docker engine, CI): a Debian unstable root file
# system built once with debootstrap and cached outside the repository, Asterisk run in
# a chroot with /proc and /dev bind-mounted.  Back end "docker": Dockerfile + compose.yaml.
# ACD_LAB_BACKEND=auto (default) picks docker only when a Docker engine answers.
#
# Several labs can run side by side (tests and a demo): each has a name and its own ports.
#   ACD_LAB_NAME        lab name (default: dev)
#   ACD_LAB_SIP_PORT    SIP/UDP port on 127.0.0.1          (default 5060)
#   ACD_LAB_AMI_PORT    AMI port on 127.0.0.1              (default 5038)
#   ACD_LAB_AGI_PORT    where the engine's FastAGI listens (default 4573)
#   ACD_LAB_AGENT_PORT  first agent sipp port; agentN = base+N (default 5080)
#   ACD_LAB_AGENTS      number of agent endpoints          (default 8)
#                       customers called back are dialled at agent base + 50
#   ACD_LAB_RTP_START   first RTP port                     (default 20000)
#   ACD_AMI_USER        AMI user (default acd)
#   ACD_AMI_SECRET      AMI secret; when unset one is generated and kept in the lab folder
#   ACD_LAB_CACHE       cache folder (default ~/.cache/acd)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

name=${ACD_LAB_NAME:-dev}
sip_port=${ACD_LAB_SIP_PORT:-5060}
ami_port=${ACD_LAB_AMI_PORT:-5038}
agi_port=${ACD_LAB_AGI_PORT:-4573}
agent_port=${ACD_LAB_AGENT_PORT:-5080}
agents=${ACD_LAB_AGENTS:-8}
rtp_start=${ACD_LAB_RTP_START:-20000}
ami_user=${ACD_AMI_USER:-acd}
cache=${ACD_LAB_CACHE:-$HOME/.cache/acd}
root=$cache/asterisk-root
lab_in_root=/labs/$name
lab=$root$lab_in_root
backend=${ACD_LAB_BACKEND:-auto}
packages="asterisk,asterisk-modules,asterisk-core-sounds-es-gsm,asterisk-core-sounds-en-gsm,asterisk-moh-opsound-gsm"
mirror=${ACD_LAB_MIRROR:-http://deb.debian.org/debian}

say() { printf 'lab[%s]: %s\n' "$name" "$*" >&2; }
fail() { printf 'lab[%s]: error: %s\n' "$name" "$*" >&2; exit 1; }

if [ "$backend" = auto ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then backend=docker; else backend=chroot; fi
fi

need_root() {
  [ "$(id -u)" = 0 ] || fail "the chroot lab needs root (debootstrap, chroot, mount); run as root or use a machine with Docker"
}

build_root() {
  # Build the Debian unstable root once; a half-built root never looks like a cached one.
  [ -x "$root/usr/sbin/asterisk" ] && [ -f "$root/.acd-packages" ] && [ "$(cat "$root/.acd-packages")" = "$packages" ] && return 0
  need_root
  command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
  mkdir -p "$cache"
  local partial=$root.partial log=$cache/build.log
  rm -rf "$partial"
  say "building the Debian unstable root with Asterisk in $root (about a minute; log: $log)"
  if ! debootstrap --variant=minbase --include="$packages" sid "$partial" "$mirror" >"$log" 2>&1; then
    tail -n 5 "$log" >&2 || true
    fail "building the root file system failed (see $log)"
  fi
  rm -f "$partial/etc/resolv.conf"
  # Asterisk looks for language "es" in sounds/es; Debian ships es_MX_f_Allison.
  ln -sfn es_MX_f_Allison "$partial/usr/share/asterisk/sounds/es"
  ln -sfn en_US_f_Allison "$partial/usr/share/asterisk/sounds/en"
  printf '%s' "$packages" >"$partial/.acd-packages"
  rm -rf "$root"
  mv "$partial" "$root"
  say "root ready: $root ($(du -sh "$root" | cut -f1))"
}

secret_file() { echo "$lab/ami-secret"; }

ami_secret() {
  if [ -n "${ACD_AMI_SECRET:-}" ]; then printf '%s' "$ACD_AMI_SECRET"; return; fi
  local f; f=$(secret_file)
  if [ ! -s "$f" ]; then
    mkdir -p "$lab"; (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$f")
  fi
  cat "$f"
}

render() {
  # Copy the templates and the repository's dialplans into $1 (default: the lab's etc).
  local etc=${1:-$lab/etc}
  local secret; secret=$(ami_secret)
  case "$secret" in *[!A-Za-z0-9_.-]*) fail "ACD_AMI_SECRET may hold only letters, digits, '_', '.', '-'";; esac
  mkdir -p "$etc/dialplans" "$lab/log" "$lab/run" "$lab/spool" "$lab/lib" "$lab/recordings"
  # Asterisk logs the AGI key (verbose 2, "Setting global variable") and keeps its state here:
  # owner-only, like the secret.
  chmod 700 "$lab/log" "$lab/lib"
  local agents_block="" i qualify
  for i in $(seq 1 "$agents"); do
    # The last agent's phone is qualified (OPTIONS every second), so its device state
    # follows whether a phone really answers there: the device-state tests use it.
    qualify=""
    [ "$i" = "$agents" ] && qualify="qualify_frequency = 1
qualify_timeout = 0.5
"
    agents_block+="[agent$i](lab-endpoint)
context = from-agents
aors = agent$i
callerid = Agent $i <20$i>

[agent$i]
type = aor
contact = sip:agent$i@127.0.0.1:$((agent_port + i))
max_contacts = 1
$qualify
"
  done
  local f
  for f in "$here"/etc/*.conf; do
    AGENTS_BLOCK=$agents_block python3 - "$f" "$etc/$(basename "$f")" <<PY
import os, sys
text = open(sys.argv[1]).read()
for key, value in {
    "@LAB@": "$lab_in_root", "@SIP_PORT@": "$sip_port", "@AMI_PORT@": "$ami_port",
    "@AGI_PORT@": "$agi_port", "@AMI_USER@": "$ami_user", "@AMI_SECRET@": "$secret",
    "@RTP_START@": "$rtp_start", "@CUSTOMER_PORT@": "$((agent_port + 50))", "@RTP_END@": "$((rtp_start + 999))",
    "@AGENTS@": os.environ["AGENTS_BLOCK"],
}.items():
    text = text.replace(key, value)
open(sys.argv[2], "w").write(text)
PY
  done
  chmod 600 "$etc/manager.conf"
  rm -f "$etc/dialplans/"*.conf
  cp "$repo"/dialplans/*.conf "$etc/dialplans/"
}

render_private() {
  # Recordings and Asterisk's logs are personal data (voices, caller numbers): Asterisk
  # runs with umask 077, so MixMonitor's files and its logs are owner-only (0600 in 0700
  # folders); what an older lab left readable is tightened.
  umask 077
  render
  chmod -R go-rwx "$lab/log" "$lab/recordings"
}

config_changed() {
  # Would rendering now give other files than the running lab uses?
  local fresh=$lab/etc.check
  rm -rf "$fresh"; render "$fresh"
  local changed=0
  diff -rq "$fresh" "$lab/etc" >/dev/null 2>&1 || changed=1
  rm -rf "$fresh"
  [ "$changed" = 1 ]
}

pid_of() { [ -f "$lab/asterisk.pid" ] && cat "$lab/asterisk.pid" || true; }
is_running() { local p; p=$(pid_of); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

mount_binds() {
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
}

other_labs_running() {
  local d p
  for d in "$root"/labs/*/; do
    [ "$d" = "$lab/" ] && continue
    [ -f "$d/asterisk.pid" ] || continue
    p=$(cat "$d/asterisk.pid"); kill -0 "$p" 2>/dev/null && return 0
  done
  return 1
}

unmount_binds() {
  other_labs_running && return 0
  mountpoint -q "$root/dev" && umount "$root/dev" || true
  mountpoint -q "$root/proc" && umount "$root/proc" || true
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ami_banner() (
  # Read the AMI greeting line: proof that Asterisk accepts manager connections.
  exec 3<>"/dev/tcp/127.0.0.1/$ami_port" 2>/dev/null || exit 1
  IFS= read -r -t 2 line <&3 || exit 1
  case "$line" in "Asterisk Call Manager"*) exit 0;; *) exit 1;; esac
)

chroot_up() {
  need_root
  build_root
  if is_running; then
    if config_changed; then
      say "configuration changed since this lab started; restarting it"
      chroot_down
    else
      say "already running (pid $(pid_of)); logs: $lab/log"; return 0
    fi
  fi
  port_busy "$ami_port" && fail "AMI port 127.0.0.1:$ami_port is already taken by another program (set ACD_LAB_AMI_PORT)"
  render_private
  mount_binds
  : >"$lab/log/messages.log"
  local console=$lab/log/console.log
  setsid chroot "$root" /usr/sbin/asterisk -f -n -C "$lab_in_root/etc/asterisk.conf" >"$console" 2>&1 </dev/null &
  echo $! >"$lab/asterisk.pid"
  local i
  for i in $(seq 1 150); do
    if ! is_running; then
      tail -n 15 "$lab/log/messages.log" "$console" >&2 2>/dev/null || true
      fail "Asterisk exited during start (logs: $lab/log/messages.log, $console)"
    fi
    if chroot "$root" /usr/sbin/asterisk -C "$lab_in_root/etc/asterisk.conf" -rx "core waitfullybooted" >/dev/null 2>&1 && ami_banner; then
      say "Asterisk is up: SIP udp 127.0.0.1:$sip_port, AMI 127.0.0.1:$ami_port, engine expected on 127.0.0.1:$agi_port; logs: $lab/log"
      return 0
    fi
    sleep 0.2
  done
  chroot_down || true
  fail "Asterisk did not answer on AMI within 30 s (logs: $lab/log/messages.log, $console)"
}

chroot_down() {
  local p; p=$(pid_of)
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    say "stopped Asterisk (pid $p)"
  fi
  rm -f "$lab/asterisk.pid"
  [ -d "$root" ] && unmount_binds
  return 0
}

docker_compose() {
  ACD_LAB_DIR="$lab" ACD_LAB_ROOT_IN_CONTAINER="$lab_in_root" docker compose -f "$here/compose.yaml" -p "acd-lab-$name" "$@"
}

case "${1:-}" in
  build)
    if [ "$backend" = docker ]; then docker_compose build; else build_root; fi ;;
  up)
    if [ "$backend" = docker ]; then
      render_private; docker_compose up -d --build
      for i in $(seq 1 150); do ami_banner && { say "Asterisk (docker) is up; logs: $lab/log"; exit 0; }; sleep 0.2; done
      fail "Asterisk (docker) did not answer on AMI within 30 s (docker compose -p acd-lab-$name logs; $lab/log)"
    else chroot_up; fi ;;
  down)
    if [ "$backend" = docker ]; then docker_compose down; else chroot_down; fi ;;
  cli)
    shift
    if [ "$backend" = docker ]; then
      docker_compose exec asterisk asterisk -C "$lab_in_root/etc/asterisk.conf" -r "$@"
    else
      is_running || fail "the lab is not running (make asterisk-up)"
      exec chroot "$root" /usr/sbin/asterisk -C "$lab_in_root/etc/asterisk.conf" -r "$@"
    fi ;;
  status)
    if ami_banner; then echo "running: AMI 127.0.0.1:$ami_port, logs $lab/log"; else echo "not running"; exit 3; fi ;;
  logs) echo "$lab/log" ;;
  env)
    # For the engine and tests: where this lab is and how to reach it.
    echo "ACD_AMI_PORT=$ami_port"
    echo "ACD_AMI_USERNAME=$ami_user"
    echo "ACD_AGI_PORT=$agi_port"
    echo "ACD_LAB_SIP_PORT=$sip_port"
    echo "ACD_LAB_LOG_DIR=$lab/log"
    echo "ACD_LAB_RECORDINGS=$lab/recordings"
    echo "ACD_SOUNDS_DIR=$root/usr/share/asterisk/sounds" ;;
  secret) ami_secret; echo ;;
  *) echo "usage: $0 up|down|cli|status|logs|env|secret|build" >&2; exit 2 ;;
esac
