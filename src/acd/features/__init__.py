"""Features of the engine, each one package: what it keeps, what it does, what it answers.

* ``callbacks``: a waiting caller's callback that keeps the caller's place (the request
  store in SQLite, the service that queues, retries and settles it); the dispatcher
  places the calls (``acd.dispatch.callback_calls``);
* ``waiting``: what a waiting caller hears (position and estimated-wait announcements)
  and the callback offer's dialogue;
* ``recordings``: the calls' recordings on disk (file per call, duration, retention).

A feature may import the core (``base``, ``ivr``, ``routing``, ``asterisk``, ``metrics``);
the engine's assembly (``acd.app``) wires it in.
"""
