"""The lab's manager.conf lets through every event the engine reads, and no other; the
events it disables globally are none that the engine or the benchmarks' watchers read.

Asterisk filters the engine's AMI user down to the events ``acd.asterisk.call_control``
translates (name filters, no regexes): a name missing there would silently starve the
engine of that fact, so the list is checked against the code here.  The benchmarks'
independent watcher has a user of its own that is not filtered.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from acd.asterisk.call_control import EVENT_NAMES

MANAGER_CONF = Path(__file__).resolve().parents[2] / "deploy" / "asterisk" / "etc" / "manager.conf"


def _sections() -> dict[str, str]:
    """Section name -> its text (manager.conf repeats keys, which configparser refuses)."""
    out: dict[str, str] = {}
    name = ""
    for line in MANAGER_CONF.read_text().splitlines():
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            name = header.group(1)
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def _included_names(section: str) -> set[str]:
    names = set()
    for line in section.splitlines():
        if not line.startswith("eventfilter("):
            continue
        criteria = line.split("=", 1)[0]
        assert "action(exclude)" not in criteria, f"the engine's user should only include events: {line}"
        found = re.search(r"name\(([A-Za-z]+)\)", criteria)
        assert found, f"an eventfilter without name(): a per-event regex on the engine's user: {line}"
        names.add(found.group(1))
    return names


def test_the_engines_user_receives_every_event_the_engine_translates() -> None:
    engine = _sections()["@AMI_USER@"]
    included = _included_names(engine)
    assert set(EVENT_NAMES) <= included
    assert "Shutdown" in included  # panoramisk closes the connection on it


def test_the_engines_user_receives_only_named_events() -> None:
    included = _included_names(_sections()["@AMI_USER@"])
    assert included - set(EVENT_NAMES) <= {"Shutdown", "FullyBooted", "ChanSpyStart"}


def test_the_watchers_user_is_not_filtered_and_cannot_act_on_calls() -> None:
    watcher = _sections()["@AMI_USER@-watch"]
    assert "eventfilter" not in watcher
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string("[w]\n" + watcher)
    assert {"call", "agent", "user"} <= set(parser["w"]["read"].split(","))
    assert parser["w"]["write"] == "agent"  # the parity bench's app_queue members, nothing more


#: What the benchmarks' independent watchers read (acd.bench.call_views.AmiWatcher,
#: acd.bench.fault_views, acd.bench.parity_lab.QueueWatcher).
WATCHED = {"Newchannel", "Newstate", "UserEvent", "DialBegin", "DialEnd", "Hangup", "QueueCallerJoin"}


def test_globally_disabled_events_are_none_that_anybody_reads() -> None:
    general = _sections()["general"]
    line = next(line for line in general.splitlines() if line.startswith("disabledevents"))
    disabled = {name.strip() for name in line.split("=", 1)[1].split(",")}
    assert {"Newexten", "VarSet", "AGIExecStart", "AGIExecEnd"} <= disabled
    assert not disabled & (set(EVENT_NAMES) | WATCHED | _included_names(_sections()["@AMI_USER@"]))
