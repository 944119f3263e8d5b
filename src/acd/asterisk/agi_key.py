"""Only Asterisk's own dialplan may start calls on the engine: the per-install AGI key.

Anybody on the machine can open a TCP connection to the FastAGI port and type an
``agi_*`` header.  Without a check, such a session runs an IVR flow and logs a
``call.started`` that service level, abandonment and penalties then count.  So:

* the engine holds a random key (``agi.key`` / ``ACD_AGI_KEY``, or one generated once
  and kept, mode 0600, in ``agi-key`` beside the metrics database, so it survives
  restarts and Asterisk's copy stays valid while the engine is down);
* on every AMI (re)connection, before anything else, the engine stores it in Asterisk's
  global variable ``ACD_AGI_KEY`` (AMI ``Setvar`` without a channel);
* the dialplan passes it back on every call: ``AGI(${ACD_AGI}/ivr?key=${ACD_AGI_KEY})``;
* :class:`AgiKeyGuard` lets a session through only with that key (``hmac.compare_digest``),
  and takes the key out of the request before any route or log can see it.

A refused session is closed without a word (nothing for a prober to learn; a real call
whose Asterisk has no key yet, before the AMI connection, falls through to the dialplan's
"try again later"), counted, and logged at most a few times a minute.
"""

from __future__ import annotations

import dataclasses
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

if TYPE_CHECKING:
    from acd.asterisk.ami import AmiClient

log = logging.getLogger("acd.fastagi")

#: the query parameter the dialplan passes the key in
KEY_PARAM = "key"
#: Asterisk's global variable holding the key (set over AMI)
ASTERISK_VARIABLE = "ACD_AGI_KEY"
KEY_FILE_NAME = "agi-key"
#: URL-safe (it travels in a query string unencoded) and long enough not to be guessed
KEY_PATTERN = r"[A-Za-z0-9_-]{16,256}"  # whole-string (fullmatch)
_KEY_IN_TEXT = re.compile(rf"([?&]{KEY_PARAM}=)[^&,\s]*")


class AgiKeyError(OSError):
    """The key file cannot be read, created or trusted (an OSError: `acd run` reports it as one)."""


def load_or_create_key(path: Path) -> str:
    """The key kept in ``path``; created (random, owner-only) the first time."""
    path.parent.mkdir(parents=True, exist_ok=True)
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


def mask_key(text: str) -> str:
    """``ivr?key=abc&x=1`` → ``ivr?key=***&x=1``: for anything that may be logged."""
    return _KEY_IN_TEXT.sub(r"\1***", text)


def without_key(request: AgiRequest) -> AgiRequest:
    """The request as routes and logs may see it: no key in params, masked in the header."""
    params = {name: value for name, value in request.params.items() if name != KEY_PARAM}
    env = {name: mask_key(value) if name in ("agi_network_script", "agi_request") else value for name, value in request.env.items()}
    return dataclasses.replace(request, params=params, env=env)


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
    """Admits a FastAGI session only if its request carries the install's key."""

    key: str
    throttle: _Throttle = field(default_factory=_Throttle)

    def admit(self, request: AgiRequest, peer: object) -> AgiRequest | None:
        """The request without its key, or None (logged, throttled) when the key is wrong."""
        given = request.params.get(KEY_PARAM, "")
        if hmac.compare_digest(given.encode("utf-8", "replace"), self.key.encode()):
            return without_key(request)
        if self.throttle.allow():
            left_out, self.throttle.suppressed = self.throttle.suppressed, 0
            more = f" ({left_out} more refused since the last report)" if left_out else ""
            log.warning(
                "FastAGI: refused a session from %s for channel %r, route %r: %s AGI key%s",
                peer, request.channel[:80], request.route[:80], "wrong" if given else "no", more,
            )
        return None


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
