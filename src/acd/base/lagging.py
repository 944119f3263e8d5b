"""A reader's bounded queue of pushed messages, dropped rather than waited for when it lags.

The engine's ``/api/stream`` (one per console) and the console's live feed (one per
browser) push the same way: the producer never waits for a reader; a reader that falls
``size`` messages behind is marked dropped (its stream is then closed and it reconnects
to a fresh snapshot), and ``end`` discards what is queued so the end marker comes next.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

Message = TypeVar("Message")


class DropWhenLagging(Generic[Message]):
    def __init__(self, size: int, end_marker: Message) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(size)
        self.dropped = False
        self._end_marker = end_marker

    def offer(self, message: Message) -> bool:
        """False when the reader lags ``size`` messages behind: it is then dropped."""
        try:
            self.queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            self.dropped = True
            return False

    def end(self) -> None:
        """Stop this stream now: what is queued is dropped, the end comes next."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(self._end_marker)


__all__ = ["DropWhenLagging"]
