"""The console's link to the engine's API, for live state (queues, agents, calls).

The console is a separate process on purpose: reports and the login keep working while
the engine restarts.  So an engine that does not answer is an expected state, reported
as :class:`EngineUnavailable` (a page shows "engine unreachable"), never a 500.
"""

from __future__ import annotations

from typing import Any

import httpx


class EngineUnavailable(Exception):
    """The engine did not answer, refused the console's token, or answered with an error."""


class EngineClient:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout_s
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=self._timeout)
        return self._client

    async def get(self, path: str) -> Any:
        return await self._call("GET", path)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self._call("POST", path, body)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self._http().request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"engine not reachable at {self.base_url}: {type(exc).__name__}") from None
        if response.status_code == 401:
            raise EngineUnavailable("the engine refused the console's token (web.engine_token / ACD_API_TOKEN)")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise EngineUnavailable(f"engine answered {response.status_code}: {str(detail)[:200]}")
        return response.json()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
