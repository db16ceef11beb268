"""A store of your own: any object with the store methods (here, dicts guarded by a lock;
in a service, a table of its database). dkm keeps every check; the store only keeps bytes
and lines and applies each commit atomically or raises dkm.Conflict.

Run: python dict_store.py
"""

from __future__ import annotations

import threading
from typing import Dict, List, Optional, Tuple

import dkm


class DictStore:
    """Rings and their two line streams in dicts."""

    def __init__(self) -> None:
        self.rings: Dict[str, Tuple[bytes, int]] = {}
        self.streams: Dict[Tuple[str, str], List[str]] = {}
        self.lock = threading.Lock()

    def ring(self, name: str) -> Optional[Tuple[bytes, str]]:
        with self.lock:
            r = self.rings.get(name)
            return None if r is None else (r[0], str(r[1]))

    def line_count(self, name: str, stream: str) -> int:
        with self.lock:
            return len(self.streams.get((name, stream), []))

    def last_line(self, name: str, stream: str) -> Optional[str]:
        with self.lock:
            lines = self.streams.get((name, stream), [])
            return lines[-1] if lines else None

    def lines_from(self, name: str, stream: str, start: int) -> List[str]:
        with self.lock:
            return self.streams.get((name, stream), [])[start:]

    def commit(self, name: str, commit: dkm.Commit) -> None:
        with self.lock:
            current = self.rings.get(name)
            if commit.ring is not None:
                token = None if current is None else str(current[1])
                if token != commit.ring.expected_token:
                    raise dkm.Conflict(f"ring {name!r} changed")
            for stream, expected, _ in commit.appends:
                if len(self.streams.get((name, stream), [])) != expected:
                    raise dkm.Conflict(f"{stream} of {name!r} moved")
            if commit.move_to is not None and commit.move_to in self.rings:
                raise dkm.Conflict(f"{commit.move_to!r} is taken")
            if commit.ring is not None:
                version = 1 if current is None else current[1] + 1
                self.rings[name] = (commit.ring.bytes, version)
            for stream, _, lines in commit.appends:
                self.streams.setdefault((name, stream), []).extend(lines)
            if commit.move_to is not None:
                self.rings[commit.move_to] = self.rings.pop(name)
                for stream in ("audit", "requests"):
                    self.streams[(commit.move_to, stream)] = self.streams.pop((name, stream), [])

    def names(self) -> List[str]:
        with self.lock:
            return sorted(self.rings)

    def location(self) -> str:
        return f"dict-store:{id(self)}"


def main() -> None:
    store = DictStore()
    host = dkm.Host(store, pins=dkm.MemoryPins())
    admin, service = dkm.Identity.generate(), dkm.Identity.generate()
    host.create_ring("mail", as_=admin)
    host.add_member("mail", "service", service.public, as_=admin)
    sealed = host.seal("mail", b"hunter2", as_=service)
    assert host.unseal("mail", sealed, as_=service).plaintext == b"hunter2"
    print(f"rings {store.names()}; audit lines {store.line_count('mail', 'audit')}")
    print(f"audit verified: {host.audit_verify('mail').verified}")


if __name__ == "__main__":
    main()
