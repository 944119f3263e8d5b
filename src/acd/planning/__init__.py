"""Capacity planning: what the centre will need, computed before it is needed.

* ``erlang`` — Erlang B, C and A: agents needed for a service level (``acd staffing``);
* ``forecast`` — call forecasts per interval read from CSV;
* ``sim`` — the simulator: the real router with Poisson callers and simulated agents
  (``acd simulate``, ``acd bench simulate``).

Planning reads the record (``acd.metrics``) and drives the real router, but the engine
never imports it: a running ``acd run`` has no use for it (``tests/test_layering.py``).
"""
