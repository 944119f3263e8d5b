"""The lease's rules, with no I/O: time is passed in, so every decision is unit-tested.

Two clocks, on purpose:

* the **database's** clock decides whether a lease row has expired (``expires_at`` is
  written by the server, compared with the server's ``now``), so the nodes' clocks never
  need to agree;
* the **leader's own monotonic** clock decides how long it may still act after its last
  renewal: counted from the moment it *sent* that renewal (earlier than when the server
  stamped it), less a safety margin, so the leader stops acting before the server's row
  expires and a standby may evict it.  A leader that was paused (SIGSTOP, a VM frozen, a
  long GC) finds on waking that its lease ran out, and refuses AMI actions at once; its
  event writes are refused by the store's fence (the epoch), whatever its clock says.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class LeaseError(ValueError):
    """Lease timings that cannot work (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class LeaseTerms:
    """How long a lease lasts without renewal, and how often the leader renews it."""

    lease_s: float
    renew_s: float

    def __post_init__(self) -> None:
        if not 0 < self.renew_s * 3 <= self.lease_s:
            raise LeaseError(f"ha.renew_s ({self.renew_s:g}) must be positive and at most a third of ha.lease_s ({self.lease_s:g})")

    @property
    def safety_s(self) -> float:
        """How much sooner than the server the leader counts its lease as gone (clock rates, scheduling)."""
        return min(1.0, self.lease_s / 10)


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """The lease row as read from the database, with the database's ``now``."""

    holder: str
    epoch: int
    expires_at: float
    db_now: float

    @property
    def expired(self) -> bool:
        return self.db_now >= self.expires_at


class Move(str, Enum):
    """What a standby does on one look at the lease."""

    TAKE = "take"  # the lock is free: take it and bump the epoch
    EVICT = "evict"  # the lock is held but the row ran out: the holder is stuck; end its session, then take
    WAIT = "wait"  # a live leader holds it


def standby_move(lock_free: bool, row: LeaseRow | None) -> Move:
    """A standby's decision: free lock → take; held lock with an expired row → evict; else wait."""
    if lock_free:
        return Move.TAKE
    if row is not None and row.expired:
        return Move.EVICT
    return Move.WAIT


@dataclass(slots=True)
class LeaderLease:
    """A leader's view of its own lease: its epoch and when it last renewed (monotonic)."""

    terms: LeaseTerms
    epoch: int
    renew_sent_at: float
    lost_reason: str | None = None

    def renewed(self, sent_at: float) -> None:
        """A renewal sent at ``sent_at`` was confirmed by the server (same epoch)."""
        if self.lost_reason is None:
            self.renew_sent_at = max(self.renew_sent_at, sent_at)

    def lost(self, reason: str) -> None:
        """The server says the lease is no longer ours (another epoch): final."""
        if self.lost_reason is None:
            self.lost_reason = reason

    def valid_until(self) -> float:
        return self.renew_sent_at + self.terms.lease_s - self.terms.safety_s

    def refusal(self, now: float) -> str | None:
        """Why this node may not act now (AMI actions), or None while the lease is surely ours."""
        if self.lost_reason is not None:
            return self.lost_reason
        if now >= self.valid_until():
            return f"lease (epoch {self.epoch}) not renewed for {now - self.renew_sent_at:.1f} s (ha.lease_s {self.terms.lease_s:g})"
        return None

    def renew_due(self, now: float) -> bool:
        return now >= self.renew_sent_at + self.terms.renew_s
