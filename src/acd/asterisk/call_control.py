"""Call control for the ACD over AMI: Asterisk events in, neutral facts out; actions out.

The dispatcher (``acd.dispatch``) thinks in calls, agents and decisions; this module is
where those meet Asterisk's names:

* a caller waiting for an agent sits in the ``acd-hold`` context (music on hold, keys
  still heard); on arrival the dialplan raises ``UserEvent(AcdParked)`` with the call id,
  queue and the moment its wait began;
* a caller whose agent is chosen at the IVR's hand-off goes to ``acd-agent`` by itself
  (:meth:`AsteriskCallControl.prepare_ring`: the extension travels in ``ACD_RING``);
* otherwise, to connect an agent we ``Redirect`` the caller to ``acd-agent``, extension
  ``<ring limit, 3 digits><agent id>`` (e.g. ``012ana``), whose ``Dial`` rings the device
  in the global ``ACD_AGENT_ENDPOINT_<agent id>``: ONE action per ring.  The per-agent
  globals (and ``ACD_RECORD_DIR``) are constants, set with ``Setvar`` in front of an
  agent's first ring on each AMI connection (pipelined: still one round trip);
* ``DialEnd`` with ``ANSWER`` means the agent took the call; ``UserEvent(AcdRingFailed)``
  means ringing failed and the caller is back in ``acd-hold``; ``Hangup`` ends a leg;
* a callback's ``Originate`` names its channel in advance (``ChannelId``, the *leg id*,
  also in its ``ActionID``), so every later fact about that leg (its answer, its failure,
  its hang-up) can be told apart from an earlier or later attempt of the same callback,
  and the leg can be hung up (AMI ``Hangup`` accepts a Uniqueid) while it still rings.

The call id is the caller channel's ``Uniqueid`` (the AGI ``agi_uniqueid``), which every
AMI event about that channel carries.

Long on purpose: every AMI name the ACD depends on (events read, actions sent, the
dialplan's contexts and variables) is in this one file, so a change on Asterisk's side
is one place to read; the facts it produces are the dispatcher's vocabulary.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Union

from acd.asterisk.ami import AmiClient, AmiError, AmiMessage

log = logging.getLogger("acd.call_control")


@dataclass(frozen=True)
class Parked:
    """A caller reached the holding context and waits for an agent."""

    call_id: str
    channel: str
    queue: str
    wait_origin: float | None
    priority: int | None


@dataclass(frozen=True)
class AgentLegStarted:
    call_id: str
    agent_channel: str
    agent_leg_id: str


@dataclass(frozen=True)
class AgentAnswered:
    call_id: str
    agent_channel: str


@dataclass(frozen=True)
class RingFailed:
    call_id: str
    status: str


@dataclass(frozen=True)
class LegHungUp:
    """A channel ended; ``leg_id`` is its Uniqueid (a caller's call id or an agent leg)."""

    leg_id: str
    channel: str
    cause: str


@dataclass(frozen=True)
class CallbackAgentUp:
    """The agent answered the callback's Originate; the customer is being dialled."""

    call_id: str
    agent_id: str
    agent_leg_id: str


@dataclass(frozen=True)
class CallbackCustomerUp:
    """Customer first: the customer answered the callback's Originate; the agent is rung next.

    ``leg_id``/``channel`` are the customer's channel, which from now on carries the call
    (``call_id`` stays the id of the original request).
    """

    call_id: str
    agent_id: str
    leg_id: str
    channel: str


@dataclass(frozen=True)
class CallbackResult:
    """The customer leg of a callback ended (``status`` is Dial's DIALSTATUS).

    ``leg_id`` is the agent-first Originate's channel (the agent's), which raised it."""

    call_id: str
    agent_id: str
    status: str
    leg_id: str = ""


@dataclass(frozen=True)
class OriginateFailed:
    """A callback's Originate did not reach an answer (no answer, busy, offline, hung up).

    Agent first that leg is the agent's; customer first, the customer's.  ``leg_id`` is
    the Originate's ``ChannelId`` ("" for an ActionID from an older engine)."""

    call_id: str
    reason: str
    leg_id: str = ""


@dataclass(frozen=True)
class DeviceState:
    """An agent phone's device state (``UNAVAILABLE`` when it cannot be reached)."""

    device: str
    state: str


@dataclass(frozen=True)
class WaitingKey:
    """A waiting caller pressed a key in the holding context."""

    call_id: str
    key: str


@dataclass(frozen=True)
class ChannelStatus:
    """One channel as AMI ``Status`` shows it, with the ACD's labels (resync).

    ``answered_at`` is ``ACD_ANSWERED_AT``, written on the caller's channel by the
    dialplan the moment an agent answers (``acd-agent-answered``), so an answer the engine
    did not see (AMI down, engine restarting) is still known, with its time.
    ``application`` is what the channel runs now: ``Dial`` for a caller ringing or talking
    to an agent, ``AppDial`` for the agent's own leg of that Dial.
    """

    uniqueid: str
    channel: str
    state: str
    context: str
    application: str
    linkedid: str
    call_id: str
    queue: str
    wait_origin: float | None
    priority: int | None
    agent_id: str
    answered_at: float | None
    #: "waiting" (parked in the holding context), "agent" (in Dial to an agent from the
    #: agent context: ringing, or talking when ``answered_at`` is set) or "" (anything else)
    role: str = ""


@dataclass(frozen=True)
class AsteriskPicture:
    """Everything resync needs, read at one moment: channels and agent phones' states."""

    channels: tuple[ChannelStatus, ...]
    devices: tuple[DeviceState, ...]


ControlEvent = Union[
    Parked, AgentLegStarted, AgentAnswered, RingFailed, LegHungUp, WaitingKey, CallbackAgentUp, CallbackResult, OriginateFailed,
    DeviceState, CallbackCustomerUp,
]

EVENT_NAMES = ("UserEvent", "DialBegin", "DialEnd", "Hangup", "OriginateResponse", "DeviceStateChange")
CALLBACK_ACTION_PREFIX = "acd-callback-"
#: Dial rings this much longer than the router's ring timeout, so ring-no-answer is
#: decided in one place (the router) and Dial only reports real failures (busy, offline).
DIAL_TIMEOUT_MARGIN_S = 2
#: ``DialStatus`` of ``AcdRingFailed`` when the agent's endpoint global was not set.
NO_ENDPOINT = "NOENDPOINT"
#: The global naming an agent's device: ``ACD_AGENT_ENDPOINT_<agent id>`` (acd.channel_variables).
ENDPOINT_GLOBAL_PREFIX = "ACD_AGENT_ENDPOINT_"
#: Digits of the ring limit at the head of the ring extension (``012ana``: 12 s, agent ana).
RING_LIMIT_DIGITS = 3


def endpoint_global(agent_id: str) -> str:
    return ENDPOINT_GLOBAL_PREFIX + agent_id


def ring_extension(agent_id: str, timeout_s: float) -> str:
    """``acd-agent``'s extension for one ring: Dial's limit (the router's time-out plus a
    margin: the router decides ring-no-answer, Dial is only the safety net), then the agent."""
    limit = min(10**RING_LIMIT_DIGITS - 1, max(1, int(round(timeout_s))) + DIAL_TIMEOUT_MARGIN_S)
    return f"{limit:0{RING_LIMIT_DIGITS}d}{agent_id}"


def agent_of_extension(exten: str) -> str:
    """The agent a ring extension names ("" for ``s`` or anything else)."""
    head, agent = exten[:RING_LIMIT_DIGITS], exten[RING_LIMIT_DIGITS:]
    return agent if head.isdigit() and len(head) == RING_LIMIT_DIGITS and agent else ""


def _float(value: str) -> float | None:
    """A finite number, or None (a label is data from a channel: never trusted as is)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def translate(message: AmiMessage) -> ControlEvent | None:
    """One AMI event → one control fact (or None when it is not about the ACD)."""
    name = message.name
    if name == "UserEvent":
        kind = message.get("UserEvent")
        if kind == "AcdParked":
            call_id = message.get("CallId") or message.get("Uniqueid")
            return Parked(
                call_id=call_id,
                channel=message.get("Channel"),
                queue=message.get("Queue"),
                wait_origin=_float(message.get("WaitOrigin")),
                # not "Priority": AMI's own header of that name is the dialplan step
                priority=_int(message.get("AcdPriority")),
            )
        if kind == "AcdRingFailed":
            return RingFailed(call_id=message.get("CallId") or message.get("Uniqueid"), status=message.get("DialStatus"))
        if kind == "AcdWaitingKey":
            return WaitingKey(call_id=message.get("Uniqueid"), key=message.get("Key"))
        if kind == "AcdCallbackAgentUp":
            return CallbackAgentUp(call_id=message.get("CallId"), agent_id=message.get("AgentId"), agent_leg_id=message.get("Uniqueid"))
        if kind == "AcdCallbackCustomerUp":
            return CallbackCustomerUp(
                call_id=message.get("CallId"), agent_id=message.get("AgentId"), leg_id=message.get("Uniqueid"), channel=message.get("Channel")
            )
        if kind == "AcdCallbackResult":
            return CallbackResult(
                call_id=message.get("CallId"), agent_id=message.get("AgentId"), status=message.get("DialStatus"), leg_id=message.get("Uniqueid")
            )
        return None
    if name == "OriginateResponse":
        action = message.get("ActionID")
        if action.startswith(CALLBACK_ACTION_PREFIX) and message.get("Response") != "Success":
            leg_id = action[len(CALLBACK_ACTION_PREFIX):]
            return OriginateFailed(call_id=leg_id.rsplit("-", 1)[0], reason=message.get("Reason") or "failed", leg_id=leg_id)
        return None
    if name == "DialBegin":
        return AgentLegStarted(call_id=message.get("Uniqueid"), agent_channel=message.get("DestChannel"), agent_leg_id=message.get("DestUniqueid"))
    if name == "DialEnd" and message.get("DialStatus") == "ANSWER":
        return AgentAnswered(call_id=message.get("Uniqueid"), agent_channel=message.get("DestChannel"))
    if name == "DeviceStateChange":
        return DeviceState(device=message.get("Device"), state=message.get("State"))
    if name == "Hangup":
        return LegHungUp(leg_id=message.get("Uniqueid"), channel=message.get("Channel"), cause=message.get("Cause-txt") or message.get("Cause"))
    return None


@dataclass
class AsteriskCallControl:
    """Carries out ACD decisions with AMI actions and reports what Asterisk did."""

    ami: AmiClient
    hold_context: str = "acd-hold"
    agent_context: str = "acd-agent"
    timeout_context: str = "acd-timeout"
    callback_context: str = "acd-callback"
    customer_first_context: str = "acd-callback-customer"
    #: where Asterisk writes recordings ("" = do not record)
    record_dir: str = ""
    #: caller ID a called-back customer sees ("Name <number>"; "" = the trunk's default)
    customer_caller_id: str = ""

    async def events(self) -> AsyncIterator[ControlEvent]:
        subscription = self.ami.subscribe(*EVENT_NAMES)
        try:
            async for message in subscription:
                fact = self._fact(message)
                if fact is not None:
                    yield fact
        finally:
            subscription.close()

    def listen(self, on_fact: Callable[[ControlEvent], None]) -> Callable[[], None]:
        """The facts of :meth:`events`, handed to ``on_fact`` as AMI reads them (no queue,
        no task: :meth:`AmiClient.listen`); returns the function that stops them."""

        def on_message(message: AmiMessage) -> None:
            fact = self._fact(message)
            if fact is not None:
                on_fact(fact)

        return self.ami.listen(*EVENT_NAMES, callback=on_message)

    def _fact(self, message: AmiMessage) -> ControlEvent | None:
        try:
            fact = translate(message)
        except Exception:  # a malformed event must never stop the stream
            log.exception("cannot read AMI event %s", message.name)
            return None
        if isinstance(fact, RingFailed) and fact.status == NO_ENDPOINT:
            # The dialplan found no ACD_AGENT_ENDPOINT_<id> (globals cleared by a
            # reload?): set them all again; the router re-offers the call meanwhile.
            log.warning("acd-agent found no endpoint global for call %s; setting them again", fact.call_id)
            self.forget_constants()
        return fact

    def __post_init__(self) -> None:
        #: (AMI connection number, {global name: value}) already set on that connection
        self._published: tuple[int, dict[str, str]] = (-1, {})

    def _constants_to_publish(self, agent_id: str, endpoint: str) -> dict[str, str]:
        """The globals a ring to ``agent_id`` needs that this AMI connection has not set yet.

        A new connection may be a restarted Asterisk (globals gone): everything is set again."""
        connection = self.ami.stats.connects
        if self._published[0] != connection:
            self._published = (connection, {})
        wanted = {endpoint_global(agent_id): endpoint, "ACD_RECORD_DIR": self.record_dir}
        return {name: value for name, value in wanted.items() if self._published[1].get(name) != value}

    def forget_constants(self) -> None:
        """Set every global again before the next ring (the dialplan found one missing)."""
        self._published = (-1, {})

    async def ring(self, channel: str, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> None:
        """Send the caller to ``acd-agent`` to ring ``agent_id``: one ``Redirect`` (the agent's
        first ring on a connection also sets its constants first, pipelined)."""
        exten = ring_extension(agent_id, timeout_s)
        constants = self._constants_to_publish(agent_id, endpoint)
        # All or nothing: raises AmiActionRefused before anything is sent.
        for name, value in constants.items():
            self.ami.check("Setvar", Variable=name, Value=value)
        self.ami.check("Redirect", Channel=channel, Context=self.agent_context, Exten=exten)
        published = self._published[1]
        published.update(constants)  # at once: a second ring meanwhile need not send them again
        setvars = [self.ami.action("Setvar", Variable=name, Value=value) for name, value in constants.items()]
        redirect = self.ami.action("Redirect", Channel=channel, Context=self.agent_context, Exten=exten, Priority=1)
        results = await asyncio.gather(*setvars, redirect, return_exceptions=True)
        if any(isinstance(result, BaseException) for result in results[:-1]):
            for name in constants:
                published.pop(name, None)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise AmiError(f"ringing {endpoint} for {call_id} failed: {errors[0]}")

    async def prepare_ring(self, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> str:
        """The ring extension for a caller still in its IVR session, which goes to
        ``acd-agent`` by itself (``ACD_ACTION=agent``, ``ACD_RING``): no ``Redirect``.

        Only the agent's constants, on its first ring on this connection, need an action
        (``Setvar``, awaited: the dialplan reads them as soon as the session ends)."""
        exten = ring_extension(agent_id, timeout_s)
        constants = self._constants_to_publish(agent_id, endpoint)
        for name, value in constants.items():  # all or nothing: AmiActionRefused before anything is sent
            self.ami.check("Setvar", Variable=name, Value=value)
        published = self._published[1]
        published.update(constants)
        results = await asyncio.gather(*(self.ami.action("Setvar", Variable=n, Value=v) for n, v in constants.items()), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            for name in constants:
                published.pop(name, None)
            raise AmiError(f"preparing {endpoint} for {call_id} failed: {errors[0]}")
        return exten

    async def originate_callback(
        self, call_id: str, agent_id: str, endpoint: str, customer_dial: str, number: str, ring_s: float, customer_ring_s: float, leg_id: str,
        labels: dict[str, str],
    ) -> None:
        """Agent first: ring the agent; when answered, ``acd-callback`` dials the customer.

        ``leg_id`` (``f"{call_id}-{suffix}"``) becomes the agent channel's Uniqueid.
        ``labels`` (the dispatcher's ``ACD_CALL_ID``) are set on the new channel as given."""
        variables = {
            **labels,
            "ACD_AGENT_ID": agent_id,
            "ACD_CALLBACK_NUMBER": number,
            "ACD_CUSTOMER_DIAL": customer_dial,
            "ACD_CUSTOMER_RING": str(max(1, int(round(customer_ring_s)))),
            "ACD_RECORD_DIR": self.record_dir,
            # acd-callback presents this to the customer instead of the agent leg's own
            # caller ID (which shows the agent whom they are calling back).
            "ACD_CUSTOMER_CALLERID": self.customer_caller_id,
        }
        await self._originate_leg(leg_id, endpoint, self.callback_context, ring_s, variables, CallerID=f"Devolver llamada <{number}>")

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
    ) -> None:
        """Customer first: dial the customer; once answered, ``acd-callback-customer`` rings the agent.

        ``leg_id`` (``f"{call_id}-{suffix}"``) becomes the customer channel's Uniqueid.

        ``labels`` (``ACD_QUEUE``, ``ACD_WAIT_ORIGIN``, ...) make the customer's channel look
        like a waiting caller's, so if the agent does not answer, ``acd-hold`` parks it at
        the head of the queue like any caller.  A customer who does not answer fails the
        Originate: ``OriginateResponse`` with ``Reason`` 3 (rang out) or 5 (busy).
        """
        variables = {
            **labels,
            "ACD_AGENT_ID": agent_id,
            "ACD_AGENT_ENDPOINT": endpoint,
            "ACD_RING_TIMEOUT": str(max(1, int(round(agent_ring_s))) + DIAL_TIMEOUT_MARGIN_S),
            "ACD_CALLBACK_NUMBER": number,
            "ACD_RECORD_DIR": self.record_dir,
        }
        caller_id = {"CallerID": self.customer_caller_id} if self.customer_caller_id else {}
        await self._originate_leg(leg_id, customer_dial, self.customer_first_context, customer_ring_s, variables, **caller_id)

    async def _originate_leg(
        self, leg_id: str, channel: str, context: str, ring_s: float, variables: dict[str, str], **extra: str
    ) -> None:
        """One callback leg: the channel gets ``leg_id`` as its Uniqueid and the action id, so
        every later event (answer, failure, hang-up) names the attempt it belongs to."""
        await self.ami.action(
            "Originate",
            ActionID=f"{CALLBACK_ACTION_PREFIX}{leg_id}",
            ChannelId=leg_id,
            Channel=channel,
            Context=context,
            Exten="s",
            Priority=1,
            Timeout=int(ring_s * 1000),
            Variable=[f"{name}={value}" for name, value in variables.items()],
            Async="true",
            **extra,
        )

    async def hang_up(self, channel: str) -> None:
        """Hang up a channel by name or Uniqueid (a callback leg whose ring was cancelled).

        Raises ``AmiError`` when Asterisk has no such channel (not created yet, or gone)."""
        await self.ami.action("Hangup", Channel=channel)

    async def return_to_hold(self, channel: str) -> None:
        await self.ami.action("Redirect", Channel=channel, Context=self.hold_context, Exten="s", Priority=1)

    async def end_waiting(self, channel: str) -> None:
        """Take a caller out of the queue (max wait with no overflow): goodbye and hang up."""
        await self.ami.action("Redirect", Channel=channel, Context=self.timeout_context, Exten="s", Priority=1)

    async def picture(self) -> AsteriskPicture:
        """Every channel with the ACD's labels, then every device's state (resync).

        Channels first: a phone that changes state in between shows its newer state, which
        the device rules follow anyway; a call is never seen after the phone it rings."""
        statuses = await self.ami.action_list("Status", Variables=",".join(PICTURE_VARIABLES))
        devices = await self.ami.action_list("DeviceStateList")
        return AsteriskPicture(
            channels=tuple(channel_status(status, self.hold_context, self.agent_context) for status in statuses),
            devices=tuple(DeviceState(device=item.get("Device"), state=item.get("State")) for item in devices),
        )


#: The labels resync reads from every channel (``acd.channel_variables`` names their writers).
PICTURE_VARIABLES = ("ACD_CALL_ID", "ACD_QUEUE", "ACD_WAIT_ORIGIN", "ACD_PRIORITY", "ACD_AGENT_ID", "ACD_ANSWERED_AT")


def channel_status(status: AmiMessage, hold_context: str = "acd-hold", agent_context: str = "acd-agent") -> ChannelStatus:
    """One ``Status`` event → :class:`ChannelStatus` (missing labels are empty / None)."""
    variables = status.variables()
    context, application = status.get("Context"), status.get("Application")
    call_id, queue, agent_id = variables.get("ACD_CALL_ID", ""), variables.get("ACD_QUEUE", ""), variables.get("ACD_AGENT_ID", "")
    if context == agent_context:
        # A caller's ring names the agent in its extension (a callback's customer-first leg,
        # in ``s``, carries ACD_AGENT_ID): the extension wins over an older leg's variable.
        agent_id = agent_of_extension(status.get("Exten")) or agent_id
    role = ""
    if context == hold_context and queue:
        role = "waiting"
    elif context == agent_context and application == "Dial" and call_id and queue and agent_id:
        role = "agent"
    return ChannelStatus(
        role=role,
        uniqueid=status.get("Uniqueid"),
        channel=status.get("Channel"),
        state=status.get("ChannelStateDesc") or "",
        context=context,
        application=application,
        linkedid=status.get("Linkedid"),
        call_id=call_id or (status.get("Uniqueid") if role == "waiting" else ""),
        queue=queue,
        wait_origin=_float(variables.get("ACD_WAIT_ORIGIN", "")),
        priority=_int(variables.get("ACD_PRIORITY", "")),
        agent_id=agent_id,
        answered_at=_float(variables.get("ACD_ANSWERED_AT", "")),
    )
