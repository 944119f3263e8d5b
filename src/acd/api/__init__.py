"""The control API of a running engine, and the client the ``acd`` operations commands use.

Kept import-light on purpose: the CLI imports :mod:`acd.api.client` on every command, so
FastAPI and uvicorn are only imported by :mod:`acd.api.server` (inside the engine).

* :mod:`acd.api.server` — ``attach_api``: uvicorn inside the engine's event loop.
* :mod:`acd.api.http` — the FastAPI application (routes, auth, errors).
* :mod:`acd.api.models` — request and response bodies (the OpenAPI description).
* :mod:`acd.api.views` — router and live-statistics state → response models.
* :mod:`acd.api.tally` — event-bus sink: monotonic counters and calls handled today.
* :mod:`acd.api.lag` — event-loop lag probe (the engine's event-processing delay).
* :mod:`acd.api.prometheus` — ``/metrics`` text exposition.
* :mod:`acd.api.client`, :mod:`acd.api.tables`, :mod:`acd.api.wallboard` — CLI side.
"""
