"""Sans-IO AMI wire format: bytes in, message blocks and header dicts out; and the check
every action passes before it becomes bytes (:func:`check_action`: no header may carry a
line break or NUL, which would add headers or whole actions of the sender's choosing).

Why our own and not panoramisk's: on a real stream panoramisk's parser was a third of
the ingest cost.  It decodes every chunk, builds a case-insensitive dict for every
message and runs every event through regex callbacks, although nine events in ten
(``VarSet``, ``Newexten``, ``TestEvent`` …) interest nobody.  Here framing works on bytes,
the event name is read without parsing the rest, and only a message somebody wants is
decoded and turned into headers.  Nothing here touches a socket, so the framing is
property-tested on arbitrary splits of a stream (``tests/asterisk/test_ami_wire.py``).

The format (Asterisk 22 ``manager.c``): after connecting, one greeting line
``Asterisk Call Manager/X.Y.Z\\r\\n``; then messages of ``Key: value\\r\\n`` lines, each
ended by an empty line.  Real streams sometimes carry an extra ``\\r\\n`` between
messages (seen after ``TestEvent`` ``MIXMONITOR_END``), so leading line ends of a block
are dropped.  A header may repeat (``Variable``, ``TestEvent``'s ``State``); repeats are
joined with ``\\n``, in order, which is what :class:`acd.asterisk.ami.AmiMessage` has
always exposed.  Bytes that are not UTF-8 are replaced (``U+FFFD``), per message, so a
character split across two reads is never lost.

Nothing malformed stops the stream: a block without ``Key: value`` shape, or bigger
than ``max_message_bytes`` (a peer that never sends the empty line), is dropped and
described in :attr:`AmiFramer.problems` for the caller to log; parsing goes on with the
next message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

EOL = b"\r\n"
EOM = b"\r\n\r\n"
GREETING_PREFIX = b"Asterisk Call Manager/"
EVENT_PREFIX = b"Event: "
#: Events carrying this header answer one of our actions (event lists, ``OriginateResponse``).
ACTION_ID_MARK = b"ActionID: "
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20
_PREVIEW = 80
_LINE_END_BYTES = (13, 10)


def preview(data: bytes | str) -> str:
    """A short printable excerpt for log messages (never the whole, possibly huge, block)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return repr(text[:_PREVIEW] + ("…" if len(text) > _PREVIEW else ""))


@dataclass
class AmiFramer:
    """Cuts an AMI byte stream into message blocks, whatever the read boundaries.

    ``feed`` returns complete blocks (without the terminating empty line, never empty);
    the greeting, once seen, is in :attr:`greeting`.  Problems (oversized or dropped
    data) are appended to :attr:`problems`; the caller takes and logs them.

    Linear in the bytes read, however small the reads: the pending bytes live in one
    ``bytearray`` that grows in place, and the search for the empty line resumes where the
    previous one stopped (3 bytes back, for an end of message split across reads).
    Rebuilding and re-splitting the buffer on every read was quadratic in a message's
    size: a big ``Response: Follows`` arriving in small TCP segments cost seconds.
    """

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    greeting: str | None = None
    problems: list[str] = field(default_factory=list)
    _buffer: bytearray = field(default_factory=bytearray)
    #: where the next search for a line end (greeting) or an empty line (message) starts
    _scan_from: int = 0
    _before_greeting: bool = True
    _skipping_greeting: bool = False
    _discarding: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes just read; return the messages they complete, in order."""
        buffer = self._buffer
        buffer += data
        if self._before_greeting and not self._take_greeting():
            return []
        out: list[bytes] = []
        start = 0
        limit = self.max_message_bytes
        while True:
            if not self._discarding:
                start = _skip_line_ends(buffer, start)  # stray line ends before a message
            end = buffer.find(EOM, max(start, self._scan_from))
            if end < 0:
                break
            if self._discarding:
                self._discarding = False  # that was the tail of the oversized message
            elif end - start > limit:
                self._oversized(end - start, ended=True)
            elif end > start:
                out.append(bytes(buffer[start:end]))
            start = end + len(EOM)
            self._scan_from = start
        del buffer[:start]
        # Only certain once even the block this can still become is too long: the last
        # 3 bytes may yet turn out to start the empty line.
        if not self._discarding and len(buffer) > limit + 3:
            self._oversized(len(buffer))
        if self._discarding:
            del buffer[:-3]  # an end of message may straddle this read and the next
        self._scan_from = max(0, len(buffer) - 3)
        return out

    def _oversized(self, size: int, *, ended: bool = False) -> None:
        self.problems.append(
            f"dropped a message of more than {self.max_message_bytes} bytes"
            + ("" if ended else f" ({size} bytes so far without an empty line)")
        )
        if not ended:
            self._discarding = True

    def _take_greeting(self) -> bool:
        """Strip the greeting line if the stream starts with one; False while it may still come.

        A greeting line longer than ``max_message_bytes`` is dropped (up to its line end)
        whether or not it arrived in one read.
        """
        buffer = self._buffer
        if not self._skipping_greeting:
            if not buffer.startswith(GREETING_PREFIX):
                if GREETING_PREFIX.startswith(buffer):
                    return False  # too short to tell yet (an empty read included)
                self._before_greeting = False  # no greeting (a test server, a proxy): messages start at once
                return True
            end = buffer.find(EOL, self._scan_from)
            # without a line end yet, the last byte may still be the "\r" that starts it
            if end > self.max_message_bytes or (end < 0 and len(buffer) > self.max_message_bytes + 1):
                self.problems.append(f"dropped a greeting line of more than {self.max_message_bytes} bytes")
                self._skipping_greeting = True
            elif end >= 0:
                self.greeting = buffer[len(GREETING_PREFIX):end].decode("utf-8", "replace").strip()
                return self._greeting_done(end)
            else:
                self._scan_from = max(0, len(buffer) - 1)
                return False
        end = buffer.find(EOL, self._scan_from)
        if end >= 0:
            self._skipping_greeting = False
            return self._greeting_done(end)
        del buffer[:-1]  # a "\r" here may pair with a "\n" in the next read
        self._scan_from = 0
        return False

    def _greeting_done(self, line_end: int) -> bool:
        del self._buffer[: line_end + len(EOL)]
        self._before_greeting = False
        self._scan_from = 0
        return True


def _skip_line_ends(buffer: bytearray, start: int) -> int:
    """The first position at or after ``start`` that is not a CR or LF."""
    size = len(buffer)
    while start < size and buffer[start] in _LINE_END_BYTES:
        start += 1
    return start


class UnsafeActionError(ValueError):
    """An action header would carry a line break (it ends a header) or NUL (it cuts the
    value short in Asterisk's C strings); nothing of the action was sent.

    The message names the action and the header, never the value (it may be a secret or
    a caller's number)."""

    def __init__(self, action: str, header: str) -> None:
        super().__init__(
            f"refused to send AMI action {action!r}: header {header!r} contains a line break (CR/LF) or NUL, "
            "which would add headers or actions of its own"
        )
        self.action = action
        self.header = header


def check_action(fields: Mapping[str, Any]) -> None:
    """Raise :class:`UnsafeActionError` unless every header name and value is one line.

    A value with ``\\r\\n`` in it is how ``Secret: x\\r\\n\\r\\nAction: Originate...``
    turns one action into two; a list value (``Variable``) is checked item by item.
    Names are shown with ``repr``, so a line break in one is visible, never acted on.
    """
    action = str(next((value for name, value in fields.items() if str(name).lower() == "action"), "?"))
    for name, value in fields.items():
        items = value if isinstance(value, (list, tuple)) else (value,)
        if _unsafe(str(name)) or any(_unsafe(str(item)) for item in items):
            raise UnsafeActionError(action, str(name))


def _unsafe(text: str) -> bool:
    return "\r" in text or "\n" in text or "\0" in text


def event_name_of(block: bytes) -> str | None:
    """The event name if ``block`` starts with ``Event:`` (as Asterisk's events do), without parsing it."""
    if block[:7] != EVENT_PREFIX:
        return None
    end = block.find(EOL)
    name = block[7:] if end < 0 else block[7:end]
    return name.decode("utf-8", "replace").strip()


def parse_block(block: bytes) -> tuple[dict[str, str], list[str]]:
    """Headers of one message, and the lines that are not ``Key: value`` (in order).

    For a ``Response: Follows`` those lines are the command output; anywhere else they
    are garbage the caller reports.  A line ``Key:`` (no space, nothing after) is a
    header with an empty value.
    """
    text = block.decode("utf-8", "replace")
    headers: dict[str, str] = {}
    others: list[str] = []
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":") and line[:-1].strip():
                key, value = line[:-1], ""
            else:
                if line:
                    others.append(line)
                continue
        if not key or key != key.strip():
            others.append(line)
            continue
        previous = headers.get(key)
        headers[key] = value if previous is None else previous + "\n" + value
    return headers, others
