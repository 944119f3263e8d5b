#!/usr/bin/env bash
# The local Asterisk 22 lab: one interface, two back ends.
#
#   lab.sh up | down | cli [ARGS] | status | logs | env | secret | build | backend
#
# Back end "chroot": a Debian unstable root file system built once with debootstrap and
# cached outside the repository, Asterisk run in a chroot with /proc and /dev bind-mounted.
# Back end "docker": the same Asterisk in a container (plain `docker`, no compose plugin
# needed), host networking, the lab folder bind-mounted where the chroot lab has it, so
# both back ends show the same host paths (logs, recordings, asterisk.pid with the host
# PID) and the same behaviour (exit during start noticed, AMI port checked, restart on a
# configuration change).  Its image is built by Dockerfile FROM a base image:
#   ACD_LAB_BASE_IMAGE  base image for the Dockerfile (e.g. debian:sid-slim from a registry);
#                       default: the chroot back end's debootstrap root, imported locally
#                       (no registry needed) and cached by a hash of its package list
# ACD_LAB_BACKEND=chroot|docker forces a back end; auto (default) picks docker only when a
# native, rootful Docker engine answers and the lab image exists or can be built here.
# A running lab remembers its back end: down, cli, env act on what up started.
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
#   ACD_LAB_PEERS       other labs under the same engine (several nodes), "name:sip_port"
#                       separated by commas: each gets a trunk endpoint acd-node-<name>
#                       (both ways, on 127.0.0.1, identified by the From user), and this
#                       lab's Uniqueids start with its name (asterisk.conf systemname)
#   ACD_AMI_USER        AMI user (default acd)
#   ACD_AMI_SECRET      AMI secret; when unset one is generated and kept in the lab folder
#   ACD_LAB_CACHE       cache folder (default ~/.cache/acd)
#   ACD_LAB_MIRROR      Debian mirror for debootstrap and the image's apt (default deb.debian.org)
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
requested_backend=${ACD_LAB_BACKEND:-auto}
packages="asterisk,asterisk-modules,asterisk-core-sounds-es-gsm,asterisk-core-sounds-en-gsm,asterisk-moh-opsound-gsm"
mirror=${ACD_LAB_MIRROR:-http://deb.debian.org/debian}
# Debian unstable's Release files can be past their Valid-Until on a mirror or snapshot.
apt_options="-o Acquire::Check-Valid-Until=false"
image=acd-lab-asterisk:22
container=acd-lab-$name

say() { printf 'lab[%s]: %s\n' "$name" "$*" >&2; }
fail() { printf 'lab[%s]: error: %s\n' "$name" "$*" >&2; exit 1; }

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
  # Keep the labs of the previous root (their secrets and logs) across a rebuild.
  [ -d "$root/labs" ] && mv "$root/labs" "$partial/labs"
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
  local peers_block="" systemname="" peer peer_name peer_port
  if [ -n "${ACD_LAB_PEERS:-}" ]; then
    systemname="
systemname = $name"
    for peer in ${ACD_LAB_PEERS//,/ }; do
      peer_name=${peer%%:*}; peer_port=${peer##*:}
      case "$peer_name:$peer_port" in *[!A-Za-z0-9_:-]*|:*|*:) fail "ACD_LAB_PEERS: expected name:sip_port[,name:sip_port], got '$peer'";; esac
      case "$peer_port" in *[!0-9]*) fail "ACD_LAB_PEERS: '$peer': the SIP port must be a number";; esac
      # The trunk to node $peer_name: rings for its agents leave here (PJSIP/<agent>@acd-node-$peer_name);
      # its rings for our agents arrive here (From user acd-node-$peer_name) into acd-node-in.
      peers_block+="
[acd-node-$peer_name](lab-endpoint)
context = acd-node-in
aors = acd-node-$peer_name
from_user = acd-node-$name
send_pai = yes
trust_id_inbound = yes
trust_id_outbound = yes

[acd-node-$peer_name]
type = aor
contact = sip:127.0.0.1:$peer_port
max_contacts = 1
"
    done
  fi
  local f
  for f in "$here"/etc/*.conf; do
    AGENTS_BLOCK=$agents_block PEERS_BLOCK=$peers_block SYSTEMNAME=$systemname python3 - "$f" "$etc/$(basename "$f")" <<PY
import os, sys
text = open(sys.argv[1]).read()
for key, value in {
    "@LAB@": "$lab_in_root", "@SIP_PORT@": "$sip_port", "@AMI_PORT@": "$ami_port",
    "@AGI_PORT@": "$agi_port", "@AMI_USER@": "$ami_user", "@AMI_SECRET@": "$secret",
    "@RTP_START@": "$rtp_start", "@CUSTOMER_PORT@": "$((agent_port + 50))", "@RTP_END@": "$((rtp_start + 999))",
    "@AGENTS@": os.environ["AGENTS_BLOCK"], "@PEERS@": os.environ["PEERS_BLOCK"], "@SYSTEMNAME@": os.environ["SYSTEMNAME"],
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

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ami_banner() (
  # Read the AMI greeting line: proof that Asterisk accepts manager connections.
  exec 2>/dev/null  # a refused connection is an answer here, not an error to print
  exec 3<>"/dev/tcp/127.0.0.1/$ami_port" || exit 1
  IFS= read -r -t 2 line <&3 || exit 1
  case "$line" in "Asterisk Call Manager"*) exit 0;; *) exit 1;; esac
)

# --- back end "chroot" ---------------------------------------------------------------
# Each back end gives: <b>_prepare (root/image ready), <b>_start CONSOLE (start Asterisk,
# write its host PID to $lab/asterisk.pid), <b>_running, <b>_outdated (runs something
# older than what prepare made), <b>_asterisk ARGS (the Asterisk binary beside the lab),
# <b>_cli ARGS, <b>_stop, <b>_sounds (a host folder holding the sounds Asterisk plays).

mount_binds() {
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
}

other_labs_running() {
  local d p
  for d in "$root"/labs/*/; do
    [ "$d" = "$lab/" ] && continue
    [ -f "$d/asterisk.pid" ] && [ "$(cat "$d/backend" 2>/dev/null || echo chroot)" = chroot ] || continue
    p=$(cat "$d/asterisk.pid"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null && return 0
  done
  return 1
}

unmount_binds() {
  other_labs_running && return 0
  mountpoint -q "$root/dev" && umount "$root/dev" || true
  mountpoint -q "$root/proc" && umount "$root/proc" || true
}

chroot_prepare() { need_root; build_root; }
chroot_running() { is_running; }
chroot_outdated() { return 1; }
chroot_asterisk() { timeout 10 chroot "$root" /usr/sbin/asterisk "$@"; }
chroot_cli() { exec chroot "$root" /usr/sbin/asterisk -C "$lab_in_root/etc/asterisk.conf" -r "$@"; }
chroot_sounds() { echo "$root/usr/share/asterisk/sounds"; }

chroot_start() {
  mount_binds
  setsid chroot "$root" /usr/sbin/asterisk -f -n -C "$lab_in_root/etc/asterisk.conf" >"$1" 2>&1 </dev/null &
  echo $! >"$lab/asterisk.pid"
}

chroot_stop() {
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

# --- back end "docker" ---------------------------------------------------------------

docker_engine() {
  # One bounded question to the engine: "OSType OperatingSystem SecurityOptions".
  command -v docker >/dev/null 2>&1 || return 1
  timeout 15 docker info -f '{{.OSType}}|{{.OperatingSystem}}|{{json .SecurityOptions}}' 2>/dev/null
}

docker_can_run() {
  # Host networking must put Asterisk on this machine's 127.0.0.1 (not in a VM, not in a
  # rootless engine's namespace), and the image must exist or be buildable here.
  local info; info=$(docker_engine) || return 1
  case "$info" in linux\|*) ;; *) return 1 ;; esac
  case "$info" in *"Docker Desktop"*|*rootless*) return 1 ;; esac
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  [ -n "${ACD_LAB_BASE_IMAGE:-}" ] && return 0
  [ "$(id -u)" = 0 ] && { [ -x "$root/usr/sbin/asterisk" ] || command -v debootstrap >/dev/null; }
}

local_base_image() {
  # The debootstrap root as an image, tagged by what is installed in it: a rebuilt root
  # with other packages gives another tag, an unchanged one is imported only once.
  build_root
  local tag
  tag=acd-asterisk-base:$(cat "$root/.acd-packages" "$root/var/lib/dpkg/status" | sha256sum | cut -c1-16)
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    say "importing the Debian root as image $tag (once per root)"
    tar -C "$root" --one-file-system --numeric-owner \
      --exclude=./labs --exclude='./proc/*' --exclude='./dev/*' --exclude='./var/cache/apt/archives/*.deb' \
      -c . | timeout 600 docker import - "$tag" >/dev/null || fail "docker import of $root failed"
  fi
  echo "$tag"
}

docker_prepare() {
  [ -n "$(docker_engine)" ] || fail "no Docker engine answers (docker info); start one (systemctl start docker, or deploy/asterisk/private-dockerd.sh start and DOCKER_HOST) or use ACD_LAB_BACKEND=chroot"
  local base=${ACD_LAB_BASE_IMAGE:-}
  if [ -z "$base" ]; then
    [ "$(id -u)" = 0 ] || fail "the Docker lab's default base image is imported from the debootstrap root, which needs root; run as root or set ACD_LAB_BASE_IMAGE (e.g. debian:sid-slim)"
    base=$(local_base_image)
  fi
  local log=$cache/docker-build-$name.log
  mkdir -p "$cache"
  # No build context (the Dockerfile copies nothing); the legacy builder is what Debian's
  # docker.io ships; host networking because a private engine may have no bridge.
  if ! DOCKER_BUILDKIT=0 timeout 1200 docker build --network host -t "$image" \
      --build-arg BASE_IMAGE="$base" --build-arg MIRROR="$mirror" --build-arg APT_OPTIONS="$apt_options" \
      --build-arg PACKAGES="${packages//,/ }" - <"$here/Dockerfile" >"$log" 2>&1; then
    tail -n 10 "$log" >&2 || true
    fail "building image $image from $base failed (log: $log)"
  fi
  docker_extract_sounds
}

docker_extract_sounds() {
  # The engine checks prompts against a host folder: copy the image's sounds out once per image.
  local id dir=$cache/docker-sounds
  id=$(docker image inspect -f '{{.Id}}' "$image")
  [ "$(cat "$dir/.image" 2>/dev/null)" = "$id" ] && return 0
  local tmp cid
  mkdir -p "$cache"; tmp=$(mktemp -d "$dir.XXXXXX")  # two labs starting at once each copy
  cid=$(docker create "$image")
  docker cp "$cid:/usr/share/asterisk/sounds/." - | tar -x -C "$tmp" --strip-components=1 || { docker rm "$cid" >/dev/null; fail "copying the sounds out of $image failed"; }
  docker rm "$cid" >/dev/null
  find "$tmp" -type l -lname '/*' -delete  # links into the image's /etc or /var mean nothing here
  printf '%s' "$id" >"$tmp/.image"
  chmod 755 "$tmp"
  rm -rf "$dir"; mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
}

# Every call to the engine is bounded: a stuck engine fails the command instead of hanging it.
docker_state() { timeout 10 docker inspect -f "{{$1}}" "$container" 2>/dev/null; }
docker_running() { [ "$(docker_state .State.Running)" = true ]; }
docker_outdated() { [ "$(docker_state .Image)" != "$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null)" ]; }
docker_asterisk() { timeout 10 docker exec "$container" /usr/sbin/asterisk "$@"; }
docker_sounds() { echo "$cache/docker-sounds"; }

docker_cli() {
  # A terminal only when there is one: `cli -x CMD` from a script or a test has none.
  local tty=()
  [ -t 0 ] && [ -t 1 ] && tty=(-it)
  exec docker exec "${tty[@]}" "$container" /usr/sbin/asterisk -C "$lab_in_root/etc/asterisk.conf" -r "$@"
}

docker_start() {
  # Asterisk is the container's PID 1; its console goes to the lab's console.log as in the
  # chroot lab, and asterisk.pid holds its host PID (signals from the host reach it).
  # umask 077: what Asterisk writes in the lab folder (recordings, logs) is owner-only.
  timeout 30 docker rm -f "$container" >/dev/null 2>&1 || true
  timeout 60 docker run -d --rm --name "$container" --network host --user "$(id -u):$(id -g)" \
    --label "acd.lab=$name" -v "$lab:$lab_in_root" --entrypoint /bin/sh "$image" \
    -c 'umask 077; exec /usr/sbin/asterisk -f -n -C "$0" >"$1" 2>&1 </dev/null' \
    "$lab_in_root/etc/asterisk.conf" "$lab_in_root/log/console.log" >/dev/null \
    || fail "docker run of $image failed"
  docker_state .State.Pid >"$lab/asterisk.pid" || true
}

docker_stop() {
  local p; p=$(pid_of)
  if docker_running; then
    timeout 30 docker stop -t 5 "$container" >/dev/null 2>&1 || true
    say "stopped Asterisk (container $container, pid $p)"
  fi
  timeout 30 docker rm -f "$container" >/dev/null 2>&1 || true
  rm -f "$lab/asterisk.pid"
  return 0
}

# --- either back end -----------------------------------------------------------------

choose_backend() {
  case "$requested_backend" in
    chroot|docker) echo "$requested_backend" ;;
    auto) if docker_can_run; then echo docker; else echo chroot; fi ;;
    *) fail "ACD_LAB_BACKEND=$requested_backend: expected auto, chroot or docker" ;;
  esac
}

recorded_backend() {
  # The back end that the last `up` of this lab used (cleared by `down`).
  case "$(cat "$lab/backend" 2>/dev/null || true)" in chroot) echo chroot ;; docker) echo docker ;; esac
}

backend_of_lab() {
  # What runs this lab now, else what would run it.
  local b; b=$(recorded_backend)
  if [ -n "$b" ] && [ -n "$(pid_of)" ]; then echo "$b"; else choose_backend; fi
}

lab_up() {
  local backend; backend=$(choose_backend)
  local running; running=$(recorded_backend)
  if [ -n "$running" ] && [ "$running" != "$backend" ] && "${running}_running"; then
    say "this lab runs on the $running back end; stopping it to start it on $backend"
    "${running}_stop"
  fi
  "${backend}_prepare"
  if "${backend}_running"; then
    if config_changed || "${backend}_outdated"; then
      say "configuration changed since this lab started; restarting it"
      "${backend}_stop"
    else
      say "already running (pid $(pid_of)); logs: $lab/log"; return 0
    fi
  fi
  port_busy "$ami_port" && fail "AMI port 127.0.0.1:$ami_port is already taken by another program (set ACD_LAB_AMI_PORT)"
  render_private  # umask 077 from here on: Asterisk (either back end) inherits it
  : >"$lab/log/messages.log"
  local console=$lab/log/console.log
  : >"$console"
  printf '%s' "$backend" >"$lab/backend"
  "${backend}_start" "$console"
  local deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! "${backend}_running"; then
      tail -n 15 "$lab/log/messages.log" "$console" >&2 2>/dev/null || true
      "${backend}_stop" >/dev/null 2>&1 || true
      fail "Asterisk exited during start (logs: $lab/log/messages.log, $console)"
    fi
    if "${backend}_asterisk" -C "$lab_in_root/etc/asterisk.conf" -rx "core waitfullybooted" >/dev/null 2>&1 && ami_banner; then
      say "Asterisk is up ($backend): SIP udp 127.0.0.1:$sip_port, AMI 127.0.0.1:$ami_port, engine expected on 127.0.0.1:$agi_port; logs: $lab/log"
      return 0
    fi
    sleep 0.2
  done
  "${backend}_stop" || true
  fail "Asterisk did not answer on AMI within 30 s (logs: $lab/log/messages.log, $console)"
}

lab_down() {
  local backend; backend=$(recorded_backend)
  [ -n "$backend" ] || backend=$(choose_backend)
  "${backend}_stop"
  rm -f "$lab/backend"
}

case "${1:-}" in
  build)
    backend=$(choose_backend); "${backend}_prepare" ;;
  backend) backend_of_lab ;;
  up) lab_up ;;
  down) lab_down ;;
  cli)
    shift
    backend=$(backend_of_lab)
    "${backend}_running" || fail "the lab is not running (make asterisk-up)"
    "${backend}_cli" "$@" ;;
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
    echo "ACD_SOUNDS_DIR=$("$(backend_of_lab)_sounds")" ;;
  secret) ami_secret; echo ;;
  *) echo "usage: $0 up|down|cli|status|logs|env|secret|build|backend" >&2; exit 2 ;;
esac
