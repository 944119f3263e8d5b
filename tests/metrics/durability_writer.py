"""Writer process for the kill -9 test (run as a script, not collected by pytest).

Appends events to a metrics store (SQLite or PostgreSQL) as fast as a busy engine would, and writes each one to a
plain journal file first (line-buffered: the lines survive SIGKILL in the page cache),
so the test knows exactly what was appended and when.  Prints "ready" once it has been
appending for ``run_s`` seconds, then keeps going until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
import time

from acd.base.events import Event
from acd.metrics.store_url import open_store


async def main(db: str, journal: str, interval_s: float, run_s: float) -> None:
    store = await open_store(db, batch_interval_s=interval_s)  # a file or a postgresql:// URL
    started = time.time()
    announced = False
    with open(journal, "w", buffering=1, encoding="utf-8") as log:
        n = 0
        while True:
            event = Event(type="call.queued", ts=time.time(), call_id=f"c{n}", queue="q", data={"n": n})
            log.write(f"{event.id} {event.ts!r}\n")
            store.append(event)
            n += 1
            if not announced and time.time() - started >= run_s:
                print("ready", flush=True)
                announced = True
            await asyncio.sleep(0.002)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
