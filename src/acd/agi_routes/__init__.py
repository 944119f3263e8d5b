"""FastAGI routes: one thin file per ``agi://host:port/<route>`` the dialplans call.

Like wazo-agid's handlers, each route only turns an AGI session into a call on a part
that does the work (the IVR runner, the agent feature codes, the waiting service); the
parts are handed in when the route is built, so a route imports no assembly and can be
read (and tested) alone.  :mod:`acd.app` builds them and registers them by name.

=============  ====================================  ==============================
route          dialled from                          does
=============  ====================================  ==============================
``ivr``        ``dialplans/acd.conf`` (callers)      the flow for the dialled number
``survey``     after the agent hangs up              the flow's ``after_call`` node
``announce``   the hold context, periodically        position / estimated wait
``agent``      ``[from-agents]`` feature codes       login, pause, unpause
=============  ====================================  ==============================
"""
