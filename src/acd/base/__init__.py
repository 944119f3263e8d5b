"""What every package of ``acd`` shares, below all of them: the event model and the calendar.

``ivr`` writes events and checks business hours, ``routing`` checks callback hours,
``metrics`` stores and replays events and counts business hours for the SLA.  While these
lived inside one of the three (``metrics.events``, ``ivr.schedule``), the three imported
each other in a circle; here they import nothing of ``acd`` but
``yamlpos``, so every package can use them (``tests/test_layering.py``).

* ``events`` — the one event record every part writes and every report reads;
* ``schedule`` — business hours per weekday and open/closed/holiday decisions;
* ``holiday_calendar`` — the holidays, from the ``holidays`` library plus local changes.
"""
