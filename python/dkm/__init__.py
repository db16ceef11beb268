"""dkm: a Distributed Key Manager.

Secrets are sealed with the keys of a *ring*; only its key holders (service accounts) can
open them, keys roll over by themselves, and elevated access for a person is requested,
approved at several levels, granted for a set time and audited. Three lines keep a
connected account's password::

    host = dkm.Host(dkm.FileStore("/var/lib/dkm"))
    sealed = host.seal("mail", b"hunter2", b"account:42", as_=service)
    assert host.unseal("mail", sealed, b"account:42", as_=service).plaintext == b"hunter2"

Errors are ``dkm.DkmError`` subclasses named after the error kinds (``dkm.Tampered``,
``dkm.Stale``, ...), each with ``.kind`` and ``.code``.
"""

from __future__ import annotations

from . import _native
from ._native import (
    BadChecksum,
    Conflict,
    DkmError,
    EtcdStore,
    FileStore,
    GrantExpired,
    Host,
    Identity,
    Internal,
    InvalidInput,
    KeyDestroyed,
    KeyRevoked,
    Malformed,
    MemoryPins,
    MemoryStore,
    NotAMember,
    OutOfRange,
    PolicyUnsatisfied,
    PublicIdentity,
    RingPublic,
    Rollback,
    Stale,
    StoreUnavailable,
    Tampered,
    TooLarge,
    UnknownKey,
    Unsealed,
    Unsupported,
)
from ._views import (
    ApprovalLevel,
    AuditRecord,
    AuditReport,
    ChangeOutcome,
    Commit,
    EpochInfo,
    Event,
    IssuedGrant,
    KeyId,
    KeyListing,
    LevelPolicy,
    LevelTally,
    Member,
    Policy,
    RequestView,
    RingInfo,
    RingWrite,
)
from ._store import Store

__version__: str = _native.__version__


__all__ = [
    "ApprovalLevel",
    "AuditRecord",
    "AuditReport",
    "BadChecksum",
    "ChangeOutcome",
    "Commit",
    "Conflict",
    "DkmError",
    "EpochInfo",
    "EtcdStore",
    "Event",
    "FileStore",
    "GrantExpired",
    "Host",
    "Identity",
    "Internal",
    "InvalidInput",
    "IssuedGrant",
    "KeyDestroyed",
    "KeyId",
    "KeyListing",
    "KeyRevoked",
    "LevelPolicy",
    "LevelTally",
    "Malformed",
    "Member",
    "MemoryPins",
    "MemoryStore",
    "NotAMember",
    "OutOfRange",
    "Policy",
    "PolicyUnsatisfied",
    "PublicIdentity",
    "RequestView",
    "RingInfo",
    "RingPublic",
    "RingWrite",
    "Rollback",
    "Stale",
    "Store",
    "StoreUnavailable",
    "Tampered",
    "TooLarge",
    "UnknownKey",
    "Unsealed",
    "Unsupported",
    "__version__",
]
