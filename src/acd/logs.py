"""Logging set-up: readable text by default, JSON lines for log shippers.

Secrets never reach a log: settings hold them as ``SecretStr`` and nothing here formats
settings objects.  Nor do callers' numbers: our own lines name calls by id, and every
line (panoramisk's AMI dump at debug level included: ``CallerIDNum``, an Originate's
dial string) passes :class:`MaskNumbers`, which masks any phone number left in it.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from acd.privacy import mask_numbers_in

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, plus any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class MaskNumbers(logging.Filter):
    """Masks phone numbers in the formatted message (``acd.privacy.mask_numbers_in``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers_in(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
        self.converter = time.localtime


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(MaskNumbers())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # panoramisk logs every protocol detail at INFO; keep it quiet unless debugging.
    logging.getLogger("panoramisk").setLevel(logging.WARNING if level != "debug" else logging.DEBUG)
    logging.getLogger("acd.ami.panoramisk").setLevel(logging.WARNING if level != "debug" else logging.DEBUG)
