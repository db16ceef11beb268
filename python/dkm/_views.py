"""The views dkm's verbs return, and the values a store receives: frozen dataclasses.

Built by the native module; import them from ``dkm``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, Optional, Tuple

from ._native import PublicIdentity

__all__ = [
    "ApprovalLevel",
    "AuditRecord",
    "AuditReport",
    "ChangeOutcome",
    "Commit",
    "EpochInfo",
    "Event",
    "IssuedGrant",
    "KeyId",
    "KeyListing",
    "LevelPolicy",
    "LevelTally",
    "Member",
    "Policy",
    "RequestView",
    "RingInfo",
    "RingWrite",
]


@dataclass(frozen=True)
class ApprovalLevel:
    """One approval level as an admin states it (for ``Host.set_approval_levels``): a name,
    how many of its approvers must approve, and the approvers (members with the role
    ``"approver"``)."""

    name: str
    quorum: int
    approvers: Tuple[PublicIdentity, ...]


@dataclass(frozen=True)
class LevelPolicy:
    """One approval level as the ring's policy holds it: the approvers by identity id."""

    name: str
    quorum: int
    approvers: Tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """A ring's rules. ``Policy()`` is the default; give ``Host.create_ring`` one with the
    values you need (durations as ``timedelta`` or whole seconds). Approval levels are set
    afterwards, with ``Host.set_approval_levels``."""

    interval: timedelta = timedelta(days=1)
    """How long one interval key seals (the rotation period)."""
    max_grant: timedelta = timedelta(hours=8)
    """The longest grant of elevated access."""
    max_lookback: timedelta = timedelta(days=30)
    """How far back a grant's scope may reach."""
    request_lifetime: timedelta = timedelta(hours=12)
    """How long a request stays open."""
    freshness_intervals: int = 2
    """Intervals a key holder's ``maintain`` keeps the ring fresh for (at most 64)."""
    approver_cooloff: timedelta = timedelta(days=1)
    """How long a newly added approver waits before counting."""
    levels: Tuple[LevelPolicy, ...] = field(default=())
    """The approval levels, in order (empty: no approval policy yet)."""


@dataclass(frozen=True)
class ChangeOutcome:
    """What a governance change did: ``outcome == "applied"`` (signed: the new governance
    ``version``; key holders must still run ``maintain``, ``pending``) or ``"requested"``
    (the policy needs a quorum: logged as change request ``request``)."""

    outcome: str
    version: Optional[int]
    pending: bool
    request: Optional[str]


@dataclass(frozen=True)
class Event:
    """One thing ``maintain`` (or a governance change) did: the audit action's name, the
    event in words, and its details."""

    action: str
    text: str
    version: Optional[int] = None
    subject: Optional[str] = None
    epoch: Optional[int] = None
    grant: Optional[str] = None


@dataclass(frozen=True)
class Member:
    """A member of a ring: role (``"admin"``, ``"service"``, ``"approver"``), identity id and
    public identity."""

    role: str
    id: str
    public: PublicIdentity


@dataclass(frozen=True)
class RingInfo:
    """A ring as an operator inspects it."""

    name: str
    id: str
    governance_version: int
    applied_version: Optional[int]
    """The governance version the key state carries out (``None``: no keys yet)."""
    members: Tuple[Member, ...]
    policy: Policy
    epochs: Tuple[Tuple[int, str], ...]
    """Each epoch and its state (``"live"``, ``"revoked"``, ``"destroyed"``)."""
    pending: bool
    """Governance changes wait for a key holder's ``maintain``."""
    warnings: Tuple[str, ...]
    """What an operator should fix, in words."""


@dataclass(frozen=True)
class KeyId:
    """The key a secret is sealed with: ring id, epoch, interval."""

    ring: str
    epoch: int
    interval: int


@dataclass(frozen=True)
class EpochInfo:
    """One epoch of a ring's keys."""

    epoch: int
    state: str
    start: datetime
    end: datetime
    interval: timedelta
    created: datetime
    retired: Optional[datetime]
    readable: Tuple[Tuple[int, int], ...]
    """The ranges of intervals its keys still open."""


@dataclass(frozen=True)
class KeyListing:
    """A ring's keys (never key material)."""

    ring: str
    current: Optional[KeyId]
    """The key a seal would use now (``None``: no keys yet, or the current epoch does not
    cover the time)."""
    write_time: Optional[datetime]
    fresh_until: Optional[datetime]
    stale: bool
    pending: bool
    bootstrap: bool
    """No approval policy yet: an admin alone may change anything."""
    kek_generation: Optional[int]
    epochs: Tuple[EpochInfo, ...]


@dataclass(frozen=True)
class LevelTally:
    """Where one approval level of a request stands."""

    level: str
    approvals: int
    quorum: int


@dataclass(frozen=True)
class RequestView:
    """A logged request (``kind``: ``"access"`` or ``"governance"``) and where it stands
    (``state``: pending, approved, denied, expired, granted, applied)."""

    id: str
    kind: str
    description: str
    author: str
    reason: str
    created: datetime
    expires: datetime
    state: str
    duration: Optional[timedelta]
    """An access request: how long the grant lasts."""
    since: Optional[datetime]
    """An access request scoped to secrets sealed since a time."""
    epochs: Optional[Tuple[int, ...]]
    """An access request scoped to closed epochs."""
    change: Optional[str]
    """A governance change: what it does, in words."""
    levels: Tuple[LevelTally, ...]


@dataclass(frozen=True)
class IssuedGrant:
    """An issued grant: ``id`` is what ``Host.unseal_with_grant`` takes; ``bytes`` the signed
    grant (public: its parts are wrapped to the requester)."""

    id: str
    request: str
    requester: str
    not_before: datetime
    not_after: datetime
    bytes: bytes = field(repr=False)


@dataclass(frozen=True)
class AuditRecord:
    """One record of a ring's audit chain; ``line`` is its JSON line as stored."""

    seq: int
    time: datetime
    action: str
    actor: str
    clock_override: bool
    epoch: Optional[int]
    grant: Optional[str]
    hash: str
    line: str = field(repr=False)

    def to_json(self) -> Dict[str, Any]:
        """The record's JSON form (SPEC §13) as a dict."""
        value: Dict[str, Any] = json.loads(self.line)
        return value


@dataclass(frozen=True)
class AuditReport:
    """An audit chain verified: how many records; the head when it verifies, else the first
    problem (index from 0 and fault name)."""

    records: int
    verified: bool
    head_seq: Optional[int]
    head_hash: Optional[str]
    problem_index: Optional[int]
    problem_fault: Optional[str]


@dataclass(frozen=True)
class RingWrite:
    """The ring bytes of a ``Commit``: ``expected_token`` is the token the ring must still
    have (``None``: it must not exist yet)."""

    expected_token: Optional[str]
    bytes: bytes = field(repr=False)


@dataclass(frozen=True)
class Commit:
    """One atomic write a store receives in ``commit(name, commit)``: check every
    expectation (the ring's token, each stream's line count, ``move_to`` free), then apply
    everything, or apply nothing and raise ``dkm.Conflict``.

    ``appends`` holds ``(stream, expected_line_count, lines)`` with stream ``"audit"`` or
    ``"requests"``; after the write, a ``move_to`` moves the ring and both streams to that
    name (a rename)."""

    ring: Optional[RingWrite]
    appends: Tuple[Tuple[str, int, Tuple[str, ...]], ...]
    move_to: Optional[str]
