"""Where the metrics store lives, as a URL: ``sqlite:…`` or ``postgresql://…``.

One setting (``store.url``) picks the back end, so a site moves from the embedded
SQLite file to a shared PostgreSQL by changing a line (and ``acd store migrate``):

* ``sqlite:///var/lib/acd/acd.sqlite`` (absolute), ``sqlite:var/acd.sqlite`` (relative to
  the settings file), or a plain path: the SQLite event log (``acd.metrics.store``);
* ``postgresql://user@host:5432/acd`` (or ``postgres://``): PostgreSQL
  (``acd.metrics.store_postgres``).  Options libpq knows in the query (``?sslmode=…``)
  are passed on; several hosts (``db1:5432,db2:5432`` with ``?target_session_attrs=read-write``)
  are tried in order.

Why passwords get care: a URL may carry one (``postgresql://acd:secret@db/acd``).  It
should come from the environment (``ACD_STORE_URL``, ``ACD_STORE_PASSWORD`` or libpq's
``PGPASSWORD``/``~/.pgpass``), and whatever the URL holds, every message, log line and
error shows it through :func:`redact` (``postgresql://acd:***@db/acd``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

from acd.metrics.store import StoreError

if TYPE_CHECKING:
    from acd.metrics.store_interface import MetricsStore

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_PG_SCHEMES = ("postgresql", "postgres")


class StoreUrlError(StoreError):
    """The store URL cannot be used; the message says why (never the password)."""


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A parsed store URL: ``kind`` is ``sqlite`` (``path``) or ``postgresql`` (``dsn``)."""

    kind: str
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)  # may hold the password: never in a repr

    def __str__(self) -> str:
        """What messages show: the file, or the URL with its password masked."""
        return str(self.path) if self.kind == SQLITE else redact(self.dsn or "")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (and nothing else changed)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable store URL)"
    if parts.password is None and "password=" not in parts.query:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostinfo}"
    query = "&".join(
        f"{key}=***" if key == "password" else item
        for item in parts.query.split("&") if item
        for key in [item.partition("=")[0]]
    )
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def _check_ports(parts: SplitResult) -> None:
    """ValueError for a bad port; a PostgreSQL URL may list several hosts (``h1:5432,h2:5432``:
    libpq and asyncpg try them in order, ``?target_session_attrs=read-write`` picks the primary)."""
    hostinfo = parts.netloc.rpartition("@")[2]
    if "," not in hostinfo:
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return
    for host in hostinfo.split(","):
        name, colon, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if colon and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"port {port!r} of host {name!r} is not a port number")
        if not (name if colon else host):
            raise ValueError("an empty host in the host list")


def _looks_like_url(text: str) -> bool:
    scheme = text.partition(":")[0].lower()
    return ":" in text and (scheme in (SQLITE, *_PG_SCHEMES) or ("://" in text and len(scheme) > 1))


def parse_store_url(value: str | Path, *, base: Callable[[Path], Path] | None = None, password: str | None = None) -> StoreLocation:
    """The store at ``value``: a URL or a plain SQLite path; ``StoreUrlError`` with a one-line reason.

    ``base`` resolves a relative SQLite path (the settings' ``resolve``); ``password`` is
    used when the PostgreSQL URL has none (``ACD_STORE_PASSWORD``).
    """
    resolve = base or (lambda p: p)
    if isinstance(value, Path):
        return StoreLocation(SQLITE, path=resolve(value.expanduser()))
    text = value.strip()
    if not text:
        raise StoreUrlError("empty store URL: use sqlite:///path/to/acd.sqlite or postgresql://user@host/database")
    if not _looks_like_url(text):
        return StoreLocation(SQLITE, path=resolve(Path(text).expanduser()))
    try:
        parts = urlsplit(text)
        _check_ports(parts)
    except ValueError as exc:
        raise StoreUrlError(f"bad store URL {redact(text)}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == SQLITE:
        if parts.netloc not in ("", "localhost"):
            raise StoreUrlError(f"bad store URL {redact(text)}: an SQLite URL names a file on this machine, e.g. sqlite:///var/lib/acd/acd.sqlite")
        raw = unquote(parts.path)
        if not raw:
            raise StoreUrlError(f"bad store URL {text}: no file (sqlite:///absolute/path or sqlite:relative/path)")
        return StoreLocation(SQLITE, path=resolve(Path(raw).expanduser()))
    if scheme in _PG_SCHEMES:
        if not parts.hostname and "host=" not in parts.query:
            raise StoreUrlError(f"bad store URL {redact(text)}: no host (postgresql://user@host:5432/database)")
        database = unquote(parts.path.lstrip("/"))
        if not database or "/" in database:
            raise StoreUrlError(f"bad store URL {redact(text)}: name one database after the host (postgresql://user@host/acd)")
        if password and parts.password is None:
            userinfo, at, hostinfo = parts.netloc.rpartition("@")
            if not at:
                raise StoreUrlError(f"bad store URL {redact(text)}: a password needs a user (postgresql://user@host/database)")
            netloc = f"{userinfo}:{quote(password, safe='')}@{hostinfo}"
            text = urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        return StoreLocation(POSTGRESQL, dsn=text)
    raise StoreUrlError(f"unknown store URL scheme {scheme!r} in {redact(text)}: use sqlite:… or postgresql://…")


async def open_store(
    location: StoreLocation | str | Path, *, create: bool = True, batch_interval_s: float = 0.2, private: bool = True
) -> "MetricsStore":
    """Open the metrics store at ``location`` (either back end); ``StoreError`` with one line if it cannot."""
    if not isinstance(location, StoreLocation):
        location = parse_store_url(location)
    if location.kind == SQLITE:
        from acd.metrics.store import EventStore

        assert location.path is not None
        return await EventStore.open(location.path, create=create, batch_interval_s=batch_interval_s, private=private)
    from acd.metrics.store_postgres import PostgresEventStore

    assert location.dsn is not None
    return await PostgresEventStore.open(location.dsn, create=create, batch_interval_s=batch_interval_s)


def settings_location(settings: object) -> StoreLocation:
    """The store the settings name: ``store.url`` if set, else the SQLite file ``metrics.database``."""
    store = getattr(settings, "store", None)
    secret_url = getattr(store, "url", None) if store is not None else None
    url = secret_url.get_secret_value() if secret_url is not None else ""
    resolve = settings.resolve  # type: ignore[attr-defined]
    if url:
        secret = getattr(store, "password", None)
        password = secret.get_secret_value() if secret is not None else None
        return parse_store_url(url, base=resolve, password=password)
    return StoreLocation(SQLITE, path=resolve(settings.metrics.database))  # type: ignore[attr-defined]


__all__ = ["POSTGRESQL", "SQLITE", "StoreLocation", "StoreUrlError", "open_store", "parse_store_url", "redact", "settings_location"]
