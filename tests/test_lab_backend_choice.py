"""Which back end ``lab.sh`` picks: Docker only when it can really run the lab here.

A fake ``docker`` on PATH answers ``docker info`` the way real engines do (native,
rootless, Docker Desktop, none), so the choice is checked without an engine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

LAB_SH = Path(__file__).resolve().parents[1] / "deploy" / "asterisk" / "lab.sh"
NATIVE = 'linux|Debian GNU/Linux 12 (bookworm)|["name=seccomp,profile=default"]'
ROOTLESS = 'linux|Ubuntu 24.04 LTS|["name=seccomp,profile=default","name=rootless","name=cgroupns"]'
DESKTOP = 'linux|Docker Desktop|["name=seccomp,profile=unconfined"]'
WINDOWS = "windows|Windows Server 2022|null"

FAKE_DOCKER = """#!/bin/sh
case "$1" in
  info) [ -n "$FAKE_DOCKER_INFO" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }; echo "$FAKE_DOCKER_INFO" ;;
  image) [ "$FAKE_DOCKER_IMAGE" = present ] ;;
  *) echo "fake docker: unexpected $*" >&2; exit 1 ;;
esac
"""


def choose(
    tmp_path: Path, *, info: str = "", image: str = "present", backend: str | None = None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "docker").write_text(FAKE_DOCKER)
    (fake_bin / "docker").chmod(0o755)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ACD_LAB_", "DOCKER_"))}
    env.update(PATH=f"{fake_bin}:{os.environ['PATH']}", ACD_LAB_CACHE=str(tmp_path / "cache"), ACD_LAB_NAME="choice",
               FAKE_DOCKER_INFO=info, FAKE_DOCKER_IMAGE=image)
    if backend is not None:
        env["ACD_LAB_BACKEND"] = backend
    env.update(extra or {})
    return subprocess.run([str(LAB_SH), "backend"], env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    ("info", "expected"),
    [("", "chroot"), (NATIVE, "docker"), (ROOTLESS, "chroot"), (DESKTOP, "chroot"), (WINDOWS, "chroot")],
    ids=["no-engine", "native-engine", "rootless-engine", "docker-desktop", "windows-engine"],
)
def test_auto_picks_docker_only_for_an_engine_whose_host_network_is_this_machine(tmp_path: Path, info: str, expected: str) -> None:
    result = choose(tmp_path, info=info)
    assert (result.returncode, result.stdout.strip()) == (0, expected), result.stderr


def test_auto_picks_docker_without_the_image_when_it_can_be_built_from_a_given_base(tmp_path: Path) -> None:
    result = choose(tmp_path, info=NATIVE, image="missing", extra={"ACD_LAB_BASE_IMAGE": "debian:sid-slim"})
    assert (result.returncode, result.stdout.strip()) == (0, "docker"), result.stderr


@pytest.mark.parametrize(("forced", "info"), [("chroot", NATIVE), ("docker", "")], ids=["chroot-beside-an-engine", "docker-without-an-engine"])
def test_a_forced_back_end_is_kept_whatever_the_engine_says(tmp_path: Path, forced: str, info: str) -> None:
    result = choose(tmp_path, info=info, backend=forced)
    assert (result.returncode, result.stdout.strip()) == (0, forced), result.stderr


def test_unknown_back_end_is_refused_with_the_variable_named(tmp_path: Path) -> None:
    result = choose(tmp_path, info=NATIVE, backend="podman")
    assert result.returncode == 1
    assert result.stderr == "lab[choice]: error: ACD_LAB_BACKEND=podman: expected auto, chroot or docker\n"
