#!/usr/bin/env bash
# System packages the lab, the tests and the demo need, on Debian or Ubuntu.
# Installs only what is missing; needs root (or sudo) only when something is missing.
set -euo pipefail
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mosquitto >/dev/null && [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v dot >/dev/null || need+=(graphviz)
command -v tmux >/dev/null || need+=(tmux)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)  # the PostgreSQL store's tests start their own (acd.lab.postgres)
[ -x /usr/bin/chromium ] || need+=(chromium)  # the web console's browser tests (Playwright drives it)
command -v opusenc >/dev/null || need+=(opus-tools)  # recordings stored as Ogg Opus after each call (recording.codec)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# mosquitto is started by the tests on their own ports; the system service is not needed.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then $sudo systemctl stop mosquitto || true; fi
# Likewise PostgreSQL: the tests initdb their own clusters in temporary folders.
if command -v systemctl >/dev/null && systemctl is-active --quiet postgresql 2>/dev/null; then $sudo systemctl stop postgresql || true; fi
