"""Fixtures of dkm's Python tests. Pins are always given explicitly (a ``MemoryPins`` or a
directory under ``tmp_path``): nothing here reads or writes ``$HOME`` or ``$DKM_HOME``."""

from __future__ import annotations

import os
import sys

import pytest

# The helper module (and the entry points spawned processes import by name) lives here.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import dkm  # noqa: E402
from dkm_testlib import T0, Clock, DictStore, make_world  # noqa: E402


@pytest.fixture(autouse=True)
def _no_dkm_home(tmp_path, monkeypatch):
    """Points $DKM_HOME (where ``pins=None`` keeps pins) at an empty directory: a test that
    forgot ``pins=`` would write there, not into the user's pin book."""
    monkeypatch.setenv("DKM_HOME", str(tmp_path / "_home" / "dkm"))


@pytest.fixture
def clock():
    """A callable clock at ``T0``."""
    return Clock(T0)


@pytest.fixture
def world():
    """A maintained ring on a memory store, no approval levels (bootstrap)."""
    return make_world()


@pytest.fixture
def governed():
    """A maintained ring with two approval levels, at ``T1`` (approvers past cool-off)."""
    return make_world(levels=True)


@pytest.fixture
def dict_store():
    return DictStore()


@pytest.fixture
def people():
    """Five fresh identities."""
    return [dkm.Identity.generate() for _ in range(5)]
