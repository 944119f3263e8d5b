"""Benchmarks that prove (or disprove) the engine's speed claims on the machine they run on.

* :mod:`acd.bench.simulate` — simulator throughput, and how much of it is the router;
* :mod:`acd.bench.ami_ingest` — a recorded AMI stream replayed over TCP into the real
  client, call-control translation, dispatcher and router: events/s and latency;
* :mod:`acd.bench.record_ami` — how the recordings in ``deploy/ami-recordings/`` are made.
* :mod:`acd.bench.soak` — memory over a simulated day of calls through the in-process
  engine (virtual clock): growth per hour and per call after the warm-up.

Every result carries :func:`acd.bench.machine.machine_info` (the same block as
``acd bench routing``), because a figure without its machine means nothing.
"""
