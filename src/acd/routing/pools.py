"""Ordered pools with O(log n) insert and O(1) amortised removal, for the routing hot path.

A routing decision must not scan every agent or every waiting call.  Each pool is a
binary heap whose entries carry a *token*; an entry is live only while its owner still
holds that token.  Removing an owner from every pool it sits in is therefore just
"change the token" — the dead entries are dropped when they reach the top, and a pool
compacts itself when dead entries outnumber live ones, so memory stays bounded.

Agent pools (:class:`AgentPool`) are sorted deques rather than heaps (agents are freed in
time order, see the class) and go one step further: an agent sits in the pool of every
queue it serves, so making an agent busy would cost one stale count per pool.  Instead
nothing at all is recorded when an agent leaves; the router sweeps every agent pool
once every few times as many pushes as the pools have places in total (see
``MatchingCore._index_agents``), which bounds their memory the same way at O(1) amortised.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from heapq import heapify, heappop, heappush
from typing import Any, Generic, Protocol, TypeVar

COMPACT_MIN = 64  # stale entries a pool or the timers tolerate before compacting, at least


class Tokened(Protocol):
    token: int


class TimerOwner(Protocol):
    timer_token: int


T = TypeVar("T", bound=Tokened)
O = TypeVar("O", bound=TimerOwner)


class Pool(Generic[T]):
    """Heap of ``(*sort_key, token, owner)`` entries; the smallest live entry is the best."""

    __slots__ = ("heap", "stale")

    def __init__(self) -> None:
        self.heap: list[tuple[Any, ...]] = []
        self.stale = 0

    def push(self, key: tuple[Any, ...], owner: T) -> None:
        """Add ``owner`` under its current token; ``key`` must be unique among live entries."""
        heappush(self.heap, (*key, owner.token, owner))

    def top(self) -> tuple[Any, ...] | None:
        """The best live entry (the owner is ``entry[-1]``), or None."""
        heap = self.heap
        while heap:
            entry = heap[0]
            if entry[-1].token == entry[-2]:
                return entry
            heappop(heap)
            self.stale -= 1
        return None

    def forget_one(self) -> None:
        """Record that one entry just went stale (its owner changed token)."""
        self.stale += 1
        if self.stale > COMPACT_MIN and self.stale * 2 > len(self.heap):
            self.heap = [entry for entry in self.heap if entry[-1].token == entry[-2]]
            heapify(self.heap)
            self.stale = 0

    def live(self) -> list[T]:
        """Every live owner, best first (for views and invariant checks; O(n log n))."""
        return [entry[-1] for entry in sorted(entry for entry in self.heap if entry[-1].token == entry[-2])]

    def __len__(self) -> int:
        return len(self.heap) - self.stale


class AgentPool:
    """Available agents, longest idle first: a deque of ``(idle_since, token, agent)`` kept sorted, with lazy deletion.

    An entry is live while ``agent.token`` still equals its token.  Nothing is counted
    when one goes stale (the router only changes the agent's token), so there is no
    exact ``len``: :meth:`live` re-derives it, for views and invariant checks.  The deque
    itself is shared with the router's agent records (one entry tuple goes into all of an
    agent's pools at once), so :meth:`compact` rewrites it in place.

    Why a sorted deque and not a heap: an agent is almost always freed "now", later than
    (and with a newer token than) everything already in line, so it joins at the end
    with an append, and dropping a stale head is a ``popleft``; a heap paid a sift (a
    handful of tuple comparisons) for every stale head, and stale heads are most of what
    a routing decision drops.  The rare agent that goes back with an older
    ``idle_since`` (a ring cancelled through no fault of theirs keeps their place) is
    inserted in order (:meth:`add`), so the head is always the smallest entry, exactly
    what the heap's top was.
    """

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line: deque[tuple[float, int, Any]] = deque()

    def add(self, entry: tuple[float, int, Any]) -> None:
        """Put ``entry`` in its place (the router appends directly when it knows the place is the end)."""
        join_in_order(self.line, entry)

    def top(self) -> tuple[float, int, Any] | None:
        """The longest-idle live entry (the agent is ``entry[-1]``), or None; drops stale heads."""
        line = self.line
        while line:
            entry = line[0]
            if entry[2].token == entry[1]:
                return entry
            line.popleft()
        return None

    def compact(self) -> None:
        """Drop every stale entry (in place: the router holds the deque; order is kept)."""
        line = self.line
        live = [entry for entry in line if entry[2].token == entry[1]]
        line.clear()
        line.extend(live)

    def live(self) -> list[Any]:
        """Every live agent, longest idle first."""
        return [entry[2] for entry in self.line if entry[2].token == entry[1]]


def join_in_order(line: deque[tuple[float, int, Any]], entry: tuple[float, int, Any]) -> None:
    """Put ``entry`` in the sorted agent line ``line`` (at the end, unless it is older)."""
    if not line or line[-1] < entry:
        line.append(entry)
    else:
        insort(line, entry)


class Timers(Generic[O]):
    """One heap of deadlines for every call and agent; an owner has at most one live deadline.

    ``owner.timer_token`` is 0 when the owner has no deadline, else the token of its live entry.
    """

    __slots__ = ("heap", "stale", "seq")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, int, O]] = []
        self.stale = 0
        self.seq = 0  # the last token handed out (the router's ring, inline, hands out the next)

    def schedule(self, at: float, owner: O) -> None:
        """Set ``owner``'s only deadline to ``at``, replacing any earlier one."""
        if owner.timer_token:
            self.cancel(owner)
        self.seq = seq = self.seq + 1
        owner.timer_token = seq
        heappush(self.heap, (at, seq, seq, owner))

    def cancel(self, owner: O) -> None:
        if owner.timer_token:
            owner.timer_token = 0
            self.stale += 1
            if self.stale > COMPACT_MIN and self.stale * 2 > len(self.heap):
                self.compact()

    def compact(self) -> None:
        """Drop the cancelled entries, in place (``Router.deadline_heap`` hands the list out)."""
        heap = self.heap
        heap[:] = [entry for entry in heap if entry[3].timer_token == entry[2]]
        heapify(heap)
        self.stale = 0

    def next_at(self) -> float | None:
        """The earliest live deadline, or None (``Router.next_deadline``)."""
        heap = self.heap
        while heap:
            at, _, token, owner = heap[0]
            if owner.timer_token == token:
                return at
            if self.stale * 2 > len(heap):  # mostly cancelled: one pass beats popping them one by one
                self.compact()
            else:
                heappop(heap)
                self.stale -= 1
        return None

    def pop_due(self, now: float) -> tuple[float, O] | None:
        """The earliest live deadline at or before ``now`` (and forget it), or None."""
        heap = self.heap
        while heap and heap[0][0] <= now:
            at, _, token, owner = heappop(heap)
            if owner.timer_token == token:
                owner.timer_token = 0
                return at, owner
            self.stale -= 1
        return None

    def __len__(self) -> int:
        return len(self.heap) - self.stale
