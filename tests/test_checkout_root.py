"""The lab's files are found from an installed acd too: $ACD_REPO, else a checkout above the package or the current folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import acd.lab.checkout as checkout


def _fake_checkout(root: Path) -> Path:
    (root / "deploy" / "asterisk").mkdir(parents=True)
    (root / "deploy" / "asterisk" / "lab.sh").write_text("#!/bin/sh\n")
    (root / "pyproject.toml").write_text("[project]\n")
    return root


def test_the_source_tree_is_found_from_the_package_itself() -> None:
    root = checkout.checkout_root()
    assert (root / "deploy" / "asterisk" / "lab.sh").is_file() and (root / "src" / "acd").is_dir()


def test_an_installed_package_finds_the_checkout_it_is_run_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "venv" / "lib" / "site-packages" / "acd" / "lab"
    site.mkdir(parents=True)
    monkeypatch.setattr(checkout, "__file__", str(site / "checkout.py"))
    repo = _fake_checkout(tmp_path / "repo")
    (repo / "deploy" / "work").mkdir()
    monkeypatch.chdir(repo / "deploy" / "work")
    monkeypatch.delenv("ACD_REPO", raising=False)
    assert checkout.checkout_root() == repo.resolve()
    assert checkout.lab_script() == repo.resolve() / "deploy" / "asterisk" / "lab.sh"


def test_acd_repo_wins_and_a_missing_lab_script_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_REPO", str(tmp_path / "nowhere"))
    assert checkout.checkout_root() == (tmp_path / "nowhere").resolve()
    with pytest.raises(FileNotFoundError, match="set ACD_REPO"):
        checkout.lab_script()
