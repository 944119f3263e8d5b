"""The control API of a running engine (HTTP only; its terminal client lives in :mod:`acd.cli`).

Kept import-light on purpose: FastAPI and uvicorn are only imported by
:mod:`acd.api.server` (inside the engine), so the console and the CLI can read
:mod:`acd.api.models` cheaply.

* :mod:`acd.api.port` — ``ServedEngine``: the narrow interface the API is served through.
* :mod:`acd.api.server` — ``attach_api``: uvicorn inside the engine's event loop.
* :mod:`acd.api.http` — the FastAPI application (routes, auth, errors).
* :mod:`acd.api.models` — request and response bodies (the OpenAPI description).
* :mod:`acd.api.views` — router and live-statistics state → response models.
* :mod:`acd.api.tally` — event-bus sink: monotonic counters and calls handled today.
* :mod:`acd.api.lag` — event-loop lag probe (the engine's event-processing delay).
* :mod:`acd.api.prometheus` — ``/metrics`` text exposition.
"""
