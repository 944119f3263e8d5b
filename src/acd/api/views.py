"""Router and live-statistics state → API response models.

Only the router's public views (``agents()``, ``agent(id)``, ``call(id)``,
``waiting(queue)``) and :meth:`LiveStats.snapshot` are read, so the API shows exactly
what routing decides on and what the wallboard/MQTT figures say.  Everything here runs on
the engine's event loop, between two router events, so every answer is consistent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acd.api.models import (
    AgentCountsOut,
    AgentOut,
    AgentTotalsOut,
    CallOut,
    DispositionCodeOut,
    FiguresOut,
    QueueOut,
    SkillOut,
    StatsOut,
    WrapUpOut,
)
from acd.api.port import ami_state
from acd.api.tally import EventTally
from acd.metrics.live import AgentCounts, QueueStats, ratio_of
from acd.metrics.reports import Figures
from acd.routing.router import AgentView, CallView

if TYPE_CHECKING:
    from acd.api.port import ServedEngine

_TOTAL_FIELDS = {"available": "available", "reserved": "ringing", "on_call": "on_call", "wrap_up": "wrap_up", "paused": "paused"}


def figures_out(figures: Figures) -> FiguresOut:
    """The live figures (the report's, see ``acd.metrics.live``) with rates as 0-1 ratios."""
    return FiguresOut(
        offered=figures.offered,
        answered=figures.answered,
        answered_within=figures.answered_within,
        abandoned=figures.abandoned,
        short_abandons=figures.short_abandons,
        overflowed_out=figures.overflowed_out,
        timed_out=figures.timed_out,
        handled=figures.handled,
        sl_formula=figures.sl_formula,
        pending_within=figures.pending_within,
        service_level=ratio_of(figures.service_level),
        abandon_rate=ratio_of(figures.abandonment_rate),
        asa_s=figures.asa_s,
        aht_s=figures.aht_s,
    )


def under_target(interval: FiguresOut, day: FiguresOut, target: float) -> bool:
    """The current quarter hour decides; until one of its calls is decided, the day does.

    Calls are booked in the interval they were offered in, so just after 10:15 the new
    interval is empty even while a caller offered at 10:14 waits on: falling back to the
    day keeps that queue marked instead of clearing it for a quarter hour.
    """
    level = interval.service_level if interval.service_level is not None else day.service_level
    return level is not None and level < target


def counts_out(counts: AgentCounts) -> AgentCountsOut:
    return AgentCountsOut(
        logged_in=counts.logged_in,
        available=counts.available,
        ringing=counts.ringing,
        on_call=counts.on_call,
        wrap_up=counts.wrap_up,
        paused=counts.paused,
    )


def queue_out(queue: QueueStats, skills: list[str]) -> QueueOut:
    """One queue's live picture as the API and the retained MQTT stats publish it."""
    interval, day = figures_out(queue.interval), figures_out(queue.day)
    return QueueOut(
        name=queue.name,
        skills=skills,
        threshold_s=queue.threshold_s,
        target=queue.target,
        waiting=queue.waiting,
        longest_wait_s=queue.longest_waiting_s,
        agents=counts_out(queue.agents),
        interval=interval,
        day=day,
        under_target=under_target(interval, day, queue.target),
    )


class LiveViews:
    """Builds response models from one running (or merely assembled) :class:`~acd.api.port.ServedEngine`."""

    def __init__(self, app: "ServedEngine", tally: EventTally) -> None:
        self.app = app
        self.tally = tally
        config = app.router.config
        self._queue_skills = {queue.name: list(queue.skills) for queue in config.queues}
        self._agent_skills = {agent.id: dict(agent.skills) for agent in config.agents}
        self._agent_queues = {
            agent.id: [queue.name for queue in config.queues if agent.proficiency_for(queue.skills) is not None]
            for agent in config.agents
        }

    def now(self) -> float:
        return self.app.engine.clock()

    def picture(self) -> dict[str, Any]:
        """Stats, agents and calls at one instant, as plain data (the stream's snapshot).

        Each call carries the router's attached data under ``_attached`` (clear, with
        :class:`~acd.privacy.Personal` values marked) for the stream to mask or not.
        """
        now = self.now()
        calls = []
        for call in self.calls(now):
            view = self.app.router.call(call.id)
            calls.append(dict(call.model_dump(), _attached=dict(view.attached) if view is not None else {}))
        return {
            "stats": self.stats(now).model_dump(),
            "agents": [agent.model_dump() for agent in self.agents(now)],
            "calls": calls,
        }

    # ------------------------------------------------------------------ queues and skills
    def stats(self, now: float) -> StatsOut:
        snapshot = self.app.stats.snapshot(now)
        queues = [queue_out(queue, self._queue_skills.get(queue.name, [])) for queue in snapshot.queues.values()]
        skills = [
            SkillOut(
                name=skill.name,
                waiting=skill.waiting,
                longest_wait_s=skill.longest_waiting_s,
                agents=counts_out(skill.agents),
                interval=figures_out(skill.interval),
                day=figures_out(skill.day),
            )
            for skill in snapshot.skills.values()
        ]
        ami_up, ami_nodes = ami_state(self.app)
        return StatsOut(
            at=snapshot.at,
            site=self.app.engine.settings.site,
            timezone=snapshot.timezone,
            interval_start=snapshot.interval_start,
            interval_end=snapshot.interval_end,
            day_start=snapshot.day_start,
            day_end=snapshot.day_end,
            ami_connected=ami_up,
            ami_nodes=ami_nodes,
            queues=queues,
            skills=skills,
            agents=self.agent_totals(),
        )

    def agent_totals(self) -> AgentTotalsOut:
        counts = dict.fromkeys(("logged_out", *_TOTAL_FIELDS.values()), 0)
        for agent in self.app.router.agents():
            key = _TOTAL_FIELDS.get(agent.state, "logged_out")
            counts[key] += 1
        logged_in = sum(value for key, value in counts.items() if key != "logged_out")
        return AgentTotalsOut(logged_in=logged_in, **counts)

    # ------------------------------------------------------------------ agents
    def agents(self, now: float) -> list[AgentOut]:
        return [self._agent(view, now) for view in self.app.router.agents()]

    def agent(self, agent_id: str, now: float) -> AgentOut | None:
        view = self.app.router.agent(agent_id)
        return None if view is None else self._agent(view, now)

    def _agent(self, view: AgentView, now: float) -> AgentOut:
        return AgentOut(
            id=view.id,
            name=view.name,
            endpoint=view.endpoint,
            state=view.state,  # type: ignore[arg-type]
            reason=view.reason,
            since=view.since,
            in_state_s=max(0.0, now - view.since) if view.since > 0 else 0.0,  # 0: never logged in
            call_id=view.call_id,
            pending=view.pending,
            skills=self._agent_skills.get(view.id, {}),
            queues=self._agent_queues.get(view.id, []),
            handled_today=self.tally.handled_today(view.id, now),
            queue=view.queue,
            wrap_up=self._wrap_up(view),
        )

    def _wrap_up(self, view: AgentView) -> WrapUpOut | None:
        if view.state != "wrap_up" or view.call_id is None or view.queue is None:
            return None
        queue = self.app.router.config.queue(view.queue)
        if queue is None or queue.dispositions is None:
            return None
        codes = [DispositionCodeOut(code=c.code, label=c.label or c.code, outcome=c.outcome, digit=c.digit) for c in queue.dispositions.codes]
        return WrapUpOut(call_id=view.call_id, queue=view.queue, required=queue.dispositions.required, codes=codes)

    # ------------------------------------------------------------------ calls
    def calls(self, now: float) -> list[CallOut]:
        """Waiting calls queue by queue, head first; then calls ringing an agent or talking."""
        router = self.app.router
        result: list[CallOut] = []
        for queue in router.queue_names():
            for position, view in enumerate(router.waiting(queue), start=1):
                result.append(self._call(view, now, position))
        for agent in router.agents():
            if agent.call_id is None:
                continue
            busy = router.call(agent.call_id)
            if busy is not None and busy.state != "waiting":
                result.append(self._call(busy, now, None))
        return result

    def call(self, call_id: str, now: float) -> CallOut | None:
        view = self.app.router.call(call_id)
        if view is None:
            return None
        position = None
        if view.state == "waiting":
            ids = [waiting.id for waiting in self.app.router.waiting(view.queue)]
            position = ids.index(call_id) + 1 if call_id in ids else None
        return self._call(view, now, position)

    def _call(self, view: CallView, now: float, position: int | None) -> CallOut:
        talk_s = None
        if view.state == "connected" and view.agent_id is not None:
            agent = self.app.router.agent(view.agent_id)
            if agent is not None and agent.state == "on_call":
                talk_s = max(0.0, now - agent.since)
        return CallOut(
            id=view.id,
            queue=view.queue,
            skills=self._queue_skills.get(view.queue, []),
            state=view.state,  # type: ignore[arg-type]
            position=position,
            priority=view.priority,
            wait_origin=view.wait_origin,
            waited_s=max(0.0, now - view.wait_origin),
            in_queue_s=max(0.0, now - view.entered_queue_at),
            min_proficiency=view.min_proficiency,
            agent_id=view.agent_id,
            talk_s=talk_s,
        )
