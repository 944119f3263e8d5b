"""The ``acd`` command imports only the command it runs: a start costs what that command uses."""

from __future__ import annotations

import subprocess
import sys

from acd.cli import build_parser, command_names


def _modules_after(argv: list[str]) -> set[str]:
    code = (
        "import sys; from acd.cli import build_parser; "
        f"build_parser({argv!r}); print('\\n'.join(sorted(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_a_named_command_imports_only_its_own_module() -> None:
    loaded = _modules_after(["ivr", "validate", "flows"])
    commands = {name for name in loaded if name.startswith("acd.cli.") and not name.split(".")[-1].startswith("_")}
    assert commands == {"acd.cli.ivr"}
    assert not {"numpy", "httpx", "acd.cli._api_options", "acd.bench.faults"} & loaded


def test_help_and_unknown_commands_still_list_every_command() -> None:
    for argv in ([], ["--help"], ["nonsense"]):
        parser = build_parser(argv)
        listed = parser.format_help()
        assert all(name in listed for name in command_names()), argv
