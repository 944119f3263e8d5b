"""Only Asterisk's own dialplan may start calls on the engine: the per-install AGI key.

Anybody on the machine can open a TCP connection to the FastAGI port and type an
``agi_*`` header.  Without a check, such a session runs an IVR flow and logs a
``call.started`` that service level, abandonment and penalties then count.  So:

* the engine holds a random key (``agi.key`` / ``ACD_AGI_KEY``, or one generated once
  and kept, mode 0600, in ``agi-key`` beside the metrics database, so it survives
  restarts and Asterisk's copy stays valid while the engine is down);
* on every AMI (re)connection, before anything else, the engine stores it in Asterisk's
  global variable ``ACD_AGI_KEY`` (AMI ``Setvar`` without a channel);
* every FastAGI session starts with ``GET VARIABLE ACD_AGI_KEY``: a channel of that
  Asterisk answers with the key, anything else cannot, and :class:`AgiKeyGuard`
  compares (``hmac.compare_digest``) before any route runs.

Why asked for, not passed in the address (``AGI(agi://…/ivr?key=${ACD_AGI_KEY})``):
Asterisk writes every AGI() address, expanded, to its verbose log (``messages.log``,
often readable by all) and to AMI ``Newexten`` events; an answer to GET VARIABLE
appears nowhere unless someone turns on ``agi set debug``.  It costs one round trip
per call (well under a millisecond on loopback).  Asterisk still logs setting the
global once per AMI connection (verbose 2, "Setting global variable"), so its log
folder must be readable by its own user only: the lab's is; Debian's package leaves
/var/log/asterisk world-readable (0755), so a production install must tighten it.

A refused session is closed without a word (nothing for a prober to learn; a real call
whose Asterisk has no key yet, before the AMI connection, falls through to the dialplan's
"try again later"), counted, and logged at most a few times a minute.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from acd.asterisk.agi_protocol import AgiRequest
from acd.private_files import private_dir

if TYPE_CHECKING:
    from acd.asterisk.ami import AmiClient

log = logging.getLogger("acd.fastagi")

#: Asterisk's global variable holding the key (set over AMI, read back by GET VARIABLE)
ASTERISK_VARIABLE = "ACD_AGI_KEY"
KEY_FILE_NAME = "agi-key"
#: URL-safe letters, long enough not to be guessed (whole-string match)
KEY_PATTERN = r"[A-Za-z0-9_-]{16,256}"


class AgiKeyError(OSError):
    """The key file cannot be read, created or trusted (an OSError: `acd run` reports it as one)."""


def load_or_create_key(path: Path) -> str:
    """The key kept in ``path``; created (random, owner-only, in an owner-only folder when it
    makes one) the first time."""
    private_dir(path.parent, private=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise AgiKeyError(f"{path}: cannot create the AGI key file: {exc.strerror}") from None
    key = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    log.info("AGI key created in %s (owner-only)", path)
    return key


def _read_key(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            os.chmod(path, 0o600)  # someone loosened it: whoever could read it can fake calls
            log.warning("%s was readable by others (mode %o); made owner-only", path, mode & 0o777)
        key = path.read_text().strip()
    except OSError as exc:
        raise AgiKeyError(f"{path}: cannot read the AGI key file: {exc.strerror}") from None
    if not re.fullmatch(KEY_PATTERN, key):
        raise AgiKeyError(f"{path}: not an AGI key (16-256 letters, digits, '_' or '-'); delete it to have a new one made")
    return key


@dataclass
class _Throttle:
    """At most ``per_window`` log lines per ``window_s``; says how many were left out."""

    per_window: int = 5
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _window_start: float = float("-inf")
    _in_window: int = 0
    suppressed: int = 0

    def allow(self) -> bool:
        now = self.clock()
        if now - self._window_start >= self.window_s:
            self._window_start, self._in_window = now, 0
        self._in_window += 1
        if self._in_window > self.per_window:
            self.suppressed += 1
            return False
        return True


@dataclass
class AgiKeyGuard:
    """Decides, from what the peer answered to ``GET VARIABLE ACD_AGI_KEY``, whether a
    FastAGI session came from our Asterisk; the server asks, this compares and reports."""

    key: str
    throttle: _Throttle = field(default_factory=_Throttle)

    def admit(self, given: str, request: AgiRequest, peer: object) -> bool:
        """True for the install's key; otherwise False, logged (throttled, key never shown)."""
        if hmac.compare_digest(given.encode("utf-8", "replace"), self.key.encode()):
            return True
        if self.throttle.allow():
            left_out, self.throttle.suppressed = self.throttle.suppressed, 0
            more = f" ({left_out} more refused since the last report)" if left_out else ""
            log.warning(
                "FastAGI: refused a session from %s for channel %r, route %r: %s AGI key%s",
                peer, request.channel[:80], request.route[:80], "wrong" if given else "no", more,
            )
        return False


async def publish_key(ami: "AmiClient", key: str) -> None:
    """Store the key in Asterisk's global ``ACD_AGI_KEY`` (no Channel header: global).

    Never raises: without it calls are refused, which the log says plainly."""
    try:
        await ami.action("Setvar", Variable=ASTERISK_VARIABLE, Value=key)
    except Exception as exc:  # noqa: BLE001 - any failure means the same for the operator
        log.error(
            "AMI: could not set %s in Asterisk (%s): calls reaching the engine will be refused "
            "until it is set (the AMI user needs write=call)", ASTERISK_VARIABLE, exc,
        )
