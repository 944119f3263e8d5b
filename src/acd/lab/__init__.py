"""The lab's moving parts for tests, the demo and the benchmarks: the sipp harness
(:mod:`acd.lab.sipp`), a private mosquitto (:mod:`acd.lab.mosquitto`) and ``make demo``
(:mod:`acd.lab.demo`).  Asterisk itself is started by ``deploy/asterisk/lab.sh``
(:mod:`acd.checkout` finds it).  Benchmarks that use the lab live in :mod:`acd.bench`.
"""
