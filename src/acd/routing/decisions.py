"""What the routing core hands back: decisions to carry out and facts to record.

The core never touches Asterisk or the event store.  Every call into :class:`Router`
returns a list of these plain dataclasses in the order they happened:

* a :class:`Decision` asks the engine to *do* something over AMI (ring an agent, stop
  ringing, take a call out of the queue);
* a :class:`Notification` reports a fact the engine turns into an
  :class:`acd.base.events.Event` — ``EVENT_TYPE`` names the event type, and the
  fields carry that event's ``data`` (``at`` becomes the event's ``ts``).

``at`` is the moment the fact happened, which for timer-driven outcomes is the timer's
deadline rather than the (slightly later) time ``advance`` was called, so the log does
not depend on timer jitter.

Outcomes are values: nobody changes one after the router made it.  They are slotted but
not ``frozen`` dataclasses all the same, because the router makes several per call and
a frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``, which
made building outcomes a quarter of the router's time (about 1 µs against 0.2 µs for
seven fields).  They keep value equality and stay hashable (``unsafe_hash``), as the
frozen ones were.

The router's hot path builds the common outcomes through :func:`positional_constructor`
rather than by calling the class: the very same objects, for less.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, TypeVar


class Outcome:
    """Anything the router returns."""

    __slots__ = ()
    EVENT_TYPE: ClassVar[str | None] = None


class Decision(Outcome):
    """Something the engine must carry out."""

    __slots__ = ()


class Notification(Outcome):
    """Something that happened, for the event log, the live figures and MQTT."""

    __slots__ = ()


# --- decisions -----------------------------------------------------------------------


@dataclass(slots=True, unsafe_hash=True)
class RingAgent(Decision):
    """Ring ``endpoint`` for ``call_id``; also the fact ``call.agent_ringing``.

    If the agent does not answer within ``timeout_s`` the router gives up by itself
    (``advance``) and returns :class:`CancelRing`.
    """

    EVENT_TYPE: ClassVar[str | None] = "call.agent_ringing"
    call_id: str
    agent_id: str
    endpoint: str
    queue: str
    waited_s: float
    timeout_s: float
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CancelRing(Decision):
    """Stop ringing ``endpoint``: ring timeout, caller gone, agent paused/logged out, or call moved."""

    call_id: str
    agent_id: str
    endpoint: str
    reason: str
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CallTimedOut(Decision):
    """The call reached its queue's ``max_wait_s`` with no overflow queue: it leaves routing.

    The engine sends it on to the dialplan's fallback (voicemail, callback offer, ...)
    and logs what it did with it (the event model has no "left the queue" type yet).
    """

    call_id: str
    queue: str
    waited_s: float
    at: float


# --- notifications -------------------------------------------------------------------


@dataclass(slots=True, unsafe_hash=True)
class CallQueued(Notification):
    EVENT_TYPE: ClassVar[str | None] = "call.queued"
    call_id: str
    queue: str
    priority: int
    skills: tuple[str, ...]
    wait_origin: float
    at: float
    attached: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, unsafe_hash=True)
class CallRequeued(Notification):
    """Back in the queue at its old place (same ``wait_origin``) after the agent could not take it."""

    EVENT_TYPE: ClassVar[str | None] = "call.requeued"
    call_id: str
    queue: str
    reason: str  # "ring-no-answer" | "agent-paused" | "agent-logout" | "resync" (found parked by a restarted engine)
    wait_origin: float
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CallOverflowed(Notification):
    """The call left ``from_queue`` for ``to_queue``; it is now offered there, keeping its wait."""

    EVENT_TYPE: ClassVar[str | None] = "call.overflowed"
    call_id: str
    from_queue: str
    to_queue: str
    waited_s: float
    reason: str  # "max-wait" | "expansion" | "supervisor"
    at: float


@dataclass(slots=True, unsafe_hash=True)
class RingNoAnswer(Notification):
    EVENT_TYPE: ClassVar[str | None] = "call.ring_no_answer"
    call_id: str
    agent_id: str
    queue: str
    rang_s: float
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CallAnswered(Notification):
    EVENT_TYPE: ClassVar[str | None] = "call.answered"
    call_id: str
    agent_id: str
    queue: str
    waited_s: float  # from wait_origin to the agent's answer
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CallAbandoned(Notification):
    EVENT_TYPE: ClassVar[str | None] = "call.abandoned"
    call_id: str
    queue: str
    waited_s: float
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CallCompleted(Notification):
    EVENT_TYPE: ClassVar[str | None] = "call.completed"
    call_id: str
    agent_id: str
    queue: str
    talk_s: float
    hold_s: float
    at: float


@dataclass(slots=True, unsafe_hash=True)
class AgentStateChanged(Notification):
    """``previous`` -> ``state``; ``call_id``/``queue`` name the call a ring, talk or wrap-up belongs to."""

    EVENT_TYPE: ClassVar[str | None] = "agent.state"
    agent_id: str
    state: str
    previous: str
    reason: str
    at: float
    call_id: str | None = None
    queue: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class CallDispositioned(Notification):
    """The agent coded the call it is wrapping up (``acd.routing.config.Dispositions``)."""

    EVENT_TYPE: ClassVar[str | None] = "call.disposition"
    call_id: str
    agent_id: str
    queue: str
    code: str
    result: str | None  # the code's ``outcome`` group (not named so: positional_constructor's local)
    by: str
    at: float


@dataclass(slots=True, unsafe_hash=True)
class Ignored(Notification):
    """An input that contradicts what the router knows; the engine logs it and carries on."""

    reason: str
    at: float
    call_id: str | None = None
    agent_id: str | None = None


# --- building outcomes on the hot path ------------------------------------------------

O = TypeVar("O", bound=Outcome)


def positional_constructor(cls: type[O]) -> Callable[..., O]:
    """A function taking every field of the slotted dataclass ``cls`` positionally and returning the same object ``cls(...)`` would.

    Calling a class goes from C (``type.__call__``) into the dataclass's ``__init__``,
    which starts a fresh run of the interpreter loop for every object; a plain function
    called from Python code does not, and allocating with ``object.__new__`` then filling
    the slots makes the same object: about an eighth less work per outcome, with about
    seven outcomes per routed call (``acd bench simulate``, callgrind).  The function is
    generated from ``dataclasses.fields(cls)``, so it sets every field there is, always
    in declaration order; defaults do not apply (every argument is required).
    """
    names = [item.name for item in fields(cls)]  # type: ignore[arg-type]
    stores = "".join(f"    outcome.{name} = {name}\n" for name in names)
    source = f"def new_{cls.__name__}({', '.join(names)}):\n    outcome = allocate(cls)\n{stores}    return outcome\n"
    namespace: dict[str, Any] = {"allocate": object.__new__, "cls": cls}
    exec(source, namespace)  # noqa: S102 - built from the dataclass's own field names
    function: Callable[..., O] = namespace[f"new_{cls.__name__}"]
    function.__doc__ = f"``{cls.__name__}(...)`` with every field given positionally (see positional_constructor)."
    return function
