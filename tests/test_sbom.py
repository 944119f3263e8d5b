"""``acd sbom`` declares every installed component with its version and licence.

Checked against independent sources on the real environment: ``importlib.metadata`` for
the Python side and ``dpkg-query`` over the lab's real Asterisk root for the Debian side,
and validated against the CycloneDX 1.5 schema.  CI runs this, so the declaration can
never silently drift from what is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from acd.cli.sbom import default_asterisk_root
from acd.sbom import deb_licences, python_licences

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def asterisk_root() -> Path:
    """The lab's Debian root, built if this machine has none yet (as the lab tests do)."""
    env = {**os.environ, "ACD_LAB_BACKEND": "chroot"}  # the SBOM reads the root's files, not an image
    subprocess.run([str(REPO / "deploy/asterisk/lab.sh"), "build"], env=env, check=True, capture_output=True, timeout=900)
    root = default_asterisk_root()
    assert (root / "var/lib/dpkg/status").is_file()
    return root


@pytest.fixture(scope="module")
def sbom(asterisk_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    output = tmp_path_factory.mktemp("sbom") / "sbom.cdx.json"
    done = subprocess.run(
        [sys.executable, "-m", "acd", "sbom", "-o", str(output), "--asterisk-root", str(asterisk_root)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    return json.loads(output.read_text())


def test_sbom_is_valid_cyclonedx_1_5(sbom: dict) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(sbom))
    assert error is None, error


def test_every_installed_python_distribution_is_declared_with_its_version(sbom: dict) -> None:
    declared = {c["name"].lower(): c["version"] for c in sbom["components"] if c["purl"].startswith("pkg:pypi/")}
    installed = {d.metadata["Name"].lower(): d.version for d in metadata.distributions() if d.metadata["Name"] != "acd"}
    assert installed and declared == installed


def test_every_package_of_the_asterisk_root_is_declared_with_its_version(sbom: dict, asterisk_root: Path) -> None:
    listed = subprocess.run(
        ["dpkg-query", f"--admindir={asterisk_root}/var/lib/dpkg", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"],
        capture_output=True, text=True, check=True,
    ).stdout
    installed = {name: version for name, version, status in (line.split("\t") for line in listed.splitlines()) if status.startswith("ii")}
    declared = {c["name"]: c["version"] for c in sbom["components"] if c["purl"].startswith("pkg:deb/")}
    assert "asterisk" in installed and declared == installed


def test_every_component_declares_a_licence(sbom: dict) -> None:
    assert [c["bom-ref"] for c in sbom["components"] if not c.get("licenses")] == []
    asterisk = next(c for c in sbom["components"] if c["bom-ref"] == "deb:asterisk")
    assert any("GPL" in json.dumps(entry) for entry in asterisk["licenses"])
    assert sbom["metadata"]["component"]["name"] == "acd"


def test_licences_come_from_machine_readable_copyright_before_free_text(tmp_path: Path) -> None:
    doc = tmp_path / "usr/share/doc"
    (doc / "dep5").mkdir(parents=True)
    (doc / "dep5/copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: debian/*\nLicense: GPL-2+\n\nFiles: *\nCopyright: someone\nLicense: BSD-3-clause\n text\n"
    )
    (doc / "old").mkdir()
    (doc / "old/copyright").write_text("Permission is hereby granted, free of charge, to any person\nobtaining a copy")
    assert deb_licences(tmp_path, "dep5") == ("BSD-3-clause", "GPL-2+")
    assert deb_licences(tmp_path, "old") == ("MIT",)
    assert deb_licences(tmp_path, "missing") == ()


def test_a_licence_text_in_the_license_field_is_not_taken_for_a_name() -> None:
    from email.message import Message

    meta = Message()
    meta["License"] = "Copyright (c) 2020 Someone\n\nPermission is hereby granted ..."
    meta["Classifier"] = "License :: OSI Approved"
    assert python_licences(meta) == ()
    meta["Classifier"] = "License :: OSI Approved :: MIT License"
    assert python_licences(meta) == ("MIT",)


def test_a_root_without_a_package_database_is_refused_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "acd", "sbom", "-o", str(tmp_path / "x.json"), "--asterisk-root", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no Debian package database" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x.json").exists()
