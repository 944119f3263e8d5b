"""Run a flow on a call: walk the nodes, talk to the ``Channel``, emit events.

One ``FlowRunner`` serves every call; the state of a call lives in a ``_Call`` so calls
never share anything but the immutable ``Flow`` they were started with (a reload while a
call is in progress does not change what that call hears).

Guarantees, whatever the flow or the caller do:
* the caller hanging up ends the run cleanly (``call.ended`` with cause ``caller-hangup``);
* a missing prompt is retried once in the flow's fallback language, then skipped with an
  ``ivr.error``: a broken recording must not drop the call;
* a flow that runs more than ``max_steps`` nodes is ended with an ``ivr.error``;
* no exception escapes ``run``: an unexpected one is logged, emitted and the call hung up.

Events (``acd.base.events``; ``data`` always has flow, flow_version and node):
``ivr.node`` on entering a node (node_type); ``ivr.input`` for each input with kind
``valid``/``invalid``/``timeout`` (menu, collect, survey) or ``digits`` (a key that
interrupted a play, kept for the next input node) and the digits typed (a ``collect``
node's masked but for the last key: ``acd.privacy.mask_text``);
``ivr.error`` (message); ``survey.answer`` (question, score); ``call.transferred``
(target); ``call.ended`` with cause ``caller-hangup`` or ``ivr-hangup``.  A queue
hand-off emits nothing here: the ACD reports ``call.queued`` itself.

Personal data: the caller's number and every variable a ``collect`` node fills are
personal, and so is a ``set`` variable or an attached field whose template uses one (or
an attached field the queue node lists under ``personal``).  Attached personal fields
reach the ACD as ``acd.privacy.Personal`` values: clear for the agent, masked in events.

Typical use by the FastAGI handler::

    snapshot = registry.snapshot()              # one consistent set of flows for this call
    flow = snapshot.for_number(channel.dialed)
    result = await runner.run(flow, channel, flows=snapshot)
    # post-call survey, in the second AGI session:
    await runner.run(flow, channel, entry=flow.after_call, flows=snapshot)

Long on purpose: one node type per method of ``_Call``, all sharing the call's state and the
same hang-up and error rules; split by node type, each file would need the whole of
``_Call`` again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

from acd.ivr import model as m
from acd.ivr.channel import CallerHungUp, Channel, PromptNotFound
from acd.ivr.handoff import QueueHandoff, QueueRequest
from acd.ivr.rut import normalize_rut
from acd.ivr.templates import references, substitute
from acd.base.events import Event, internal_event
from acd.privacy import Personal, mask_text

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Emit = Callable[[Event], None]
FlowSource = Callable[[str], "m.Flow | None"] | Mapping[str, m.Flow]
Action = Literal["queue", "transfer", "hangup", "caller-hangup", "error"]

ALL_KEYS = m.DTMF_KEYS
SURVEY_SCORES = "12345"
DEFAULT_MAX_STEPS = 500

__all__ = ["FlowRunner", "QueueHandoff", "QueueRequest", "RunResult", "run"]


@dataclass
class RunResult:
    """How the IVR part of a call ended; the dialplan learns the same from ``ACD_ACTION``."""

    action: Action
    target: str | None  # queue name (or None for a skills-only queue) / transfer target
    variables: dict[str, str]
    last_node: str | None
    flow: str
    flow_version: str
    steps: int = 0
    error: str | None = None
    skills: tuple[str, ...] = ()

    @property
    def queue(self) -> str | None:
        return self.target if self.action == "queue" else None


@dataclass
class _Goto:
    flow: m.Flow
    node: str


class _FlowBroken(Exception):
    """The flow cannot go on for this call (runaway loop, goto to a flow that is gone)."""


class FlowRunner:
    """Runs flows; share one per process.  ``emit`` is called synchronously and must not block."""

    def __init__(
        self,
        *,
        emit: Emit | None = None,
        clock: Clock = time.time,
        handoff: QueueHandoff | None = None,
        flows: FlowSource | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.emit: Emit = emit if emit is not None else (lambda event: None)
        self.clock = clock
        self.handoff = handoff
        self.flows = flows
        self.max_steps = max_steps

    async def run(self, flow: m.Flow, channel: Channel, entry: str | None = None, *, flows: FlowSource | None = None) -> RunResult:
        """Run ``flow`` from ``entry`` (default: its entry node; the survey passes ``flow.after_call``).

        ``flows`` resolves ``goto`` targets; pass the registry snapshot the call started
        with so the whole call sees one consistent set.
        """
        call = _Call(self, flow, channel, flows if flows is not None else self.flows)
        return await call.run(entry or flow.entry)

    @staticmethod
    async def refuse(channel: Channel) -> None:
        """No flow answers this call: tell the dialplan to hang up (the runner owns ``ACD_ACTION``)."""
        try:
            await channel.set_variable("ACD_ACTION", "hangup")
        except CallerHungUp:
            pass


async def run(
    flow: m.Flow,
    channel: Channel,
    entry: str | None = None,
    *,
    emit: Emit | None = None,
    clock: Clock = time.time,
    handoff: QueueHandoff | None = None,
    flows: FlowSource | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> RunResult:
    """One-off convenience around ``FlowRunner(...).run(...)``."""
    runner = FlowRunner(emit=emit, clock=clock, handoff=handoff, flows=flows, max_steps=max_steps)
    return await runner.run(flow, channel, entry)


class _Call:
    def __init__(self, runner: FlowRunner, flow: m.Flow, channel: Channel, flows: FlowSource | None) -> None:
        self.runner = runner
        self.flow = flow
        self.channel = channel
        self.flows = flows
        self.node: str | None = None
        self.steps = 0
        self.pending = ""  # keys pressed during an interruptible play, for the next input node
        self.language = flow.language
        self.variables: dict[str, str] = {
            "caller": str(getattr(channel, "caller", "") or ""),
            "dialed": str(getattr(channel, "dialed", "") or ""),
            "call_id": str(getattr(channel, "call_id", "") or ""),
        }
        self.personal: set[str] = {"caller"}  # variables holding personal data (see the module notes)

    # -- events -------------------------------------------------------------------------

    def emit(self, event_type: str, /, **data: Any) -> None:
        payload = {"flow": self.flow.name, "flow_version": self.flow.version, "node": self.node, **data}
        try:
            event = internal_event(event_type, self.runner.clock(), self.channel.call_id, payload)
            self.runner.emit(event)
        except Exception:  # an event sink failing must not drop the call
            log.exception("could not emit %s for call %s", event_type, getattr(self.channel, "call_id", "?"))

    def input(self, kind: str, digits: str = "") -> None:
        """Log one input; collected numbers (RUTs, phone numbers) arrive here masked."""
        self.emit("ivr.input", kind=kind, digits=digits)

    def error(self, message: str) -> None:
        log.warning("call %s, flow %s, node %s: %s", self.channel.call_id, self.flow.name, self.node, message)
        self.emit("ivr.error", message=message)

    def result(self, action: Action, target: str | None = None, error: str | None = None, skills: tuple[str, ...] = ()) -> RunResult:
        return RunResult(
            action=action,
            target=target,
            variables=dict(self.variables),
            last_node=self.node,
            flow=self.flow.name,
            flow_version=self.flow.version,
            steps=self.steps,
            error=error,
            skills=skills,
        )

    # -- main loop ----------------------------------------------------------------------

    async def run(self, entry: str) -> RunResult:
        try:
            await self.channel.answer()
            await self.channel.set_language(self.language)
            return await self.walk(entry)
        except CallerHungUp:
            self.emit("call.ended", cause="caller-hangup")
            return self.result("caller-hangup")
        except _FlowBroken as exc:
            self.error(str(exc))
            return await self.end_with_error(str(exc))
        except Exception as exc:  # noqa: BLE001 - one broken call must not take the engine down
            log.exception("IVR failure on call %s (flow %s, node %s)", self.channel.call_id, self.flow.name, self.node)
            message = f"internal error: {type(exc).__name__}: {exc}"
            self.emit("ivr.error", message=message)
            return await self.end_with_error(message)

    async def end_with_error(self, message: str) -> RunResult:
        try:
            await self.channel.set_variable("ACD_ACTION", "hangup")
            await self.channel.hangup()
        except Exception:  # noqa: BLE001 - already failing; the caller may be gone too
            pass
        return self.result("error", error=message)

    async def walk(self, name: str) -> RunResult:
        while True:
            self.steps += 1
            if self.steps > self.runner.max_steps:
                raise _FlowBroken(f"runaway flow: more than {self.runner.max_steps} steps in one call")
            node = self.flow.nodes.get(name)
            self.node = name
            if node is None:  # only possible with a flow built in code
                raise _FlowBroken(f"no node named '{name}' in flow '{self.flow.name}'")
            self.emit("ivr.node", node_type=node.kind)
            outcome = await self.step(node)
            if isinstance(outcome, RunResult):
                return outcome
            if isinstance(outcome, _Goto):
                await self.switch_flow(outcome.flow)
                name = outcome.node
            else:
                name = outcome

    async def step(self, node: m.Node) -> str | _Goto | RunResult:
        if isinstance(node, m.PlayNode):
            return await self.do_play(node)
        if isinstance(node, m.MenuNode):
            return await self.do_menu(node)
        if isinstance(node, m.CollectNode):
            return await self.do_collect(node)
        if isinstance(node, m.ScheduleNode):
            state = node.schedule.state_at(self.runner.clock())
            return {"open": node.open, "closed": node.closed, "holiday": node.holiday}[state]
        if isinstance(node, m.BranchNode):
            return await self.do_branch(node)
        if isinstance(node, m.SetNode):
            for variable, template in node.variables:
                self.variables[variable] = substitute(template, self.variables)
                if self.uses_personal(template):
                    self.personal.add(variable)
                else:
                    self.personal.discard(variable)
            return node.next
        if isinstance(node, m.QueueNode):
            return await self.do_queue(node)
        if isinstance(node, m.TransferNode):
            return await self.do_transfer(node)
        if isinstance(node, m.MessageNode):
            await self.play_all(node.prompts)
            return await self.hang_up()
        if isinstance(node, m.SurveyNode):
            return await self.do_survey(node)
        if isinstance(node, m.GotoNode):
            return self.do_goto(node)
        return await self.hang_up()

    async def switch_flow(self, flow: m.Flow) -> None:
        self.flow = flow
        if flow.language != self.language:
            self.language = flow.language
            await self.channel.set_language(self.language)

    # -- prompts and keys ---------------------------------------------------------------

    async def play(self, prompt: str, escape: str = "") -> str | None:
        """Play one prompt; fall back to the flow's fallback language once when it is missing."""
        try:
            return await self.channel.stream_file(prompt, escape)
        except PromptNotFound:
            pass
        fallback = self.flow.fallback_language
        if fallback and fallback != self.language:
            await self.channel.set_language(fallback)
            try:
                return await self.channel.stream_file(prompt, escape)
            except PromptNotFound:
                pass
            finally:
                await self.channel.set_language(self.language)
        self.error(f"prompt '{prompt}' not found in language '{self.language}' nor '{fallback}'")
        return None

    async def play_all(self, prompts: m.Prompts) -> None:
        for prompt in prompts:
            await self.play(prompt)

    async def feedback(self, prompts: m.Prompts, *, retry_follows: bool) -> None:
        """Play an invalid/no-input prompt.  When another try follows, a key interrupts it and
        is kept as that try's first key: a caller who knows the option already presses it
        during "invalid option" and must not lose it (nor hear the menu again).  Before a
        fallback nothing waits for a key, so the prompt is played whole."""
        if not retry_follows:
            await self.play_all(prompts)
            return
        for prompt in prompts:
            key = await self.play(prompt, ALL_KEYS)
            if key:
                self.pending += key
                return

    async def ask(self, prompts: m.Prompts, timeout: float) -> str | None:
        """A key typed ahead, else one pressed during the prompts, else one within ``timeout``."""
        if self.pending:
            key, self.pending = self.pending[0], self.pending[1:]
            return key
        for prompt in prompts:
            key = await self.play(prompt, ALL_KEYS)
            if key:
                return key
        return await self.channel.wait_for_digit(timeout)

    # -- node types ---------------------------------------------------------------------

    async def do_play(self, node: m.PlayNode) -> str:
        for prompt in node.prompts:
            key = await self.play(prompt, ALL_KEYS if node.interruptible else "")
            if key:
                self.pending += key
                self.input("digits", key)
                break
        return node.next

    async def do_menu(self, node: m.MenuNode) -> str:
        for attempt in range(node.retries + 1):
            key = await self.ask(node.prompts, node.timeout)
            if key is None:
                self.input("timeout")
                feedback = node.no_input
            else:
                target = node.target_for(key)
                if target is not None:
                    self.input("valid", key)
                    return target
                self.input("invalid", key)
                feedback = node.invalid
            await self.feedback(feedback, retry_follows=attempt < node.retries)
        return node.fallback

    async def do_collect(self, node: m.CollectNode) -> str:
        for attempt in range(node.retries + 1):
            digits, pressed = await self.read_digits(node)
            if not pressed:
                self.input("timeout")
                feedback = node.no_input
            else:
                value = self.check_digits(node, digits)
                if value is not None:
                    self.input("valid", mask_text(digits))
                    self.variables[node.save_as] = value
                    self.personal.add(node.save_as)
                    return node.next
                self.input("invalid", mask_text(digits))
                feedback = node.invalid
            await self.feedback(feedback, retry_follows=attempt < node.retries)
        return node.fallback

    async def read_digits(self, node: m.CollectNode) -> tuple[str, bool]:
        """Digits typed (terminator excluded) and whether any key was pressed at all.

        The first key may interrupt the prompt; after it, keys are awaited for at most
        ``inter_digit_timeout`` each and ``total_timeout`` in all.
        """
        key = await self.ask(node.prompts, node.timeout)
        if key is None:
            return "", False
        started = self.runner.clock()
        digits = ""
        while key is not None and key != node.terminator:
            digits += key
            if len(digits) >= node.max_digits:
                break
            remaining = node.total_timeout - (self.runner.clock() - started)
            if remaining <= 0:
                break
            key = await self.channel.wait_for_digit(min(node.inter_digit_timeout, remaining))
        return digits, True

    @staticmethod
    def check_digits(node: m.CollectNode, digits: str) -> str | None:
        """The value to store, or None when the entry is not acceptable."""
        if not node.min_digits <= len(digits) <= node.max_digits:
            return None
        if node.validate == "numeric":
            return digits if digits.isdigit() and digits.isascii() else None
        if node.validate == "rut":
            return normalize_rut(digits)
        if node.validate == "regex":
            return digits if node.pattern is not None and node.pattern.fullmatch(digits) else None
        return digits

    async def do_branch(self, node: m.BranchNode) -> str:
        if node.on.startswith("channel:"):
            value = await self.channel.get_variable(node.on[len("channel:"):]) or ""
        else:
            value = self.variables.get(node.on, "")
        for case in node.cases:
            if case.matches(value):
                return case.next
        return node.default

    async def do_queue(self, node: m.QueueNode) -> str | RunResult:
        await self.play_all(node.prompts)
        request = QueueRequest(
            queue=node.queue,
            skills=node.skills,
            priority=node.priority,
            attached={name: self.attached_value(node, name, template) for name, template in node.attach},
            flow=self.flow.name,
            flow_version=self.flow.version,
        )
        handoff = self.runner.handoff
        # The labels and the next step go to Asterisk together where the channel can batch
        # writes (one AGI round trip instead of three); nothing reads them before the flow ends.
        batched = getattr(self.channel, "batched", None)
        handed_over = False
        try:
            async with batched() if batched is not None else contextlib.nullcontext():
                next_step = None
                if handoff is not None:
                    next_step = await handoff.enqueue(self.channel, request)
                    handed_over = True
                # Only the next step: the hand-off (the dispatcher) owns ACD_QUEUE and the other
                # labels of a waiting call (acd.channel_variables); writing the node's queue here
                # would blank the queue the dispatcher resolved from a skills-only node.
                await self.channel.set_variable("ACD_ACTION", next_step or "queue")
        except CallerHungUp:
            raise
        except Exception as exc:  # noqa: BLE001 - the ACD refusing a call must not drop it
            hand_off_failed = getattr(handoff, "hand_off_failed", None)
            if handed_over and hand_off_failed is not None:
                hand_off_failed(self.channel.call_id, f"hand-off not written: {type(exc).__name__}")
            self.error(f"queue hand-off failed: {type(exc).__name__}: {exc}")
            if node.fallback:
                return node.fallback
            return await self.hang_up()
        return self.result("queue", node.queue, skills=node.skills)

    def uses_personal(self, template: str) -> bool:
        return any(name in self.personal for name in references(template))

    def attached_value(self, node: m.QueueNode, name: str, template: str) -> str:
        """The field's value; a ``Personal`` one (masked in events) when it carries personal data."""
        value = substitute(template, self.variables)
        return Personal(value) if name in node.personal or self.uses_personal(template) else value

    async def do_transfer(self, node: m.TransferNode) -> RunResult:
        target = substitute(node.to, self.variables).strip()
        if not target:
            self.error(f"transfer target '{node.to}' is empty for this call")
            return await self.hang_up()
        await self.play_all(node.prompts)
        await self.channel.set_variable("ACD_ACTION", "transfer")
        await self.channel.set_variable("ACD_TARGET", target)
        self.emit("call.transferred", target=mask_text(target) if self.uses_personal(node.to) else target)  # e.g. a collected number
        return self.result("transfer", target)

    async def do_survey(self, node: m.SurveyNode) -> str:
        for prompt in node.prompts:
            key = await self.play(prompt, ALL_KEYS)
            if key:
                self.pending += key
                break
        for question in node.questions:
            for attempt in range(node.retries + 1):
                key = await self.ask(question.prompts, node.timeout)
                if key is not None and key in SURVEY_SCORES:
                    self.input("valid", key)
                    self.variables[f"survey_{question.name}"] = key
                    self.emit("survey.answer", question=question.name, score=int(key))
                    break
                self.input("timeout" if key is None else "invalid", key or "")
                await self.feedback(node.no_input if key is None else node.invalid, retry_follows=attempt < node.retries)
        return node.next

    def do_goto(self, node: m.GotoNode) -> _Goto:
        target = self.lookup(node.flow)
        if target is None:
            raise _FlowBroken(f"goto: flow '{node.flow}' is not loaded")
        entry = node.node or target.entry
        if entry not in target.nodes:
            raise _FlowBroken(f"goto: flow '{node.flow}' has no node '{entry}'")
        return _Goto(target, entry)

    def lookup(self, name: str) -> m.Flow | None:
        if name == self.flow.name:
            return self.flow
        source = self.flows
        if source is None:
            return None
        try:
            return source(name) if callable(source) else source.get(name)
        except KeyError:
            return None

    async def hang_up(self) -> RunResult:
        await self.channel.set_variable("ACD_ACTION", "hangup")
        await self.channel.hangup()
        self.emit("call.ended", cause="ivr-hangup")
        return self.result("hangup")
