"""The call-control interface the dispatcher drives, and the event-log view it reads on resync.

The dispatcher owns this interface; :class:`acd.asterisk.call_control.AsteriskCallControl`
implements it over AMI and ``acd.dispatch.testing.FakeCallControl`` in memory, so the dispatcher
runs the same against a live Asterisk, a recorded AMI stream or a test's script.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Protocol

from acd.asterisk.call_control import AsteriskPicture


class CallControl(Protocol):
    def events(self) -> Any: ...

    async def ring(self, channel: str, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> None: ...

    async def return_to_hold(self, channel: str) -> None: ...

    async def end_waiting(self, channel: str) -> None: ...

    async def picture(self) -> AsteriskPicture: ...

    async def originate_callback(
        self, call_id: str, agent_id: str, endpoint: str, customer_dial: str, number: str, ring_s: float, customer_ring_s: float, leg_id: str,
        labels: dict[str, str],
    ) -> None: ...

    async def originate_customer_first(
        self,
        call_id: str,
        agent_id: str,
        endpoint: str,
        customer_dial: str,
        number: str,
        agent_ring_s: float,
        customer_ring_s: float,
        leg_id: str,
        labels: dict[str, str],
    ) -> None: ...

    async def hang_up(self, channel: str) -> None: ...


#: What the event log already holds for some calls: call id -> event types (see
#: ``EventStore.recorded_types``); the engine passes the store's, tests a dict's.
History = Callable[[list[str]], Awaitable[Mapping[str, set[str]]]]


@dataclass
class AgentLeg:
    """An agent's channel in a call (from ``AgentLegStarted``, a callback's agent answer or
    resync): its hang-up completes the call it carries, if that agent still has it."""

    call_id: str
    agent_id: str
