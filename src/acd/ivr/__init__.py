"""IVR flows written in YAML by ops staff: validated, hot-reloaded, run over FastAGI.

Modules, one job each:

* ``schema``/``compile``/``loader`` — YAML file → checked, immutable ``model.Flow``;
* ``checks``/``validate`` — whole-set checks and the ``acd ivr validate`` entry points;
* ``registry`` — the flows in service, reloaded when files change;
* ``runner`` — walks a flow on a ``channel.Channel`` and emits events;
* ``testing`` — ``ScriptedChannel`` and friends for tests and benchmarks;
* ``render`` — tree and Graphviz views.

The flow language itself is documented in ``ivr_flows/README.md``.
"""
