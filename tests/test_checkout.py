"""``acd.checkout``: the one lookup of the checkout's non-Python files (lab script, recordings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.checkout import CheckoutNotFound, checkout_root, find_checkout, lab_script
from acd.cli import main

REPO = Path(__file__).resolve().parents[1]


def fake_checkout(folder: Path) -> Path:
    (folder / "deploy" / "asterisk").mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[project]\nname = 'acd'\n")
    (folder / "deploy" / "asterisk" / "lab.sh").write_text("#!/bin/sh\n")
    return folder


def test_from_a_checkout_it_is_the_repository_this_file_is_in() -> None:
    assert checkout_root(environ={}) == REPO
    assert lab_script(environ={}) == REPO / "deploy" / "asterisk" / "lab.sh"


def test_acd_repo_names_it_and_wins_over_the_walk(tmp_path: Path) -> None:
    other = fake_checkout(tmp_path / "other")
    assert checkout_root(environ={"ACD_REPO": str(other)}) == other


def test_an_installed_acd_walks_up_from_site_packages_and_finds_nothing(tmp_path: Path) -> None:
    installed = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "acd" / "checkout.py"
    installed.parent.mkdir(parents=True)
    assert find_checkout(environ={}, start=installed) is None
    with pytest.raises(CheckoutNotFound, match="set ACD_REPO"):
        checkout_root(environ={}, start=installed)
    # the walk finds a checkout above, whatever the depth
    fake_checkout(tmp_path)
    assert checkout_root(environ={}, start=installed) == tmp_path


def test_an_acd_repo_that_is_no_checkout_is_refused_with_what_it_lacks(tmp_path: Path) -> None:
    with pytest.raises(CheckoutNotFound, match=r"ACD_REPO=.* is not an acd checkout \(it needs pyproject.toml and deploy/asterisk/lab.sh\)"):
        checkout_root(environ={"ACD_REPO": str(tmp_path)})


def test_a_lab_command_without_a_checkout_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def no_lab(*args: object, **kwargs: object) -> None:
        raise AssertionError("the lab must not be started without a checkout")

    monkeypatch.setenv("ACD_REPO", str(tmp_path))
    monkeypatch.setattr("acd.bench.dispatch_bench.subprocess.run", no_lab)
    assert main(["bench", "dispatch", "--calls", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acd: ACD_REPO=") and "Traceback" not in err and len(err.strip().splitlines()) == 1
