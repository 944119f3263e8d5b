"""Hot standby: two ``acd run`` share one PostgreSQL; one leads, the other waits (issue 21).

* :mod:`acd.ha.lease` — the pure rules (who may take the lease, when a leader must stop
  acting), time passed in;
* :mod:`acd.ha.postgres_lease` — the lease in PostgreSQL: a session advisory lock (dies
  with the leader's connection, so a killed leader is replaced in a second) plus a lease
  row whose ``epoch`` is the fencing token every write batch is checked against;
* :mod:`acd.ha.standby` — ``acd run`` with ``ha.enabled``: wait as standby, take over
  (start the engine: AMI, resynchronisation from Asterisk), renew, and stop when fenced.
"""
