"""The HTTP client behind ``acd queues``, ``acd agent ...``, ``acd top`` and friends.

Every failure becomes an :class:`ApiProblem` with one line of text and an exit code, so
no command ever shows a traceback:

====  ==========================================================================
code  meaning
====  ==========================================================================
0     done
1     the engine refused: unknown agent/call/queue (404), the router said no
      (409), an invalid value (422), or an unexpected answer
2     usage or settings-file error (as every ``acd`` command)
3     the engine is not reachable (not running, API disabled, wrong address)
4     authentication failed: no token, or the wrong one (401)
====  ==========================================================================

Where to connect: ``--url`` or ``http://<api.host>:<api.port>`` from the settings
(``acd.yaml`` / ``ACD_API_*``).  The token: ``--token``, else ``ACD_API_TOKEN`` (or the
settings file).  Prefer the environment: a command-line token is visible in ``ps``.
The token is sent only in the ``Authorization`` header and never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx

from acd.cli._api_options import default_url
from acd.cli._common import settings_or_exit

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4


class ApiProblem(Exception):
    """Something to tell the user in one line, with the exit code that says what kind."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class Unreachable(ApiProblem):
    exit_code = EXIT_UNREACHABLE


class AuthFailed(ApiProblem):
    exit_code = EXIT_AUTH


class ApiClient:
    """Synchronous, one connection kept alive (``acd top`` asks every second)."""

    def __init__(self, url: str, token: str | None, timeout_s: float = 5.0) -> None:
        _check_url(url)
        self.url = url.rstrip("/")
        self.has_token = bool(token)
        headers = {"Accept": "application/json", "User-Agent": "acd-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, trust_env=False)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ApiProblem(f"invalid API URL {url!r}: {exc}", EXIT_USAGE) from None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str) -> Any:
        return self._request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.InvalidURL as exc:
            raise ApiProblem(f"invalid API URL {self.url!r}: {exc}", EXIT_USAGE) from None
        except (httpx.TransportError, OSError) as exc:
            raise Unreachable(f"engine not reachable at {self.url} ({_reason(exc)}); is `acd run` running with ACD_API_TOKEN set?") from None
        if response.status_code == 401:
            if not self.has_token:
                raise AuthFailed("no API token: set ACD_API_TOKEN (or pass --token)")
            raise AuthFailed(f"the engine at {self.url} refused the API token (401); check ACD_API_TOKEN")
        try:
            payload = response.json()
        except ValueError:
            raise ApiProblem(f"unexpected answer from {self.url}{path}: HTTP {response.status_code} {response.headers.get('content-type', '')}".rstrip()) from None
        if response.status_code >= 400:
            raise ApiProblem(_describe_error(response.status_code, payload))
        return payload


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ApiProblem(f"invalid API URL {url!r}: {exc}", EXIT_USAGE) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiProblem(f"invalid API URL {url!r}: expected http://HOST:PORT", EXIT_USAGE)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text.splitlines()[0][:120]


def _describe_error(status: int, payload: Any) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("detail"), str):
        return payload["detail"]
    if status == 422 and isinstance(payload, dict) and isinstance(payload.get("detail"), list):
        parts = []
        for item in payload["detail"]:
            where = ".".join(str(part) for part in item.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return "invalid request: " + "; ".join(parts)
    return f"the engine answered HTTP {status}"


def client_from_args(args: argparse.Namespace) -> ApiClient | int:
    """The client the command line asks for, or exit code 2 after a settings problem.

    Raises :class:`ApiProblem` (exit 2) for a URL that cannot be used.
    """
    url = getattr(args, "url", None)
    token = getattr(args, "token", None)
    if url is None or token is None:
        settings = settings_or_exit(args)
        if isinstance(settings, int):
            return settings
        if url is None:
            url = default_url(settings.api.host, settings.api.port)
        if token is None and settings.api.token is not None:
            token = settings.api.token.get_secret_value()
    return ApiClient(url, token, getattr(args, "timeout", 5.0))


def run_command(args: argparse.Namespace, body: Any) -> int:
    """Open the client, run ``body(client)``, turn every :class:`ApiProblem` into its exit code."""
    try:
        client = client_from_args(args)
        if isinstance(client, int):
            return client
        with client:
            return int(body(client) or EXIT_OK)
    except ApiProblem as problem:
        print(f"acd: {problem}", file=sys.stderr)
        return problem.exit_code


def print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False))
