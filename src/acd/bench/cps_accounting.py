"""Accounting of one cps step: each call completed, clearly failed or lost (and how far it
got), from the three views in :mod:`acd.bench.call_views`; the step's rates, waits, CPU and
the breakdown printed when a step falls short.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from acd.bench.call_views import AstChannel, EngineCall, SippCall


# --------------------------------------------------------------------------- accounting


@dataclass
class StepRun:
    """What was measured while a step ran, before the three views are joined."""

    index: int
    rate: float
    planned: list[str]
    sipp: dict[str, SippCall]
    sipp_successful: int
    sipp_failed: int
    sipp_created: int | None
    sipp_exit: int
    sipp_logs: str
    wall_s: float
    engine_cpu_s: float
    asterisk_cpu_s: float | None
    sipp_callers_cpu_s: float
    sipp_agents_cpu_s: float | None
    calls_processed: int | None
    active_after: int | None
    asterisk_warnings: dict[str, int] = field(default_factory=dict)


# A step keeps up when agents answer at least this share of the offered rate.
KEEP_UP = 0.85

# The furthest point a lost call reached, in call order.
LOSS_STAGES = (
    "not answered by Asterisk (no final SIP answer)",
    "Asterisk channel, IVR not reached",
    "IVR reached, not queued",
    "queued, no agent rang",
    "agent rang, not answered",
    "agent answered, engine saw no completion",
    "engine completed, caller saw no BYE",
)


def loss_stage(sipp: SippCall, engine: EngineCall | None, asterisk: list[AstChannel]) -> str:
    seen = engine.seen if engine else Counter()
    if seen["call.completed"]:
        return LOSS_STAGES[6]
    if seen["call.answered"] or any(channel.agent_answered for channel in asterisk):
        return LOSS_STAGES[5]
    if seen["call.agent_ringing"]:
        return LOSS_STAGES[4]
    if seen["call.queued"] or any(channel.parked or channel.rung for channel in asterisk):
        return LOSS_STAGES[3]
    if seen["call.started"]:
        return LOSS_STAGES[2]
    if asterisk or sipp.final_code == 200:
        return LOSS_STAGES[1]
    return LOSS_STAGES[0]


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def account(run: StepRun, engine: dict[str, EngineCall], asterisk: dict[str, list[AstChannel]], processed_before: int | None) -> dict[str, Any]:
    """Join sipp's, the engine's and Asterisk's view of one step; every placed call ends in one bucket."""
    by_number: dict[str, SippCall] = {}
    for call in run.sipp.values():
        if call.caller and call.invite_ts is not None:
            by_number[call.caller] = call
    offered = [number for number in run.planned if number in by_number]
    completed = [number for number in offered if by_number[number].completed]
    failed = Counter(f"SIP {by_number[number].final_code}" for number in offered if by_number[number].clear_failure)
    lost = [number for number in offered if not by_number[number].completed and not by_number[number].clear_failure]
    stages = Counter(loss_stage(by_number[number], engine.get(number), asterisk.get(number, [])) for number in lost)

    def engine_count(kind: str) -> int:
        return sum(1 for number in run.planned if engine.get(number) and engine[number].seen[kind])

    channels = [channel for number in run.planned for channel in asterisk.get(number, [])]
    asterisk_view = {
        "caller_channels": len(channels),
        "calls_with_channel": sum(1 for number in run.planned if asterisk.get(number)),
        "parked": sum(1 for channel in channels if channel.parked),
        # reached an ACD queue: parked, or rung straight from the IVR (an agent was free)
        "queued": sum(1 for channel in channels if channel.parked or channel.rung),
        "agent_answered": sum(1 for channel in channels if channel.agent_answered),
        "hangup_causes": dict(Counter(channel.hangup_cause or "still up" for channel in channels)),
        "calls_processed": (run.calls_processed - processed_before) if run.calls_processed is not None and processed_before is not None else None,
        "active_channels_after": run.active_after,
        "log_warnings": run.asterisk_warnings,
    }
    engine_view = {
        "reached_ivr": engine_count("call.started"),
        "queued": engine_count("call.queued"),
        "rang_agent": engine_count("call.agent_ringing"),
        "answered": engine_count("call.answered"),
        "completed": engine_count("call.completed"),
        "abandoned": engine_count("call.abandoned"),
        "ivr_errors": engine_count("ivr.error"),
    }
    # Cross-check, call by call: a call sipp completed must be completed for the engine and
    # answered by an agent for Asterisk; a call sipp never placed must be unknown to both.
    disagreements: list[str] = []
    for number in run.planned:
        sipp_done = number in by_number and by_number[number].completed
        engine_done = bool(engine.get(number) and engine[number].seen["call.completed"] == 1)
        asterisk_done = sum(channel.agent_answered for channel in asterisk.get(number, [])) == 1
        if not sipp_done == engine_done == asterisk_done:
            disagreements.append(f"{number}: sipp completed={sipp_done}, engine completed={engine_done}, asterisk agent answered={asterisk_done}")
    # Asterisk's two counts: its CLI's "calls processed" and the caller channels its AMI showed
    # (a call refused before the dialplan, e.g. SIP 488, has neither).
    if asterisk_view["calls_processed"] is not None and asterisk_view["calls_processed"] != asterisk_view["calls_with_channel"]:
        disagreements.append(
            f"Asterisk's CLI processed {asterisk_view['calls_processed']} calls, its AMI showed {asterisk_view['calls_with_channel']} caller channels"
        )
    if run.sipp_successful != len(completed):
        disagreements.append(f"sipp counted {run.sipp_successful} successful calls, its message log shows {len(completed)} completed")
    if run.active_after:
        disagreements.append(f"{run.active_after} Asterisk channels still up after the step drained")

    invites = sorted(by_number[number].invite_ts for number in offered)  # type: ignore[type-var]
    achieved = (len(invites) - 1) / (invites[-1] - invites[0]) if len(invites) > 1 and invites[-1] > invites[0] else None
    setup_ms = [
        (engine[number].started_ts - by_number[number].invite_ts) * 1000  # type: ignore[operator]
        for number in offered if engine.get(number) and engine[number].started_ts is not None
    ]
    waits = [engine[number].waited_s for number in offered if engine.get(number) and engine[number].waited_s is not None]
    answers = sorted(engine[number].answered_ts for number in offered if engine.get(number) and engine[number].answered_ts is not None)  # type: ignore[type-var]
    served = (len(answers) - 1) / (answers[-1] - answers[0]) if len(answers) > 1 and answers[-1] > answers[0] else None
    # Zero lost calls alone is not "sustained": above what the agents can take, callers
    # just wait longer and longer.  Agents must answer about as fast as calls arrive.
    keeps_up = served is not None and achieved is not None and served >= KEEP_UP * achieved
    sustained = not lost and not failed and not disagreements and len(offered) == len(run.planned) and keeps_up
    return {
        "rate_cps": run.rate,
        "planned": len(run.planned),
        "offered": len(offered),
        "offered_cps_achieved": _rounded(achieved, 2),
        "answered_cps": _rounded(served, 2),
        "keeps_up": keeps_up,
        "completed": len(completed),
        "failed_clearly": sum(failed.values()),
        "failures": dict(failed),
        "lost": len(lost),
        "lost_at": dict(stages),
        "lost_sample": lost[:5],
        "sipp": {
            "created": run.sipp_created, "successful": run.sipp_successful, "failed": run.sipp_failed, "exit": run.sipp_exit,
            # An INVITE sent again means Asterisk did not answer it within SIP's 500 ms timer.
            "invite_retransmissions": sum(max(0, by_number[number].invites_sent - 1) for number in offered),
            "logs": run.sipp_logs,
        },
        "engine": engine_view,
        "asterisk": asterisk_view,
        "consistent": not disagreements,
        "disagreements": disagreements[:10],
        "sustained": sustained,
        "invite_to_ivr_ms": {"p50": _rounded(percentile(setup_ms, 0.5), 1), "p99": _rounded(percentile(setup_ms, 0.99), 1)},
        "queue_wait_s": {"p50": _rounded(percentile(waits, 0.5), 3), "p99": _rounded(percentile(waits, 0.99), 3)},
        "wall_s": round(run.wall_s, 1),
        "cpu_share": {
            "engine": round(run.engine_cpu_s / run.wall_s, 3) if run.wall_s else None,
            "asterisk": round(run.asterisk_cpu_s / run.wall_s, 3) if run.wall_s and run.asterisk_cpu_s is not None else None,
            "sipp_callers": round(run.sipp_callers_cpu_s / run.wall_s, 3) if run.wall_s else None,
            "sipp_agents": round(run.sipp_agents_cpu_s / run.wall_s, 3) if run.wall_s and run.sipp_agents_cpu_s is not None else None,
        },
    }


def breakdown(step: dict[str, Any], agent_bound_cps: float | None = None) -> str:
    """Why a step is not sustained, in one line naming which part failed."""
    reasons = []
    if step["offered"] < step["planned"]:
        reasons.append(f"sipp placed {step['offered']} of {step['planned']} calls")
    if step["lost"]:
        reasons.append(f"{step['lost']} lost (" + ", ".join(f"{count} {stage}" for stage, count in step["lost_at"].items()) + ")")
    if step["failures"]:
        reasons.append("clear failures: " + ", ".join(f"{count}x {code}" for code, count in step["failures"].items()))
    if step["sipp"]["failed"]:
        reasons.append(f"sipp counted {step['sipp']['failed']} failed")
    abnormal = {cause: count for cause, count in step["asterisk"]["hangup_causes"].items() if not cause.startswith("16 ")}
    if abnormal:
        reasons.append("Asterisk hangup causes: " + ", ".join(f"{count}x {cause}" for cause, count in abnormal.items()))
    if not step["keeps_up"] and step["answered_cps"] is not None:
        bound = f"the agent phones alone could take about {agent_bound_cps:g}; " if agent_bound_cps else ""
        reasons.append(
            f"calls answered at {step['answered_cps']:g} cps of {step['offered_cps_achieved']:g} offered "
            f"({bound}queue wait p99 {step['queue_wait_s']['p99']} s)"
        )
    if step["sipp"]["invite_retransmissions"]:
        reasons.append(f"sipp re-sent {step['sipp']['invite_retransmissions']} INVITEs Asterisk left unanswered for 500 ms or more")
    overload = {text: count for text, count in step["asterisk"]["log_warnings"].items() if "taskprocessor" in text.lower()}
    if overload:
        reasons.append("Asterisk log: " + "; ".join(f"{count}x {text}" for text, count in overload.items()))
    if step["engine"]["ivr_errors"]:
        reasons.append(f"engine IVR errors: {step['engine']['ivr_errors']}")
    if step["disagreements"]:
        more = len(step["disagreements"]) - 1
        reasons.append(f"views disagree: {step['disagreements'][0]}" + (f" (and {more} more)" if more else ""))
    return "; ".join(reasons) or "not sustained"
