"""Schemathesis against the API's own OpenAPI description: every operation, valid and invalid input.

Each response must be documented (status code, content type, body schema), invalid input
must be refused with a 4xx, no request may cause a 5xx, and an operation that declares
the bearer scheme must refuse a request without it.  The engine is served for real
(uvicorn on a loopback port, its router on its own loop); examples are bounded so the
whole run stays short.

Schemathesis' pytest integration (``from_fixture``) does not run under pytest 9, so the
operations are driven with its documented strategy API and hypothesis directly.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.api.helpers import TOKEN, EngineThread, park

EXAMPLES_PER_MODE = 12


@pytest.fixture
def api_schema(engine: EngineThread) -> schemathesis.BaseSchema:
    """The served engine with agents and calls to find."""

    def populate() -> None:
        engine.app.dispatcher.agent_login("diego")
        park(engine.app, "c1", "general", waited_s=30)  # rings diego
        park(engine.app, "c2", "proveedores", waited_s=3)

    engine.call(populate)
    return schemathesis.openapi.from_url(f"{engine.url}/openapi.json")


def operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


def test_the_description_lists_every_endpoint(api_schema: schemathesis.BaseSchema) -> None:
    labels = {operation.label for operation in operations(api_schema)}
    assert labels == {
        "GET /api/health", "GET /api/stats", "GET /api/queues", "GET /api/queues/{name}", "GET /api/skills",
        "GET /api/agents", "GET /api/agents/{agent_id}", "GET /api/calls", "GET /api/calls/{call_id}",
        "POST /api/agents/{agent_id}/login", "POST /api/agents/{agent_id}/logout", "POST /api/agents/{agent_id}/pause",
        "POST /api/agents/{agent_id}/unpause", "POST /api/agents/{agent_id}/monitor", "POST /api/agents/{agent_id}/disposition", "POST /api/calls/{call_id}/priority", "POST /api/calls/{call_id}/move",
        "POST /api/routing/reload", "GET /metrics",
    }


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_operation_conforms(api_schema: schemathesis.BaseSchema, mode: GenerationMode) -> None:
    checked = 0
    for operation in operations(api_schema):
        has_input = bool(list(operation.iter_parameters())) or bool(operation.body)
        if mode is GenerationMode.NEGATIVE and not has_input:
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

        conforms()
        checked += 1
    assert checked >= (17 if mode is GenerationMode.POSITIVE else 9)
