"""The protocol a store object follows (``dkm.Store``)."""

from __future__ import annotations

from typing import List, Optional, Protocol, Tuple

from ._views import Commit

__all__ = ["Store"]


class Store(Protocol):
    """What a store object gives a ``Host`` (any object with these methods will do: a dict
    in a test, a table of your database). Streams are ``"audit"`` and ``"requests"``; lines
    are the JSON lines dkm hands over, stored as given. Heads, hashes and every check stay
    in dkm. Raise ``dkm.Conflict`` from ``commit`` when an expectation does not hold; any
    other exception becomes ``dkm.StoreUnavailable`` (with yours as its ``__cause__``).
    The methods are called with the GIL held and no lock of dkm's held."""

    def ring(self, name: str) -> Optional[Tuple[bytes, str]]:
        """The ring's bytes and a change token (any str that changes with the bytes: a
        version column, an etag), or ``None`` when there is no such ring."""
        ...

    def line_count(self, name: str, stream: str) -> int:
        """How many lines the stream holds (0 when none)."""
        ...

    def last_line(self, name: str, stream: str) -> Optional[str]:
        """The stream's last line, if any."""
        ...

    def lines_from(self, name: str, stream: str, start: int) -> List[str]:
        """The stream's lines from index ``start`` (0-based) to the end."""
        ...

    def commit(self, name: str, commit: Commit) -> None:
        """Carries out ``commit`` for ring ``name`` atomically, or raises ``dkm.Conflict``."""
        ...

    def names(self) -> List[str]:
        """The names of the rings it holds."""
        ...

    def location(self) -> str:
        """Where it is, stable across processes (a database and table): read once, when a
        ``Host`` is made."""
        ...
