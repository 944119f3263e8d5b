"""FastAGI wire format, without any I/O.

Asterisk opens a TCP connection, sends a block of ``agi_name: value`` lines ended by an
empty line, then waits for one command line at a time and answers each with a status
line (``200 result=1 (data) endpos=123``), sometimes a multi-line ``520-`` usage block,
and, when the caller hangs up, a bare ``HANGUP`` line.

Keeping the parsing here, fed with bytes and returning values, means every odd byte
sequence can be unit-tested and fuzzed without sockets, and the server can never be
stalled by a parser waiting for more input than a peer will send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl


class AgiProtocolError(Exception):
    """The peer sent something that is not FastAGI."""


@dataclass(frozen=True)
class AgiRequest:
    """The header block Asterisk sends when a call reaches ``AGI(agi://host:port/route)``."""

    env: dict[str, str]
    route: str
    params: dict[str, str]
    args: tuple[str, ...]

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def unique_id(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def caller(self) -> str:
        return self.env.get("agi_callerid", "")

    @property
    def dialed(self) -> str:
        return self.env.get("agi_dnid", "") or self.env.get("agi_extension", "")

    @property
    def language(self) -> str:
        return self.env.get("agi_language", "")


_HEADER_LINE = re.compile(r"^(agi_[A-Za-z0-9_]+):\s?(.*)$")


class AgiRequestParser:
    """Accumulates bytes until the header block ends; enforces a size cap.

    ``feed`` returns the request once the terminating empty line arrived, else None.
    Bytes after the header (there should be none) are kept in ``leftover``.
    """

    def __init__(self, max_header_bytes: int = 16384) -> None:
        self.max_header_bytes = max_header_bytes
        self._buffer = bytearray()
        self.leftover = b""
        self.done = False

    def feed(self, data: bytes) -> AgiRequest | None:
        if self.done:
            raise AgiProtocolError("header already complete")
        self._buffer.extend(data)
        end = self._find_end()
        if end is None:
            if len(self._buffer) > self.max_header_bytes:
                raise AgiProtocolError(f"AGI header larger than {self.max_header_bytes} bytes")
            return None
        head_end, body_start = end
        if head_end > self.max_header_bytes:
            raise AgiProtocolError(f"AGI header larger than {self.max_header_bytes} bytes")
        head = bytes(self._buffer[:head_end])
        self.leftover = bytes(self._buffer[body_start:])
        self.done = True
        return parse_request_header(head)

    def _find_end(self) -> tuple[int, int] | None:
        for terminator in (b"\n\n", b"\r\n\r\n"):
            index = self._buffer.find(terminator)
            if index >= 0:
                return index, index + len(terminator)
        if self._buffer.startswith(b"\n"):
            return 0, 1
        if self._buffer.startswith(b"\r\n"):
            return 0, 2
        return None


def parse_request_header(head: bytes) -> AgiRequest:
    """Parse the ``agi_*`` block (without its terminating empty line)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line:
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise AgiProtocolError(f"header line {number} is not 'agi_name: value': {shown!r}")
        env[match.group(1)] = match.group(2)
    if "agi_request" not in env and "agi_network_script" not in env:
        raise AgiProtocolError("header has neither agi_request nor agi_network_script")
    route, params = split_route(env.get("agi_network_script") or _script_from_url(env.get("agi_request", "")))
    args = []
    index = 1
    while f"agi_arg_{index}" in env:
        args.append(env[f"agi_arg_{index}"])
        index += 1
    return AgiRequest(env=env, route=route, params=params, args=tuple(args))


def _script_from_url(url: str) -> str:
    # agi://host:port/route?x=y -> route?x=y
    if "://" in url:
        url = url.split("://", 1)[1]
        url = url.split("/", 1)[1] if "/" in url else ""
    return url


def split_route(script: str) -> tuple[str, dict[str, str]]:
    """``ivr/help?lang=es`` → (``ivr/help``, {``lang``: ``es``})."""
    path, _, query = script.partition("?")
    return path.strip("/"), dict(parse_qsl(query, keep_blank_values=True))


@dataclass(frozen=True)
class AgiResponse:
    """One answer to one command."""

    code: int
    result: str = ""
    data: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def result_int(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            return -1


class AgiHangupNotice(Exception):
    """Asterisk said ``HANGUP``: the channel is gone."""


_STATUS_LINE = re.compile(r"^(\d{3})([ -])(.*)$")


class AgiResponseParser:
    """Turns response lines into ``AgiResponse`` values (one per command sent).

    Feed it one line at a time (without the newline).  Returns a response when complete,
    None while inside a ``520-`` usage block.  A ``HANGUP`` line raises
    ``AgiHangupNotice``; the caller decides whether a response still follows.
    """

    def __init__(self) -> None:
        self._usage: list[str] | None = None
        self._usage_code = 0

    def feed_line(self, line: str) -> AgiResponse | None:
        line = line.rstrip("\r\n")
        if self._usage is not None:
            if line.startswith(f"{self._usage_code} "):
                text = "\n".join(self._usage)
                self._usage = None
                return AgiResponse(code=self._usage_code, text=text)
            self._usage.append(line)
            return None
        if line == "HANGUP":
            raise AgiHangupNotice()
        match = _STATUS_LINE.match(line)
        if match is None:
            raise AgiProtocolError(f"unexpected response line {line[:80]!r}")
        code, separator, rest = int(match.group(1)), match.group(2), match.group(3)
        if separator == "-":
            self._usage = [rest]
            self._usage_code = code
            return None
        if code != 200:
            return AgiResponse(code=code, text=rest)
        return parse_success(rest)


def parse_success(rest: str) -> AgiResponse:
    """Parse ``result=1 (some data) endpos=1234`` (data may contain spaces and parens)."""
    if not rest.startswith("result="):
        raise AgiProtocolError(f"200 response without result: {rest[:80]!r}")
    body = rest[len("result="):]
    result, _, tail = body.partition(" ")
    data: str | None = None
    extras: dict[str, str] = {}
    tail = tail.strip()
    if tail.startswith("("):
        close = tail.rfind(")")
        if close < 0:
            data = tail[1:]
            tail = ""
        else:
            data = tail[1:close]
            tail = tail[close + 1:].strip()
    for token in tail.split():
        key, sep, value = token.partition("=")
        if sep:
            extras[key] = value
    return AgiResponse(code=200, result=result, data=data, extras=extras, text=rest)


class AgiArgumentRefused(ValueError):
    """A command or argument would carry a line break or NUL: refused, nothing sent.

    Asterisk reads one command per line, so a newline in an argument would run a second
    command of the peer's choosing (``SET VARIABLE x "a\\nEXEC System ..."``); a NUL cuts
    the line short.  The message names the command and the argument, never its value."""


def _unsafe(text: str) -> bool:
    return "\n" in text or "\r" in text or "\0" in text


def quote_argument(value: str) -> str:
    """Quote one AGI command argument; Asterisk splits on spaces and honours ``"`` and ``\\``."""
    if _unsafe(value):
        raise AgiArgumentRefused("AGI arguments cannot contain line breaks or NUL")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def encode_command(command: str, *args: str) -> bytes:
    """``STREAM FILE`` + (``welcome``, ``0123``) → ``STREAM FILE "welcome" "0123"\\n``."""
    if _unsafe(command):
        raise AgiArgumentRefused("AGI command cannot contain line breaks or NUL")
    for position, arg in enumerate(args, start=1):
        if _unsafe(str(arg)):
            raise AgiArgumentRefused(f"AGI {command}: argument {position} contains a line break or NUL; command not sent")
    parts = [command] + [quote_argument(str(arg)) for arg in args]
    return (" ".join(parts) + "\n").encode("utf-8")
