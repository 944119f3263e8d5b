"""A failed lab test keeps Asterisk's log as it was at the failure, in the test's own folder."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.lab.conftest import Lab


def _lab(log_dir: Path) -> Lab:
    return Lab(sip_port=1, ami_port=2, agi_port=3, agent_port_base=4, secret="s", log_dir=log_dir, env={})


def test_the_end_of_asterisks_log_is_copied_owner_only_into_the_failed_tests_folder(tmp_path: Path) -> None:
    logs = tmp_path / "lab-log"
    logs.mkdir()
    (logs / "messages.log").write_bytes(b"old line\n" * 10 + b"ChanSpy barge on PJSIP/agent2-00000001\n")
    kept = _lab(logs).keep_log(tmp_path / "test", tail_bytes=48)
    assert kept == tmp_path / "test" / "asterisk-messages.log"
    assert kept.read_bytes().endswith(b"ChanSpy barge on PJSIP/agent2-00000001\n")
    assert len(kept.read_bytes()) == 48  # only the end: the lab's log grows all session
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_no_log_to_copy_keeps_nothing(tmp_path: Path) -> None:
    assert _lab(tmp_path / "never-started").keep_log(tmp_path / "test") is None
    assert not (tmp_path / "test").exists()
