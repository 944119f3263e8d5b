"""`acd run` that cannot start says why in one line and exits, never hangs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_busy_agi_port_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = tmp_path / "acd.yaml"
        settings.write_text(
            f"agi: {{port: {port}}}\nami: {{port: 1}}\n"
            f"routing: {{config: {REPO / 'deploy' / 'routing.yaml'}}}\nivr: {{flows_dir: {REPO / 'ivr_flows'}}}\n"
            f"metrics: {{database: {tmp_path / 'acd.sqlite'}}}\ncallbacks: {{database: {tmp_path / 'cb.sqlite'}}}\n"
            f"recording: {{local_dir: {tmp_path / 'rec'}}}\nlog: {{level: error}}\n"
        )
        result = subprocess.run(
            [sys.executable, "-m", "acd", "run", "--settings", str(settings)],
            capture_output=True, text=True, timeout=60, env={**os.environ, "ACD_AMI_SECRET": "x"},
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("acd run: cannot start:")
    assert "address already in use" in result.stderr
