"""Bearer token on every /api path, checked before anything else; /metrics open to loopback only."""

from __future__ import annotations

import httpx
import pytest

from acd.api.http import token_matches
from tests.api.conftest import InProcess
from tests.api.helpers import TOKEN


@pytest.mark.parametrize("token", [None, "wrong", TOKEN[:-1], TOKEN + "x", ""])
async def test_missing_or_wrong_token_is_401(inproc: InProcess, token: str | None) -> None:
    async with inproc.client(token=token) as client:
        for method, path in (("GET", "/api/queues"), ("GET", "/api/agents/ana"), ("POST", "/api/agents/ana/login"), ("GET", "/api/nowhere")):
            response = await client.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.json()["error"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert inproc.app.router.agent("ana").state == "logged_out"  # type: ignore[union-attr]


async def test_other_schemes_are_refused_and_bearer_is_case_insensitive(inproc: InProcess) -> None:
    async with inproc.client(token=None) as client:
        basic = await client.get("/api/queues", headers={"Authorization": f"Basic {TOKEN}"})
        bare = await client.get("/api/queues", headers={"Authorization": TOKEN})
        lower = await client.get("/api/queues", headers={"Authorization": f"bearer {TOKEN}"})
    assert basic.status_code == bare.status_code == 401
    assert lower.status_code == 200


async def test_the_token_is_checked_before_the_body(inproc: InProcess) -> None:
    async with inproc.client(token="wrong") as client:
        response = await client.post("/api/calls/c1/priority", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


async def test_openapi_is_public_and_declares_the_bearer_scheme(inproc: InProcess) -> None:
    async with inproc.client(token=None) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if path.startswith("/api/"):
                assert operation["security"] == [{"HTTPBearer": []}], path
                assert "401" in operation["responses"], path
    assert "/metrics" in spec["paths"] and "security" not in spec["paths"]["/metrics"]["get"]
    assert TOKEN not in response.text


async def test_no_interactive_docs_pages(inproc: InProcess) -> None:
    async with inproc.client() as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/redoc")).status_code == 404


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.8.9.10", "::1"])
async def test_metrics_are_open_to_loopback_peers(inproc: InProcess, peer: str) -> None:
    async with inproc.client(token=None, peer=peer) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")


@pytest.mark.parametrize("peer", ["10.0.0.5", "192.168.1.20", "testclient"])
async def test_metrics_need_the_token_from_other_peers(inproc: InProcess, peer: str) -> None:
    async with inproc.client(token=None, peer=peer) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    async with inproc.client(token=TOKEN, peer=peer) as authorised:
        assert (await authorised.get("/metrics")).status_code == 200


def test_token_matching() -> None:
    assert token_matches(f"Bearer {TOKEN}", TOKEN)
    assert token_matches(f"BEARER   {TOKEN}  ", TOKEN)
    assert not token_matches(None, TOKEN)
    assert not token_matches("Bearer ", TOKEN)
    assert not token_matches(f"Token {TOKEN}", TOKEN)
    assert not token_matches(f"Bearer {TOKEN}", "")


async def test_responses_never_contain_the_token(inproc: InProcess, api: httpx.AsyncClient) -> None:
    for path in ("/api/stats", "/api/agents", "/api/calls", "/api/health", "/metrics"):
        assert TOKEN not in (await api.get(path)).text
