"""Feature codes from an agent's phone: the router decides, the agent hears the result."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from acd.features.agent_phone import PROMPTS, AgentPhoneCodes, endpoint_of
from acd.asterisk.agent_lamps import lamp_device, lamp_state
from acd.ivr.channel import CallerHungUp
from acd.routing.config import RoutingConfig
from acd.routing.router import Router

CONFIG = RoutingConfig.model_validate(
    {
        "skills": ["general"],
        "queues": [
            {"name": "general", "skills": ["general"], "wrap_up_s": 30,
             "dispositions": {"codes": [{"code": "venta", "digit": 1}, {"code": "consulta", "digit": 2, "outcome": "resuelto"}]}},
        ],
        "agents": [
            {"id": "ana", "name": "Ana", "endpoint": "PJSIP/agent1", "skills": {"general": 5}},
            {"id": "bruno", "name": "Bruno", "endpoint": "PJSIP/agent2", "skills": {"general": 5}, "pin": "4321"},
        ],
        "pause_reasons": {1: "almuerzo", 2: "capacitacion"},
    }
)


@dataclass
class Phone:
    channel_name: str
    keys: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    hang_up_after: int | None = None

    async def answer(self) -> None:
        pass

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        self.heard.append(prompt)
        if self.hang_up_after is not None and len(self.heard) > self.hang_up_after:
            raise CallerHungUp("gone")
        return self.keys.pop(0) if escape_digits and self.keys else None

    async def wait_for_digit(self, timeout_s: float) -> str | None:
        return self.keys.pop(0) if self.keys else None


class RouterActions:
    """The real pure router behind the dispatcher's four agent methods."""

    def __init__(self) -> None:
        self.router = Router(CONFIG)
        self.now = 1000.0

    def agent_login(self, agent_id):
        return self.router.agent_login(self.now, agent_id)

    def agent_logout(self, agent_id, reason="logout"):
        return self.router.agent_logout(self.now, agent_id, reason)

    def agent_pause(self, agent_id, reason="pause"):
        return self.router.agent_pause(self.now, agent_id, reason)

    def agent_unpause(self, agent_id):
        return self.router.agent_unpause(self.now, agent_id)

    def disposition(self, agent_id, code, call_id=None, by="agent"):
        return self.router.disposition(self.now, agent_id, code, call_id, by)

    def wrap_up_queue(self, agent_id):
        view = self.router.agent(agent_id)
        return view.queue if view is not None and view.state == "wrap_up" else None

    def state(self, agent_id):
        view = self.router.agent(agent_id)
        return None if view is None else str(view.state)


@pytest.fixture
def actions() -> RouterActions:
    return RouterActions()


def codes(actions: RouterActions) -> AgentPhoneCodes:
    return AgentPhoneCodes(config=lambda: CONFIG, actions=actions, state_of=actions.state)


async def test_the_toggle_logs_the_phones_agent_in_then_out(actions) -> None:
    phone = Phone("PJSIP/agent1-0000002a")
    assert await codes(actions).handle(phone, ("toggle",)) == "login"
    assert actions.state("ana") == "available" and phone.heard == [PROMPTS["login"]]
    assert await codes(actions).handle(Phone("PJSIP/agent1-0000002b"), ("toggle",)) == "logout"
    assert actions.state("ana") == "logged_out"


async def test_a_reason_digit_pauses_with_the_routing_files_reason_and_an_unknown_one_is_refused(actions) -> None:
    await codes(actions).handle(Phone("PJSIP/agent1-1"), ("login",))
    assert await codes(actions).handle(Phone("PJSIP/agent1-2"), ("pause", "7")) == "refused"
    assert actions.state("ana") == "available"
    assert await codes(actions).handle(Phone("PJSIP/agent1-3"), ("pause", "1")) == "pause"
    view = actions.router.agent("ana")
    assert str(view.state) == "paused" and view.reason == "almuerzo"
    assert await codes(actions).handle(Phone("PJSIP/agent1-4"), ("unpause",)) == "unpause"
    assert actions.state("ana") == "available"


async def test_star48_codes_the_call_in_wrap_up_with_the_digits_disposition_and_ends_the_wrap_up(actions) -> None:
    router = actions.router
    await codes(actions).handle(Phone("PJSIP/agent1-1"), ("login",))
    assert await codes(actions).handle(Phone("PJSIP/agent1-2"), ("disposition", "2")) == "refused"  # not in wrap-up
    router.call_arrived(actions.now, "c1", "general")
    router.agent_answered(actions.now + 1, "ana", "c1")
    router.call_completed(actions.now + 60, "c1")
    actions.now += 61
    assert actions.state("ana") == "wrap_up"
    assert await codes(actions).handle(Phone("PJSIP/agent1-3"), ("disposition", "9")) == "refused"  # no such digit
    assert actions.state("ana") == "wrap_up"
    phone = Phone("PJSIP/agent1-4")
    assert await codes(actions).handle(phone, ("disposition", "2")) == "disposition"
    assert actions.state("ana") == "available" and phone.heard == [PROMPTS["disposition"]]


async def test_pausing_a_logged_out_agent_is_refused_with_the_error_tone(actions) -> None:
    phone = Phone("PJSIP/agent1-5")
    assert await codes(actions).handle(phone, ("pause",)) == "refused"
    assert phone.heard == [PROMPTS["refused"]] and actions.state("ana") == "logged_out"


async def test_a_phone_that_is_no_agents_changes_nothing(actions) -> None:
    phone = Phone("PJSIP/caller-00000001")
    assert await codes(actions).handle(phone, ("toggle",)) == "unknown-phone"
    assert phone.heard == [PROMPTS["unknown_phone"]]
    assert all(str(view.state) == "logged_out" for view in actions.router.agents())


async def test_an_agent_with_a_pin_is_asked_for_it_and_three_wrong_tries_end_the_call(actions) -> None:
    right = Phone("PJSIP/agent2-1", keys=list("4321"))
    assert await codes(actions).handle(right, ("toggle",)) == "login"
    assert right.heard == [PROMPTS["pin"], PROMPTS["login"]]
    wrong = Phone("PJSIP/agent2-2", keys=list("1111" "2222" "3333"))
    assert await codes(actions).handle(wrong, ("toggle",)) == "wrong-pin"
    assert wrong.heard.count(PROMPTS["wrong_pin"]) == 3 and actions.state("bruno") == "available"


async def test_hanging_up_during_the_pin_leaves_the_agent_as_they_were(actions) -> None:
    phone = Phone("PJSIP/agent2-3", keys=["4"], hang_up_after=0)
    assert await codes(actions).handle(phone, ("toggle",)) == "hung-up"
    assert actions.state("bruno") == "logged_out"


def test_endpoints_and_lamps_are_read_and_written_only_from_safe_names() -> None:
    assert endpoint_of("PJSIP/agent1-0000002a") == "PJSIP/agent1"
    assert endpoint_of("Local/x@y-0001;2") == "Local/x@y"
    assert endpoint_of("garbage") is None
    assert lamp_device("ana") == "Custom:acd-ana"
    assert (lamp_state("logged_out"), lamp_state("paused"), lamp_state("on_call")) == ("UNAVAILABLE", "ONHOLD", "NOT_INUSE")
    for hostile in ("ana\r\nAction: Originate", "", "a b", "x)"):
        with pytest.raises(ValueError):
            lamp_device(hostile)


def test_a_bad_pause_reason_or_pin_in_the_routing_file_is_refused() -> None:
    from pydantic import ValidationError

    base = CONFIG.model_dump()
    with pytest.raises(ValidationError, match="one digit"):
        RoutingConfig.model_validate({**base, "pause_reasons": {12: "x"}})
    with pytest.raises(ValidationError):
        RoutingConfig.model_validate({**base, "agents": [{**base["agents"][0], "pin": "12"}]})


class FakeAmi:
    def __init__(self) -> None:
        self.connected = False
        self.sent: list[tuple[str, str]] = []

    async def action(self, name: str, **fields: str) -> dict:
        self.sent.append((fields["Variable"], fields["Value"]))
        return {}


async def test_lamps_are_all_written_at_login_then_only_on_login_logout_and_pause_changes() -> None:
    import asyncio

    from acd.asterisk.agent_lamps import AgentLamps
    from acd.base.events import Event

    ami = FakeAmi()
    lamps = AgentLamps(ami, lambda: [("ana", "logged_out"), ("bruno", "paused")])  # type: ignore[arg-type]
    await lamps.on_login()
    assert ami.sent == [("DEVICE_STATE(Custom:acd-ana)", "UNAVAILABLE"), ("DEVICE_STATE(Custom:acd-bruno)", "ONHOLD")]
    ami.connected = True
    ami.sent.clear()

    def state(agent: str, value: str) -> Event:
        return Event(type="agent.state", ts=1.0, agent_id=agent, data={"state": value})

    for value in ("available", "reserved", "on_call", "wrap_up", "available"):  # a call: the lamp stays "logged in"
        lamps.append(state("ana", value))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert ami.sent == [("DEVICE_STATE(Custom:acd-ana)", "NOT_INUSE")]
    lamps.append(state("ana\r\nAction: Originate", "paused"))  # never reaches AMI
    lamps.append(state("bruno", "available"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert ami.sent[1:] == [("DEVICE_STATE(Custom:acd-bruno)", "NOT_INUSE")]
    await lamps.close()
