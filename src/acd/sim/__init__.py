"""Capacity planning by simulation: Poisson callers and simulated agents around the real Router.

The simulator is the engine with Asterisk and people replaced by random numbers: the
same :class:`acd.routing.Router` makes every decision, the same ``outcome_to_event``
turns its outcomes into events, and the same ``compute_report`` turns those into the
table ``acd report`` prints.  So a planner can try a staffing level, an expansion rule
or an overflow before going live, and read the result in the units of the contract.

* :mod:`acd.sim.traffic` draws the calls (arrivals, handle times, patience) up front;
* :mod:`acd.sim.scenario` says what to simulate and checks it;
* :mod:`acd.sim.engine` is the discrete-event loop around the Router;
* :mod:`acd.sim.report` runs a scenario and computes its report;
* :mod:`acd.sim.parallel` runs independent replications (own seed, own Router) on
  several cores;
* :mod:`acd.sim.summary` and :mod:`acd.sim.progress` are for the command line.
"""

from acd.sim.engine import RunStats, run_simulation
from acd.sim.parallel import Replications, replication_scenarios, replication_seeds, run_replications
from acd.sim.report import ReportOptions, SimulationResult, simulate, simulate_report
from acd.sim.scenario import Scenario, ScenarioError, constant_load, forecast_load
from acd.sim.sinks import EventLog, OutcomeCounter
from acd.sim.traffic import CallPlan, HandleTimes, LoadSegment, QueueLoad, plan_calls

__all__ = [
    "CallPlan",
    "EventLog",
    "HandleTimes",
    "LoadSegment",
    "OutcomeCounter",
    "QueueLoad",
    "Replications",
    "ReportOptions",
    "RunStats",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "constant_load",
    "forecast_load",
    "plan_calls",
    "replication_scenarios",
    "replication_seeds",
    "run_replications",
    "run_simulation",
    "simulate",
    "simulate_report",
]
