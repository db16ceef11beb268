"""Helpers shared by dkm's Python tests: times, a controllable clock, a store over dicts,
a ring with its people, and the entry points of the processes the multiprocessing tests
spawn (they must be importable by name, hence a module rather than conftest.py)."""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import dkm

UTC = timezone.utc
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: 2030-03-17T17:46:40Z: in the future, so nothing depends on the machine's clock.
T0 = datetime.fromtimestamp(1_900_000_000, UTC)
#: After the approvers' 24 h cool-off (the default policy's approver_cooloff).
T1 = T0 + DAY + HOUR

RING = "main"


class Clock:
    """A callable clock (what ``Host(clock=...)`` reads at each call) that tests set and
    advance. Thread safe; counts its calls; can be made to raise."""

    def __init__(self, t: datetime = T0) -> None:
        self._lock = threading.Lock()
        self.t = t
        self.calls = 0
        self.error: Optional[BaseException] = None

    def __call__(self) -> datetime:
        with self._lock:
            self.calls += 1
            if self.error is not None:
                raise self.error
            return self.t

    def set(self, t: datetime) -> None:
        with self._lock:
            self.t = t

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self.t = self.t + delta
            return self.t


class DictStore:
    """A ``dkm.Store`` over dicts: the ring bytes with a version-counter token, and the two
    line streams. ``commit`` checks every expectation before it writes anything and raises
    ``dkm.Conflict`` when one does not hold. Every call is logged with its thread; a lock
    guards the dicts (the host calls a store from whichever thread runs the verb)."""

    def __init__(self, location: str = "dict-store") -> None:
        self._lock = threading.RLock()
        self._location = location
        self.rings: Dict[str, Tuple[bytes, str]] = {}
        self.streams: Dict[Tuple[str, str], List[str]] = {}
        self.version = 0
        self.calls: List[Tuple[str, int]] = []
        self.commits: List[Tuple[str, dkm.Commit]] = []

    def _log(self, method: str) -> None:
        self.calls.append((method, threading.get_ident()))

    def _stream(self, name: str, stream: str) -> List[str]:
        assert stream in ("audit", "requests"), stream
        return self.streams.get((name, stream), [])

    def location(self) -> str:
        return self._location

    def names(self) -> List[str]:
        with self._lock:
            self._log("names")
            return sorted(self.rings)

    def ring(self, name: str) -> Optional[Tuple[bytes, str]]:
        with self._lock:
            self._log("ring")
            return self.rings.get(name)

    def line_count(self, name: str, stream: str) -> int:
        with self._lock:
            self._log("line_count")
            return len(self._stream(name, stream))

    def last_line(self, name: str, stream: str) -> Optional[str]:
        with self._lock:
            self._log("last_line")
            s = self._stream(name, stream)
            return s[-1] if s else None

    def lines_from(self, name: str, stream: str, start: int) -> List[str]:
        with self._lock:
            self._log("lines_from")
            return list(self._stream(name, stream)[start:])

    def commit(self, name: str, commit: dkm.Commit) -> None:
        with self._lock:
            self._log("commit")
            assert isinstance(commit, dkm.Commit)
            current = self.rings.get(name)
            if commit.ring is not None:
                assert isinstance(commit.ring, dkm.RingWrite)
                assert isinstance(commit.ring.bytes, bytes)
                expected = commit.ring.expected_token
                if expected is None:
                    if current is not None:
                        raise dkm.Conflict(f"ring {name!r} exists already")
                elif current is None or current[1] != expected:
                    raise dkm.Conflict(f"ring {name!r} changed")
            for stream, count, lines in commit.appends:
                assert isinstance(lines, tuple) and all(isinstance(x, str) for x in lines)
                if len(self._stream(name, stream)) != count:
                    raise dkm.Conflict(f"{stream} of {name!r} changed")
            if commit.move_to is not None and commit.move_to in self.rings:
                raise dkm.Conflict(f"ring {commit.move_to!r} exists already")
            # Every expectation holds: apply everything.
            self.commits.append((name, commit))
            if commit.ring is not None:
                self.version += 1
                self.rings[name] = (commit.ring.bytes, f"v{self.version}")
            for stream, _count, lines in commit.appends:
                self.streams.setdefault((name, stream), []).extend(lines)
            if commit.move_to is not None:
                self.rings[commit.move_to] = self.rings.pop(name)
                for stream in ("audit", "requests"):
                    if (name, stream) in self.streams:
                        self.streams[(commit.move_to, stream)] = self.streams.pop((name, stream))

    def threads(self) -> set:
        """The threads that called the store."""
        with self._lock:
            return {t for _m, t in self.calls}


@dataclass
class World:
    """A ring named ``RING`` with its people: ``admin``; ``svc`` (the key holder); ``ops``
    and ``sec`` (approvers); ``eng`` (a requester, no member)."""

    host: dkm.Host
    clock: Clock
    store: object
    pins: object
    admin: dkm.Identity
    svc: dkm.Identity
    ops: dkm.Identity
    sec: dkm.Identity
    eng: dkm.Identity
    ring_id: str
    ring: str = RING

    def seal(self, data: bytes, context: bytes = b"") -> bytes:
        return self.host.seal(self.ring, data, context, as_=self.svc)

    def unseal(self, sealed, context: bytes = b"") -> bytes:
        return self.host.unseal(self.ring, sealed, context, as_=self.svc).plaintext

    def approve_all(self, request: str) -> None:
        self.host.approve(self.ring, request, "ops", as_=self.ops)
        self.host.approve(self.ring, request, "security", as_=self.sec)

    def audit_lines(self) -> List[str]:
        return [r.line for r in self.host.audit_records(self.ring)]


def make_world(
    store=None,
    *,
    pins=None,
    clock: Optional[Clock] = None,
    levels: bool = False,
    policy: Optional[dkm.Policy] = None,
) -> World:
    """Creates ring ``RING`` at ``T0`` with a key holder and two approvers, maintained.
    With ``levels`` it also gets two approval levels (``ops``, then ``security``, quorum 1
    each), carried out, and the clock is moved past the approvers' cool-off (``T1``)."""
    store = dkm.MemoryStore() if store is None else store
    pins = dkm.MemoryPins() if pins is None else pins
    clock = Clock(T0) if clock is None else clock
    host = dkm.Host(store, pins=pins, clock=clock)
    admin, svc, ops, sec, eng = (dkm.Identity.generate() for _ in range(5))
    ring_id = host.create_ring(RING, as_=admin, policy=policy)
    host.add_member(RING, "service", svc.public, as_=admin)
    host.add_member(RING, "approver", ops.public, as_=admin)
    host.add_member(RING, "approver", sec.public, as_=admin)
    host.maintain(RING, as_=svc)
    w = World(host, clock, store, pins, admin, svc, ops, sec, eng, ring_id)
    if levels:
        host.set_approval_levels(
            RING,
            [
                dkm.ApprovalLevel("ops", 1, (ops.public,)),
                dkm.ApprovalLevel("security", 1, (sec.public,)),
            ],
            as_=admin,
        )
        host.maintain(RING, as_=svc)
        clock.set(T1)
        host.maintain(RING, as_=svc)
    return w


def change_char(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another of the same alphabet."""
    c = text[index]
    return text[:index] + ("b" if c == "a" else "a") + text[index + 1 :]


# ---- entry points of spawned processes (multiprocessing, spawn context) ----


def _file_host(store_dir: str, pins_dir: str) -> dkm.Host:
    return dkm.Host(dkm.FileStore(store_dir), pins=pins_dir, clock=T0 + 2 * HOUR)


def proc_seal(store_dir, pins_dir, identity_path, ring, items, out_path) -> None:
    """Seals each (plaintext, context) of ``items`` as the identity in ``identity_path``;
    writes the armored secrets, one a line, to ``out_path``."""
    host = _file_host(store_dir, pins_dir)
    me = dkm.Identity.load(identity_path)
    lines = [host.seal_armored(ring, pt, ctx, as_=me) for pt, ctx in items]
    with open(out_path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


def proc_unseal(store_dir, pins_dir, identity_path, ring, sealed_path, contexts, out_path) -> None:
    """Unseals each armored secret of ``sealed_path`` with its context; writes the
    plaintexts' hex, one a line, to ``out_path``."""
    host = _file_host(store_dir, pins_dir)
    me = dkm.Identity.load(identity_path)
    with open(sealed_path, encoding="ascii") as f:
        sealed = f.read().split()
    out = []
    for s, ctx in zip(sealed, contexts):
        u = host.unseal(ring, s, ctx, as_=me, accept_seal_only=False)
        assert u.origin == "key-holder"
        out.append(u.plaintext.hex())
    with open(out_path, "w", encoding="ascii") as f:
        f.write("\n".join(out) + "\n")


def proc_request(store_dir, pins_dir, identity_path, ring, count, start_event) -> None:
    """Logs ``count`` access requests as the identity in ``identity_path`` (a writer racing
    another process on the same file store)."""
    host = _file_host(store_dir, pins_dir)
    me = dkm.Identity.load(identity_path)
    start_event.wait(30)
    for i in range(count):
        host.request_access(ring, f"request {i}", HOUR, as_=me)

ROOT = Path(__file__).resolve().parents[2]
DKM_BIN = Path(os.environ.get("DKM_BIN", ROOT / "target" / "debug" / "dkm"))


class Cli:
    """The `dkm` command on a store (a directory, or an `etcd://` URL) and a home (pin book)
    of its own; $DKM_BIN (scripts/test-python.sh builds it), else target/debug/dkm."""

    def __init__(self, tmp: Path, store: Optional[str] = None) -> None:
        if not DKM_BIN.is_file():
            pytest.fail(f"the dkm command is not built at {DKM_BIN} (cargo build -p dkm-cli)")
        self.dir = tmp
        self.store = store if store is not None else str(tmp / "store")
        self.home = tmp / "home"
        self.env: Dict[str, str] = {**os.environ, "DKM_STORE": self.store, "DKM_HOME": str(self.home)}
        for name in ("DKM_NOW", "DKM_ETCD_PASSWORD"):
            self.env.pop(name, None)

    def run(self, *args: str, stdin: bytes = b"", check: bool = True) -> subprocess.CompletedProcess[bytes]:
        p = subprocess.run(
            [str(DKM_BIN), *args], input=stdin, capture_output=True, cwd=self.dir, env=self.env, timeout=60
        )
        if check and p.returncode != 0:
            raise AssertionError(f"dkm {' '.join(args)} failed ({p.returncode}): {p.stderr.decode()}")
        return p

    def identity(self, name: str) -> Path:
        path = self.dir / f"{name}.id"
        self.run("identity", "new", name, "--out", str(path))
        return path
