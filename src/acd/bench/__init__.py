"""Benchmarks that prove (or disprove) the engine's speed claims on the machine they run on.

* :mod:`acd.bench.simulate` — simulator throughput, and how much of it is the router;
* :mod:`acd.bench.ami_ingest` — a recorded AMI stream replayed over TCP into the real
  client, call-control translation, dispatcher and router: events/s and latency;
* :mod:`acd.bench.record_ami` — how the recordings in ``deploy/ami-recordings/`` are made.
* :mod:`acd.bench.soak` — memory over a simulated day of calls through the in-process
  engine (virtual clock): growth per hour and per call after the warm-up.
* :mod:`acd.bench.cps_bench` (with ``cps_lab``, ``cps_accounting``, ``call_views``) —
  calls per second through a real Asterisk lab, ``acd`` against app_queue;
* :mod:`acd.bench.faults` (with ``fault_views``) — the fault harness: AMI drops, freezes,
  kill -9 and restarts under sipp traffic, every call counted three ways;
* :mod:`acd.bench.dispatch_bench` — agent free → next INVITE on the lab;
* :mod:`acd.bench.wallboard`, :mod:`acd.bench.reports` — the console's figures.

One home for every benchmark: the lab ones import :mod:`acd.lab` (the sipp harness), never
the other way round.

Every result carries :func:`acd.bench.machine.machine_info` (the same block as
``acd bench routing``), because a figure without its machine means nothing.
"""
