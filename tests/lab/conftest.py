"""Fixtures that bring up the real lab: Asterisk 22 (chroot or Docker), sipp peers, the engine.

The back end is lab.sh's choice, or ``ACD_LAB_BACKEND=chroot|docker``; both give the same
host paths (logs, recordings, ``asterisk.pid`` with the host PID), so tests do not care.

The lab runs on its own ports (so a developer's ``make asterisk-up`` lab can keep
running) and with a fresh random AMI secret.  These tests never skip: without root or
without the packages, the fixture fails and says what is missing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from acd.lab.sipp import SippRunner
from acd.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
LAB_SH = REPO / "deploy" / "asterisk" / "lab.sh"
# ACD_TEST_LAB_SLOT=N gives a test session its own lab (name and port block), so several
# sessions (developers, helpers) can run end-to-end tests at once on one machine.
SLOT = int(os.environ.get("ACD_TEST_LAB_SLOT", "0"))
LAB_PORTS = {
    "ACD_LAB_NAME": f"test{SLOT or ''}",
    "ACD_LAB_SIP_PORT": str(15060 + 200 * SLOT),
    "ACD_LAB_AMI_PORT": str(15038 + 200 * SLOT),
    "ACD_LAB_AGI_PORT": str(14573 + 200 * SLOT),
    "ACD_LAB_AGENT_PORT": str(15080 + 200 * SLOT),
    "ACD_LAB_AGENTS": "8",
    "ACD_LAB_RTP_START": str(21000 + 1000 * SLOT),
}


def side_lab_env(prefix: str) -> dict[str, str]:
    """A second, small lab inside this slot's port block (for tests of lab.sh itself).

    Its ports sit between the slot lab's customer port (15130 + 200·slot) and the next
    slot's AMI port; two agents only, so every agent port stays inside the block too."""
    base = 200 * SLOT
    return {
        **os.environ,
        "ACD_LAB_NAME": f"{prefix}{SLOT or ''}",
        "ACD_LAB_AMI_PORT": str(15150 + base),
        "ACD_LAB_SIP_PORT": str(15160 + base),
        "ACD_LAB_AGI_PORT": str(14673 + base),
        "ACD_LAB_AGENT_PORT": str(15170 + base),
        "ACD_LAB_AGENTS": "2",
        "ACD_LAB_RTP_START": str(21500 + 1000 * SLOT),
        "ACD_AMI_SECRET": secrets.token_hex(12),
    }


@dataclass
class Lab:
    sip_port: int
    ami_port: int
    agi_port: int
    agent_port_base: int
    secret: str
    log_dir: Path
    env: dict[str, str]
    extra_logs: list[str] = field(default_factory=list)

    def agent_port(self, number: int) -> int:
        return self.agent_port_base + number

    def settings_file(
        self,
        tmp_path: Path,
        *,
        flows_dir: Path = REPO / "ivr_flows",
        routing_config: Path = REPO / "deploy" / "routing.yaml",
        auto_login: list[str] | tuple[str, ...] = (),
        extra_yaml: str = "",
    ) -> Path:
        """An acd.yaml pointing at this lab; the secret stays in the environment.

        The AMI liveness ping is tolerant (5 s): with a 1 s deadline a machine whose two
        cores were busy dropped the connection mid-test (seen under load here)."""
        path = tmp_path / "acd.yaml"
        path.write_text(
            f"agi:\n  port: {self.agi_port}\n  header_timeout_s: 2\n"
            f"ami:\n  port: {self.ami_port}\n  ping_interval_s: 2\n  ping_timeout_s: 5\n"
            f"  reconnect_initial_s: 0.2\n  reconnect_max_s: 2\n"
            f"ivr:\n  flows_dir: {flows_dir}\n  reload_interval_s: 0.2\n"
            f"routing:\n  config: {routing_config}\n  auto_login: [{', '.join(auto_login)}]\n"
            f"metrics:\n  database: {tmp_path / 'acd.sqlite'}\n"
            f"recording:\n  asterisk_dir: /labs/{self.name}/recordings\n  local_dir: {self.recordings_dir}\n"
            # sign-ins are not carried across the tests' restarts (each test logs in whom it needs;
            # tests/test_sign_ins.py proves the restore on a real engine and event log)
            + ("" if "continuity:" in extra_yaml else f"continuity:\n  cel_database: {self.log_dir / 'cel.db'}\n  keep_sign_ins_s: 0\n")
            + extra_yaml
        )
        return path

    def settings(self, tmp_path: Path, **options: object) -> Settings:
        return load_settings(self.settings_file(tmp_path, **options), environ={"ACD_AMI_SECRET": self.secret})  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        return self.env["ACD_LAB_NAME"]

    @property
    def recordings_dir(self) -> Path:
        return self.log_dir.parent / "recordings"

    def asterisk_pid(self) -> int:
        out = subprocess.run([str(LAB_SH), "logs"], env=self.env, capture_output=True, text=True, check=True).stdout.strip()
        return int((Path(out).parent / "asterisk.pid").read_text())

    def cli(self, command: str) -> str:
        result = subprocess.run([str(LAB_SH), "cli", "-x", command], env=self.env, capture_output=True, text=True, timeout=20)
        return result.stdout

    def log_locations(self) -> list[str]:
        return [f"Asterisk: {self.log_dir}/messages.log", *self.extra_logs]

    def keep_log(self, folder: Path, tail_bytes: int = 4 << 20) -> Path | None:
        """A copy of the end of Asterisk's log in ``folder`` (a failed test's own folder,
        which pytest keeps): the lab's log is shared by every test of the session and
        begun anew each time the lab restarts, so a failure's lines would otherwise be gone
        by the time anyone reads them.  None when there is no log to copy."""
        source = self.log_dir / "messages.log"
        try:
            with source.open("rb") as log:
                log.seek(max(0, source.stat().st_size - tail_bytes))
                text = log.read()
        except OSError:
            return None
        copy = folder / "asterisk-messages.log"
        folder.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(text)
        copy.chmod(0o600)  # caller numbers are in it
        return copy


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    env = {**os.environ, **LAB_PORTS, "ACD_AMI_SECRET": secrets.token_hex(12)}
    up = subprocess.run([str(LAB_SH), "up"], env=env, capture_output=True, text=True, timeout=900)
    if up.returncode != 0:
        pytest.fail(f"the Asterisk lab did not start:\n{up.stderr.strip()}", pytrace=False)
    log_dir = Path(subprocess.run([str(LAB_SH), "logs"], env=env, capture_output=True, text=True).stdout.strip())
    yield Lab(
        sip_port=int(LAB_PORTS["ACD_LAB_SIP_PORT"]),
        ami_port=int(LAB_PORTS["ACD_LAB_AMI_PORT"]),
        agi_port=int(LAB_PORTS["ACD_LAB_AGI_PORT"]),
        agent_port_base=int(LAB_PORTS["ACD_LAB_AGENT_PORT"]),
        secret=env["ACD_AMI_SECRET"],
        log_dir=log_dir,
        env=env,
    )
    subprocess.run([str(LAB_SH), "down"], env=env, capture_output=True, text=True, timeout=60)


class KeptSippRunner(SippRunner):
    def log_locations(self) -> list[str]:
        return [f"sipp: {self.log_dir}"]


@pytest.fixture
async def sipp(lab: Lab, tmp_path: Path) -> AsyncIterator[KeptSippRunner]:
    """sipp peers for one test; their logs stay in the test's tmp folder; none outlives it."""
    runner = KeptSippRunner(log_dir=tmp_path / "sipp", sip_port=lab.sip_port)
    yield runner
    await runner.stop_all()
    # A sipp killed mid-call sends no BYE: without this its caller would stay parked in
    # the lab and the next test's engine would (rightly) find and re-queue it.
    lab.cli("channel request hangup all")
    for _ in range(50):
        if "0 active channels" in lab.cli("core show channels count"):
            break
        await asyncio.sleep(0.1)
