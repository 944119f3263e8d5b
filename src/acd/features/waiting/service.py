"""What a waiting caller hears: periodic position and estimated-wait announcements.

The holding context (``acd-hold``) plays music and, every ``announce_every_s`` of the
queue's ``waiting`` policy, calls the FastAGI route ``announce``.  This module answers
it from the live router state: the caller's position among the callers waiting in the
queue, and an estimate from that position, the agents serving the queue now and the
queue's recent handle times (``acd.routing.estimate``).  Every estimate given is an event
(``wait.announcement``), so its accuracy against the wait that followed can be reported.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from acd.asterisk.agi_channel import AgiChannel
from acd.asterisk.fastagi import AgiSession
from acd.ivr.channel import CallerHungUp, PromptNotFound
from acd.metrics.estimates import estimate_accuracy  # noqa: F401  (re-exported: measured here, computed there)
from acd.base.events import Event
from acd.routing import Router
from acd.routing.estimate import HandleTimes, estimate_wait_s

log = logging.getLogger("acd.waiting")

NOT_SERVING = ("logged_out", "paused")


@dataclass
class WaitInfo:
    queue: str
    position: int
    agents_serving: int
    estimate_s: float | None
    waited_s: float


NUMBER_DIGITS = (8, 12)  # a Chilean number with or without the 56 country code


def valid_callback_number(number: str) -> bool:
    return number.isdigit() and NUMBER_DIGITS[0] <= len(number) <= NUMBER_DIGITS[1]


@dataclass
class WaitingService:
    router: Router
    emit: Callable[[Event], None]
    clock: Callable[[], float]
    callbacks: Any = None  # acd.features.callbacks.CallbackService, when callbacks are on
    _handle_times: dict[str, HandleTimes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reconfigure()

    def reconfigure(self) -> None:
        """Read the router's routing configuration again (at start and after a hot reload);
        handle times measured so far are kept."""
        config = self.router.config
        self._queues = {queue.name: queue for queue in config.queues}
        self._eligible = {queue.name: set(config.eligible_agents(queue)) for queue in config.queues}
        for name, queue in self._queues.items():
            self._handle_times.setdefault(name, HandleTimes(default_s=queue.waiting.default_handle_s))

    # --------------------------------------------------------------- event sink
    def append(self, event: Event) -> None:
        """Learn handle times from completed calls (talk + hold + the queue's wrap-up)."""
        if event.type == "call.completed" and event.queue in self._handle_times:
            queue = self._queues[event.queue]
            handle = float(event.data.get("talk_s", 0.0)) + float(event.data.get("hold_s", 0.0)) + queue.wrap_up_s
            self._handle_times[event.queue].add(handle)

    # --------------------------------------------------------------- state
    def announce_every_s(self, queue: str) -> float | None:
        config = self._queues.get(queue)
        return config.waiting.announce_every_s if config is not None else None

    def info(self, call_id: str) -> WaitInfo | None:
        call = self.router.call(call_id)
        if call is None or call.state != "waiting":
            return None
        ahead = [c for c in self.router.waiting(call.queue) if c.state == "waiting"]
        position = next((index + 1 for index, c in enumerate(ahead) if c.id == call_id), len(ahead))
        serving = sum(
            1
            for agent_id in self._eligible.get(call.queue, ())
            if (agent := self.router.agent(agent_id)) is not None and agent.state not in NOT_SERVING
        )
        handle = self._handle_times[call.queue].mean_s
        return WaitInfo(
            queue=call.queue,
            position=position,
            agents_serving=serving,
            estimate_s=estimate_wait_s(position, serving, handle),
            waited_s=max(0.0, self.clock() - call.wait_origin),
        )

    # --------------------------------------------------------------- AGI route
    async def announce_route(self, session: AgiSession) -> None:
        channel = AgiChannel(session)
        try:
            call_id = await channel.get_variable("ACD_CALL_ID") or channel.call_id
            info = self.info(call_id)
            if info is None:
                return
            policy = self._queues[info.queue].waiting
            self.emit(
                Event(
                    type="wait.announcement",
                    ts=self.clock(),
                    call_id=call_id,
                    queue=info.queue,
                    data={
                        "position": info.position,
                        "estimate_s": None if info.estimate_s is None else round(info.estimate_s, 1),
                        "waited_s": round(info.waited_s, 2),
                        "agents_serving": info.agents_serving,
                    },
                )
            )
            if policy.announce_position:
                await self._say_position(channel, info.position)
            if policy.announce_estimate and info.estimate_s is not None:
                await self._say_estimate(channel, info.estimate_s)
            offer_after = policy.callback_offer_after_s
            if (
                self.callbacks is not None
                and offer_after is not None
                and info.estimate_s is not None
                and info.estimate_s > offer_after
                and not self.callbacks.is_callback(call_id)
            ):
                await self._offer_callback(channel, call_id, info)
        except CallerHungUp:
            return

    async def _offer_callback(self, channel: AgiChannel, call_id: str, info: WaitInfo) -> None:
        """'Press 1 to be called back, keeping your place'; confirm the number; hang up."""
        key = None
        for prompt in ("vm-press", "digits/1", "vm-tocallback"):
            key = key or await channel.stream_file(prompt, "1")
        key = key or await channel.wait_for_digit(4)
        if key != "1":
            return
        number = await self._ask_number(channel)
        if number is None:
            await self._play(channel, "pbx-invalid")
            return  # back to the music, place unchanged
        call = self.router.call(call_id)
        if call is None or call.state != "waiting":
            return  # an agent took the call meanwhile
        await self.callbacks.request(call_id, info.queue, number, call.wait_origin)
        await self._play(channel, "auth-thankyou")
        await self._play(channel, "vm-goodbye")
        await channel.hangup()

    async def _ask_number(self, channel: AgiChannel) -> str | None:
        """Digits ending with #; a bare # keeps the caller id.  Two tries for a valid number.

        A key pressed during "invalid" starts the second try (nothing of it is lost)."""
        ahead: str | None = None
        for attempt in range(2):
            typed = ""
            key = ahead or await channel.stream_file("vm-enter-num-to-call", "0123456789#")
            key = key or await channel.stream_file("vm-then-pound", "0123456789#")
            while True:
                key = key or await channel.wait_for_digit(5)
                if key is None or key == "#":
                    break
                if key.isdigit():
                    typed += key
                key = None
            number = typed or "".join(ch for ch in channel.caller if ch.isdigit())
            if valid_callback_number(number):
                return number
            ahead = await self._play(channel, "pbx-invalid", "0123456789#" if attempt == 0 else "")
        return None

    async def _play(self, channel: AgiChannel, prompt: str, escape: str = "") -> str | None:
        """Play a prompt (a missing one is logged, not fatal); the key that interrupted it, if any."""
        try:
            return await channel.stream_file(prompt, escape)
        except PromptNotFound:
            log.warning("announcement prompt %s is missing", prompt)
            return None

    async def _say_position(self, channel: AgiChannel, position: int) -> None:
        if position == 1:
            await self._play(channel, "queue-youarenext")
            return
        await self._play(channel, "queue-thereare")
        await channel.exec("SayNumber", str(position - 1))
        await self._play(channel, "queue-callswaiting")

    async def _say_estimate(self, channel: AgiChannel, estimate_s: float) -> None:
        minutes = max(1, math.ceil(estimate_s / 60))
        await self._play(channel, "queue-holdtime")
        if estimate_s < 60:
            await self._play(channel, "queue-less-than")
        await channel.exec("SayNumber", str(minutes))
        await self._play(channel, "queue-minute" if minutes == 1 else "queue-minutes")
