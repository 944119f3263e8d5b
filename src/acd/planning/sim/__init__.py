"""Capacity planning by simulation: Poisson callers and simulated agents around the real Router.

The simulator is the engine with Asterisk and people replaced by random numbers: the
same :class:`acd.routing.Router` makes every decision, the same ``outcome_to_event``
turns its outcomes into events, and the same ``compute_report`` turns those into the
table ``acd report`` prints.  So a planner can try a staffing level, an expansion rule
or an overflow before going live, and read the result in the units of the contract.

* :mod:`acd.planning.sim.traffic` draws the calls (arrivals, handle times, patience) up front;
* :mod:`acd.planning.sim.scenario` says what to simulate and checks it;
* :mod:`acd.planning.sim.engine` is the discrete-event loop around the Router;
* :mod:`acd.planning.sim.report` runs a scenario and computes its report;
* :mod:`acd.planning.sim.parallel` runs independent replications (own seed, own Router) on
  several cores;
* :mod:`acd.planning.sim.summary` and :mod:`acd.planning.sim.progress` are for the command line.
"""

from acd.planning.sim.engine import RunStats, run_simulation
from acd.planning.sim.parallel import Replications, replication_scenarios, replication_seeds, run_replications
from acd.planning.sim.report import ReportOptions, SimulationResult, simulate, simulate_report
from acd.planning.sim.scenario import Scenario, ScenarioError, constant_load, forecast_load
from acd.planning.sim.sinks import EventLog, OutcomeCounter
from acd.planning.sim.traffic import CallPlan, HandleTimes, LoadSegment, QueueLoad, plan_calls

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
