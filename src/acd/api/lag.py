"""Event-processing lag: how late the engine's event loop runs work that is already due.

Every AMI event, FastAGI command, router timer and API request is handled by callbacks
on one asyncio loop.  When an AMI event arrives, panoramisk queues it for the dispatcher
and the dispatcher's wake-up is scheduled on the loop; the event is handled after

    loop lag  (callbacks ahead of it in the ready queue)
  + backlog   (AMI events still queued before it, ``acd_ami_event_backlog``)

This probe measures the first term directly and continuously: it sleeps ``period_s`` and
records how much later than asked it woke up.  A healthy engine shows a few
milliseconds; a blocking call on the loop shows up here at once.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field


@dataclass
class LoopLagProbe:
    period_s: float = 0.25
    window_s: float = 60.0
    last_s: float = 0.0
    samples: int = 0
    _recent: collections.deque[tuple[float, float]] = field(default_factory=collections.deque)

    @property
    def max_s(self) -> float:
        """The largest lag seen within the last ``window_s`` seconds."""
        return max((lag for _, lag in self._recent), default=0.0)

    def record(self, at: float, lag_s: float) -> None:
        self.last_s = lag_s
        self.samples += 1
        self._recent.append((at, lag_s))
        while self._recent and self._recent[0][0] < at - self.window_s:
            self._recent.popleft()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.period_s
            await asyncio.sleep(self.period_s)
            woke = loop.time()
            self.record(woke, max(0.0, woke - asked))
