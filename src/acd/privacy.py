"""Personal data in events and logs: one way to mask it, one way to name a caller.

Chilean law 19.628 treats a caller's number and what a caller types (a RUT) as personal
data.  The routing core and the agent need them in clear; the event log, MQTT, reports
and logs never do.  So, everywhere in the product:

* :func:`mask_text` — something a caller typed or a flow marked personal: its length
  and last character only (``*******5``), enough to tell a wrong check digit from a
  short entry;
* :func:`mask_number` — a phone number: its last 4 digits (``*******1234``), enough for
  a person to recognise a number they already have;
* :class:`Personal` — a value that is personal data: it *is* the clear string for
  whoever holds the call (router, agent), and is masked whenever it becomes an event;
* :class:`Pseudonyms` — a stable pseudonym for a number, HMAC-SHA256 under a per-install
  key, truncated to 16 hex characters.  The same number gives the same ``caller_ref``
  on every call, so repeat callers and ``acd recordings find --number N`` still work by
  computing the pseudonym of the number a person types; without the key nobody can go
  from the pseudonym back to the number by trying every phone number.

The key is ``ACD_PRIVACY_KEY`` when set, else a random key kept owner-only in
``privacy.key`` next to the event database (created by the engine on first start).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Any, Mapping

from acd.private_files import create_private_file

KEY_ENV = "ACD_PRIVACY_KEY"
KEY_FILE = "privacy.key"
REF_HEX = 16
_KEEP_NUMBER_DIGITS = 4
_SHORT_NUMBER = 8  # fewer digits (an extension, a short code): only the last one shows


def mask_text(value: str) -> str:
    """Length and last character only: ``12345678K`` → ``********K``."""
    return "*" * (len(value) - 1) + value[-1:] if value else ""


def mask_number(number: str) -> str:
    """A phone number with all but its last 4 digits starred (``+56 9 **** 1234`` style).

    Separators and a leading ``+`` stay as typed; a short number (an extension) keeps
    only its last digit; text that holds no digit at all is masked like typed text.
    """
    digits = sum(ch.isdigit() for ch in number)
    if not digits:
        return mask_text(number)
    keep = _KEEP_NUMBER_DIGITS if digits >= _SHORT_NUMBER else 1
    seen, out = 0, []
    for ch in number:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


# A phone number in free text: 8 to 15 digits (optional +) standing alone.  Call ids
# (``1700000000.123``), hex event ids and times are not: they touch a '.', a letter or ':'.
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.:+-])\+?\d{8,15}(?![\w.:])")


def mask_numbers_in(text: str) -> str:
    """Every phone number in ``text`` masked (:func:`mask_number`): the safety net for logs."""
    return _NUMBER_IN_TEXT.sub(lambda match: mask_number(match.group(0)), text)


def normalise_number(number: str) -> str:
    """The form pseudonyms are computed on: digits only, with Chile's country code.

    ``+56 9 1234 5678``, ``0056912345678`` and ``912345678`` (a national number as a
    trunk may present it) all become ``56912345678``, so one person is one caller
    whatever the trunk or the person typing the number wrote.
    """
    digits = "".join(ch for ch in number if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    if len(digits) == 9:
        digits = "56" + digits
    return digits


class Personal(str):
    """A string that is personal data: clear for the call, masked in every event.

    A ``str`` so the router, the call state and templates use it unchanged; events go
    through :func:`masked_data`, which turns it into :func:`mask_text`.
    """

    __slots__ = ()


def masked_value(value: Any) -> Any:
    if isinstance(value, Personal):
        return mask_text(str(value))
    if isinstance(value, dict):
        return masked_data(value)
    return value


def masked_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` for an event: every :class:`Personal` value masked (nested mappings too)."""
    return {key: masked_value(value) for key, value in data.items()}


class PrivacyKeyError(Exception):
    """The pseudonym key cannot be read or created; the message names the file."""


class Pseudonyms:
    """Masked numbers plus stable pseudonyms under one per-install key."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise PrivacyKeyError("the privacy key is empty")
        #: the key's HMAC state, keyed once: each pseudonym copies it instead of keying
        #: a new one (the same digest; measured on the parity bench's engine, keying
        #: ``hmac.digest`` afresh was ~2 % of its CPU per call, cold in OpenSSL each time)
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def __repr__(self) -> str:  # never the key
        return "Pseudonyms(key=<hidden>)"

    @classmethod
    def ephemeral(cls) -> "Pseudonyms":
        """A throw-away key: masking still happens, pseudonyms only match within this process."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def load(cls, folder: Path, *, create: bool, environ: Mapping[str, str] | None = None) -> "Pseudonyms":
        """``$ACD_PRIVACY_KEY``, else ``folder/privacy.key`` (made 0600 when ``create``).

        Readers (the CLI) pass ``create=False``: a new key there would silently give
        pseudonyms that match nothing in the log.
        """
        environ = os.environ if environ is None else environ
        if environ.get(KEY_ENV):
            return cls(environ[KEY_ENV].encode())
        path = folder / KEY_FILE
        try:
            if not path.exists():
                if not create:
                    raise PrivacyKeyError(f"{path}: no privacy key (the engine creates it on first start; or set ${KEY_ENV})")
                create_private_file(path, private=True)
                path.write_text(secrets.token_hex(32) + "\n")
            key = path.read_text().strip()
        except OSError as exc:
            raise PrivacyKeyError(f"{path}: cannot read or create the privacy key: {exc.strerror or exc}") from None
        if not key:
            raise PrivacyKeyError(f"{path}: the privacy key file is empty")
        return cls(key.encode())

    def ref(self, number: str) -> str:
        """The pseudonym of ``number`` ("" for no number)."""
        normal = normalise_number(number)
        if not normal:
            return ""
        mac = self._keyed.copy()
        mac.update(normal.encode())
        return mac.hexdigest()[:REF_HEX]

    def caller(self, number: str) -> dict[str, str]:
        """``call.started`` data for a caller: the masked number and its pseudonym."""
        return {"caller": mask_number(number), "caller_ref": self.ref(number)}

    def number(self, number: str) -> dict[str, str]:
        """Callback events' data for a number to call back: masked, with its pseudonym."""
        return {"number": mask_number(number), "number_ref": self.ref(number)}


__all__ = [
    "KEY_ENV",
    "Personal",
    "PrivacyKeyError",
    "Pseudonyms",
    "mask_number",
    "mask_numbers_in",
    "mask_text",
    "masked_data",
    "masked_value",
    "normalise_number",
]
