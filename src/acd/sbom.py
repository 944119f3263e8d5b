"""The declared list of software components (an SBOM in CycloneDX 1.5 JSON).

The contract asks the contractor to declare every software component it runs, with its
version and licence.  A hand-kept list goes stale the day a dependency is upgraded, so
this module reads what is *installed*: the Python distributions of the environment the
engine runs in (``importlib.metadata``) and the Debian packages of the Asterisk root the
lab runs (its ``/var/lib/dpkg/status`` and each package's ``copyright`` file).  The same
code run at deployment time declares that deployment.

Licences: a Python distribution's ``License-Expression`` (PEP 639), else its trove
classifiers, else a short ``License`` field; a Debian package's machine-readable
copyright file (DEP-5 ``License:`` lines, the ``Files: *`` paragraph first).  A component
whose licence cannot be read is still listed, with ``licenses`` absent, and counted in
:func:`unknown_licences` so a test can hold that number down.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator

SPEC_VERSION = "1.5"

# Trove classifier → SPDX identifier, for distributions that declare only classifiers.
_CLASSIFIER_SPDX = {
    "MIT License": "MIT",
    "BSD License": "BSD-3-Clause",
    "Apache Software License": "Apache-2.0",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "The Unlicense (Unlicense)": "Unlicense",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
}
_SPDX_ID = re.compile(r"^[A-Za-z0-9.+-]+$")
_MAX_LICENCE_NAME = 80  # a License field holding the whole licence text is not a name


@dataclass(frozen=True)
class Component:
    """One installed piece of software, as the SBOM lists it."""

    kind: str  # "python" or "deb"
    name: str
    version: str
    licences: tuple[str, ...] = ()
    supplier: str = ""
    origin: str = ""  # where it was read from (environment, Asterisk root)
    arch: str = ""  # Debian architecture (amd64, all)

    @property
    def purl(self) -> str:
        if self.kind == "python":
            return f"pkg:pypi/{_normalise(self.name)}@{self.version}"
        return f"pkg:deb/debian/{self.name}@{self.version}?arch={self.arch}"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- Python distributions -------------------------------------------------------------------

def python_components(distributions: Iterable[metadata.Distribution] | None = None) -> list[Component]:
    """Every distribution importable in this environment (one entry per name)."""
    seen: dict[str, Component] = {}
    for dist in distributions if distributions is not None else metadata.distributions():
        name = dist.metadata.get("Name")
        if not name or _normalise(name) in seen:
            continue
        seen[_normalise(name)] = Component(
            kind="python",
            name=name,
            version=dist.version or "unknown",
            licences=python_licences(dist.metadata),
            supplier=dist.metadata.get("Author") or dist.metadata.get("Maintainer") or "",
            origin="python environment",
        )
    return sorted(seen.values(), key=lambda c: _normalise(c.name))


def python_licences(meta: Any) -> tuple[str, ...]:
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return (expression,)
    from_classifiers = []
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License :: "):
            leaf = classifier.rsplit(" :: ", 1)[-1]
            if leaf not in ("OSI Approved", "DFSG approved"):  # categories, not licences
                from_classifiers.append(_CLASSIFIER_SPDX.get(leaf, leaf))
    if from_classifiers:
        return tuple(dict.fromkeys(from_classifiers))
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= _MAX_LICENCE_NAME and text.upper() != "UNKNOWN":
        return (text,)
    return ()


# --- Debian packages of the Asterisk root ---------------------------------------------------

def _dpkg_paragraphs(text: str) -> Iterator[dict[str, str]]:
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and current:
                fields[current] += "\n" + line.strip()
            elif ":" in line:
                current, _, value = line.partition(":")
                fields[current] = value.strip()
        if fields:
            yield fields


def deb_components(root: Path) -> list[Component]:
    """Installed packages of a Debian root file system (``root`` = ``/`` for the host)."""
    status = root / "var/lib/dpkg/status"
    components = []
    for fields in _dpkg_paragraphs(status.read_text(encoding="utf-8", errors="replace")):
        if "install ok installed" not in fields.get("Status", ""):
            continue
        name = fields["Package"]
        components.append(
            Component(
                kind="deb",
                name=name,
                version=fields.get("Version", "unknown"),
                licences=deb_licences(root, name),
                supplier=fields.get("Maintainer", ""),
                origin=f"Asterisk root {root}",
                arch=fields.get("Architecture", ""),
            )
        )
    return sorted(components, key=lambda c: c.name)


def deb_licences(root: Path, package: str) -> tuple[str, ...]:
    """Licences from a DEP-5 copyright file: the ``Files: *`` paragraph first, then the others."""
    copyright_file = root / "usr/share/doc" / package / "copyright"
    try:
        text = copyright_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    if not text.startswith("Format:"):
        return _licences_in_free_text(text)
    main: list[str] = []
    others: list[str] = []
    for paragraph in _dpkg_paragraphs(text):
        licence = paragraph.get("License", "").split("\n", 1)[0].strip()
        if not licence or "Files" not in paragraph:
            continue
        (main if paragraph["Files"].split() == ["*"] else others).append(licence)
    return tuple(dict.fromkeys(main + others))


_FREE_TEXT_LICENCES = (
    ("GPL-3", re.compile(r"GNU General Public License.{0,80}version 3", re.S)),
    ("GPL-2", re.compile(r"GNU General Public License.{0,80}version 2", re.S)),
    ("LGPL-2.1", re.compile(r"GNU Lesser General Public License.{0,80}version 2\.1", re.S)),
    ("LGPL", re.compile(r"GNU (Lesser|Library) General Public License")),
    ("GPL", re.compile(r"GNU General Public License|/usr/share/common-licenses/GPL")),
    ("BSD", re.compile(r"/usr/share/common-licenses/BSD|Redistribution and use in source and binary forms")),
    ("Artistic", re.compile(r"Artistic License")),
    ("MIT", re.compile(r"Permission\s+is\s+hereby\s+granted,\s+free\s+of\s+charge,\s+to\s+any\s+person\s+obtaining")),
    ("public-domain", re.compile(r"public domain", re.I)),
)


def _licences_in_free_text(text: str) -> tuple[str, ...]:
    """Older, free-form copyright files: the licences they name (first match per family)."""
    found: list[str] = []
    for name, pattern in _FREE_TEXT_LICENCES:
        if pattern.search(text) and not any(name.startswith(f) or f.startswith(name) for f in found):
            found.append(name)
    return tuple(found)


# --- the document ---------------------------------------------------------------------------

def _licence_entry(licence: str) -> dict[str, Any]:
    if " OR " in licence or " AND " in licence or " WITH " in licence:
        return {"expression": licence}
    if _SPDX_ID.match(licence) and licence in _KNOWN_SPDX:
        return {"license": {"id": licence}}
    return {"license": {"name": licence}}


# SPDX ids this module can emit as ids; anything else goes in as a name (CycloneDX
# validates ids against the SPDX list, names are free text).
_KNOWN_SPDX = frozenset(
    set(_CLASSIFIER_SPDX.values())
    | {"BSD-2-Clause", "0BSD", "Apache-2.0", "MIT", "MIT-CMU", "PSF-2.0", "Python-2.0", "Zlib", "CC0-1.0", "Unlicense"}
)


def component_entry(component: Component) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": "library" if component.kind == "python" else "application",
        "bom-ref": f"{component.kind}:{component.name}",
        "name": component.name,
        "version": component.version,
        "purl": component.purl,
        "properties": [{"name": "acd:origin", "value": component.origin}],
    }
    if component.licences:
        entry["licenses"] = [_licence_entry(licence) for licence in component.licences]
    if component.supplier:
        entry["supplier"] = {"name": component.supplier[:200]}
    return entry


def build_sbom(components: list[Component], *, project_version: str, now: datetime | None = None) -> dict[str, Any]:
    """A CycloneDX 1.5 document listing ``components`` under the ``acd`` application."""
    stamp = (now or datetime.now(timezone.utc)).replace(microsecond=0).isoformat()
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": stamp,
            "component": {
                "type": "application",
                "bom-ref": "acd",
                "name": "acd",
                "version": project_version,
                "licenses": [{"license": {"id": "MIT"}}],
            },
            "tools": {"components": [{"type": "application", "name": "acd sbom", "version": project_version}]},
        },
        "components": [component_entry(c) for c in components if _normalise(c.name) != "acd" or c.kind != "python"],
    }


def unknown_licences(components: Iterable[Component]) -> list[Component]:
    return [c for c in components if not c.licences]


def write_sbom(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
