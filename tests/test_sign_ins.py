"""Agents' sign-ins survive an engine restart (acd.dispatch.sign_ins; issue 13).

The rule on made-up events, then the real engine (``build_app``, its SQLite event log)
started twice on one database: what the first engine's agents did, the second one
restores before any call is routed.
"""

from __future__ import annotations

import time
from pathlib import Path

from acd.base.events import Event
from acd.dispatch.sign_ins import SignIn, sign_ins_to_restore
from acd.metrics.store import EventStore
from tests.api.helpers import assemble, make_settings

NOW = 1_800_000_000.0
AGENTS = ["ana", "bruno", "carla", "diego", "eva", "fede"]


def _state(agent: str, state: str, reason: str, ago_s: float = 60.0) -> Event:
    return Event(type="agent.state", ts=NOW - ago_s, agent_id=agent, data={"state": state, "previous": "x", "reason": reason})


def test_each_agent_is_restored_from_its_last_state_by_the_rule() -> None:
    events = [
        _state("ana", "available", "login"),
        _state("bruno", "paused", "lunch"),
        _state("carla", "logged_out", "logout"),
        _state("diego", "paused", "phone-busy"),  # the phone's pause: the resync decides it again
        _state("eva", "on_call", "answered"),
        _state("fede", "available", "login", ago_s=50_000),  # yesterday's shift
        _state("ghost", "available", "login"),  # no longer in the routing file
    ]
    restored = sign_ins_to_restore(events, AGENTS, NOW, keep_s=43_200)
    assert restored == [SignIn("ana"), SignIn("bruno", paused="lunch"), SignIn("diego"), SignIn("eva")]


def test_only_the_latest_state_of_an_agent_counts_and_zero_keeps_nobody() -> None:
    events = [_state("ana", "logged_out", "logout", ago_s=10), _state("ana", "available", "login", ago_s=100)]
    assert sign_ins_to_restore(events, AGENTS, NOW, keep_s=3600) == []
    assert sign_ins_to_restore([_state("ana", "available", "login")], AGENTS, NOW, keep_s=0) == []


async def _run_engine_once(tmp_path: Path, act) -> dict[str, tuple[str, str]]:
    settings = make_settings(tmp_path, enabled=False)
    app, _control, _sink = assemble(settings)
    await app.engine.start()
    try:
        act(app)
        return {agent.id: (str(agent.state), str(getattr(agent, "reason", "") or "")) for agent in app.router.agents()}
    finally:
        await app.engine.stop(grace_s=1)


async def test_a_restarted_engine_signs_agents_in_again_as_they_were(tmp_path: Path) -> None:
    def first(app) -> None:
        app.dispatcher.agent_login("ana")
        app.dispatcher.agent_login("bruno")
        app.dispatcher.agent_pause("bruno", "lunch")
        app.dispatcher.agent_login("carla")
        app.dispatcher.agent_logout("carla")

    before = await _run_engine_once(tmp_path, first)
    after = await _run_engine_once(tmp_path, lambda app: None)
    assert {agent: state for agent, (state, _) in after.items()} == {agent: state for agent, (state, _) in before.items()}
    assert after["ana"][0] == "available" and after["bruno"][0] == "paused" and after["carla"][0] == "logged_out"
    async with await EventStore.open(tmp_path / "acd.sqlite", create=False) as store:
        pauses = [e for e in await store.events(start=time.time() - 600, types=["agent.state"]) if e.agent_id == "bruno" and e.data["state"] == "paused"]
    assert [e.data["reason"] for e in pauses] == ["lunch", "lunch"]  # paused again with the same reason
