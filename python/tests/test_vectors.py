"""Replays dkm's frozen v1 test vectors (testvectors/v1) through the Python binding: rings,
identities, elevated access and audit chains through the public API; the raw-key vectors
(sealed, seal-only, tree) through the private dkm._testing entry points."""

from __future__ import annotations

import json
import os
import struct
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import dkm
from dkm import _testing

VECTORS = Path(
    os.environ.get("DKM_VECTORS", Path(__file__).resolve().parents[2] / "testvectors" / "v1")
)
RING_NAME = "vectors"  # core/src/testvectors.rs creates the ring vector under this name
ACCESS_RING_NAME = "access vectors"


def load(name: str) -> Any:
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


def at(secs: int) -> datetime:
    return datetime.fromtimestamp(secs, timezone.utc)


def error_class(kind: str) -> type:
    cls = getattr(dkm, kind)
    assert issubclass(cls, dkm.DkmError) and cls.kind == kind
    return cls


class PreloadedStore:
    """A store holding one ring's bytes and audit lines, as a vector gives them."""

    def __init__(self, name: str, blob: bytes, audit: Optional[List[str]] = None) -> None:
        self.rings: Dict[str, Tuple[bytes, int]] = {name: (blob, 1)}
        self.streams: Dict[Tuple[str, str], List[str]] = {(name, "audit"): list(audit or [])}

    def ring(self, name: str) -> Optional[Tuple[bytes, str]]:
        r = self.rings.get(name)
        return None if r is None else (r[0], str(r[1]))

    def line_count(self, name: str, stream: str) -> int:
        return len(self.streams.get((name, stream), []))

    def last_line(self, name: str, stream: str) -> Optional[str]:
        lines = self.streams.get((name, stream), [])
        return lines[-1] if lines else None

    def lines_from(self, name: str, stream: str, start: int) -> List[str]:
        return self.streams.get((name, stream), [])[start:]

    def commit(self, name: str, commit: dkm.Commit) -> None:
        if commit.ring is not None:
            current = self.rings.get(name)
            if (None if current is None else str(current[1])) != commit.ring.expected_token:
                raise dkm.Conflict("ring changed")
        for stream, expected, _ in commit.appends:
            if self.line_count(name, stream) != expected:
                raise dkm.Conflict("stream moved")
        if commit.ring is not None:
            version = self.rings[name][1] + 1 if name in self.rings else 1
            self.rings[name] = (commit.ring.bytes, version)
        for stream, _, lines in commit.appends:
            self.streams.setdefault((name, stream), []).extend(lines)

    def names(self) -> List[str]:
        return sorted(self.rings)

    def location(self) -> str:
        return f"vectors:{id(self)}"


def public_part(pin: bytes, blob: bytes) -> bytes:
    """A ring's public part as SPEC §14 lays it out: "DKMP" 0x01 u32 pin length, pin, blob."""
    return b"DKMP\x01" + struct.pack(">I", len(pin)) + pin + blob


# ---- identities ----


def test_identities() -> None:
    v = load("identities.json")
    for i in v["identities"]:
        ident = dkm.Identity.from_text(i["secret_text"])
        assert ident.public.to_text() == i["public_text"]
        assert ident.id == i["id"]
        assert dkm.PublicIdentity(i["public_text"]).id == i["id"]
    for bad in v["invalid_public_text"]:
        with pytest.raises(error_class(bad["error"])):
            dkm.PublicIdentity(bad["text"])


# ---- a ring ----


def ring_host(v: Dict[str, Any], now: int) -> dkm.Host:
    store = PreloadedStore(RING_NAME, bytes.fromhex(v["blob"]))
    return dkm.Host(store, pins=dkm.MemoryPins(), clock=at(now))


def test_ring_secrets_open_with_the_key_holder() -> None:
    v = load("ring.json")
    holder = dkm.Identity.from_text(v["key_holder_secret"])
    assert holder.public.to_text() == v["key_holder_public"]
    for s in v["sealed"]:
        host = ring_host(v, s["now"])
        u = host.unseal(RING_NAME, bytes.fromhex(s["sealed"]), bytes.fromhex(s["context"]), as_=holder)
        assert u.plaintext == bytes.fromhex(s["plaintext"]) and u.origin == "key-holder"
    for s in v["seal_only"]["sealed"]:
        host = ring_host(v, s["now"])
        u = host.unseal(RING_NAME, bytes.fromhex(s["sealed"]), bytes.fromhex(s["context"]), as_=holder)
        assert u.plaintext == bytes.fromhex(s["plaintext"]) and u.origin == "seal-only"
        with pytest.raises(dkm.InvalidInput):
            host.unseal(
                RING_NAME,
                bytes.fromhex(s["sealed"]),
                bytes.fromhex(s["context"]),
                as_=holder,
                accept_seal_only=False,
            )


def test_ring_views_and_pins() -> None:
    v = load("ring.json")
    pins = dkm.MemoryPins()
    store = PreloadedStore(RING_NAME, bytes.fromhex(v["blob"]))
    host = dkm.Host(store, pins=pins, clock=at(v["sealed"][0]["now"]))
    info = host.ring_info(RING_NAME)
    assert info.id == v["ring_id"] and info.name == RING_NAME
    assert info.governance_version == v["key_state"]["governance_version"]
    admin = dkm.PublicIdentity(v["admin_public"])
    assert any(m.role == "admin" and m.public == admin for m in info.members)
    keys = host.keys(RING_NAME)
    assert keys.ring == v["ring_id"]
    assert keys.kek_generation == v["key_state"]["kek_generation"]
    assert keys.write_time == at(v["key_state"]["write_time"])
    assert keys.fresh_until == at(v["key_state"]["fresh_until"])
    got = [(e.epoch, e.state, e.start, int(e.interval.total_seconds()), [list(r) for r in e.readable]) for e in keys.epochs]
    want = [
        (e["epoch"], e["state"], at(e["start"]), e["interval_secs"], e["readable"])
        for e in v["key_state"]["epochs"]
    ]
    assert got == want
    # The pin the host saved after verifying the ring on first use.
    assert pins.pins() == [v["pin_after_load"]]


def test_ring_seal_only_from_its_public_part() -> None:
    v = load("ring.json")
    blob = bytes.fromhex(v["blob"])
    holder = dkm.Identity.from_text(v["key_holder_secret"])
    for pin in (v["pin_first_use"], v["pin_after_load"]):
        part = dkm.RingPublic(public_part(bytes.fromhex(pin), blob))
        assert part.ring_id == v["ring_id"]
        now = v["seal_only"]["sealed"][0]["now"]
        sealed = part.seal(b"from a partner", b"ctx", now=at(now))
        # The same part loads with the pin given separately, as hex text or bytes.
        dkm.RingPublic(public_part(bytes.fromhex(pin), blob), pin=pin)
        u = ring_host(v, now).unseal(RING_NAME, sealed, b"ctx", as_=holder)
        assert u.plaintext == b"from a partner" and u.origin == "seal-only"


def test_invalid_rings_have_their_error_kinds() -> None:
    v = load("ring.json")
    for bad in v["invalid"]:
        part = public_part(bytes.fromhex(bad["pin"]), bytes.fromhex(bad["blob"]))
        with pytest.raises(error_class(bad["error"])) as e:
            dkm.RingPublic(part)
        assert e.value.code == error_class(bad["error"]).code, bad["name"]


# ---- elevated access and audit ----


def access_host(v: Dict[str, Any], now: int, audit: Optional[List[str]] = None) -> dkm.Host:
    lines = audit if audit is not None else [r["json"] for r in v["audit"]["records"]]
    store = PreloadedStore(ACCESS_RING_NAME, bytes.fromhex(v["blob"]), lines)
    return dkm.Host(store, pins=dkm.MemoryPins(), clock=at(now))


def access_ring_name(v: Dict[str, Any]) -> str:
    blob = bytes.fromhex(v["blob"])
    return dkm.RingPublic(public_part(bytes.fromhex(v["pin_first_use"]), blob)).name


def test_access_grant_opens_inside_its_window_and_scope_only() -> None:
    v = load("access.json")
    assert access_ring_name(v) == ACCESS_RING_NAME
    requester = dkm.Identity.from_text(v["requester_secret"])
    assert requester.public.to_text() == v["requester_public"]
    grant = v["grant"]["id"]
    u = v["unseal"]
    inside = u["inside"]
    host = access_host(v, u["now"])
    opened = host.unseal_with_grant(
        ACCESS_RING_NAME, grant, bytes.fromhex(inside["sealed"]), bytes.fromhex(inside["context"]), as_=requester
    )
    assert opened.plaintext == bytes.fromhex(inside["plaintext"])
    # The use was audited: the chain grew by one record naming the grant, and verifies.
    records = host.audit_records(ACCESS_RING_NAME)
    assert len(records) == len(v["audit"]["records"]) + 1
    assert records[-1].grant == grant and records[-1].clock_override
    assert host.audit_verify(ACCESS_RING_NAME).verified

    before = u["before_scope"]
    with pytest.raises(error_class(before["error"])):
        host.unseal_with_grant(
            ACCESS_RING_NAME, grant, bytes.fromhex(before["sealed"]), bytes.fromhex(before["context"]), as_=requester
        )
    after = u["after_window"]
    with pytest.raises(error_class(after["error"])):
        access_host(v, after["now"]).unseal_with_grant(
            ACCESS_RING_NAME, grant, bytes.fromhex(inside["sealed"]), bytes.fromhex(inside["context"]), as_=requester
        )


def test_audit_chain_verifies_and_reports_cuts() -> None:
    v = load("access.json")
    lines = [r["json"] for r in v["audit"]["records"]]
    now = v["unseal"]["now"]
    report = access_host(v, now).audit_verify(ACCESS_RING_NAME)
    assert report.verified and report.records == len(lines)
    assert (report.head_seq, report.head_hash) == (v["audit"]["head"]["seq"], v["audit"]["head"]["hash"])
    assert [r.hash for r in access_host(v, now).audit_records(ACCESS_RING_NAME)] == [
        r["hash"] for r in v["audit"]["records"]
    ]
    faults = {bad["name"]: (bad["index"], bad["fault"]) for bad in v["audit"]["invalid"]}
    # The cases expressible with stored lines as they are (deleted, swapped, cut); edited
    # records are refused when a line is parsed, before the chain is checked.
    deleted = lines[:3] + lines[4:]
    swapped = lines[:4] + [lines[5], lines[4]] + lines[6:]
    cut = lines[:20]
    for name, chain in (
        ("record 3 deleted", deleted),
        ("records 4 and 5 swapped", swapped),
        ("chain cut before the anchored record", cut),
    ):
        r = access_host(v, now, chain).audit_verify(ACCESS_RING_NAME)
        assert not r.verified, name
        assert (r.problem_index, r.problem_fault) == faults[name], name


# ---- raw keys (private entry points) ----


def epoch_args(v: Dict[str, Any]) -> Tuple[bytes, int, Tuple[int, int], bytes]:
    return (
        bytes.fromhex(v["ring_id"]),
        v["epoch"],
        (v["schedule"]["start"], v["schedule"]["interval_secs"]),
        bytes.fromhex(v["root"]),
    )


@pytest.mark.parametrize("name", ["sealed.json", "seal_only.json"])
def test_raw_sealed_vectors(name: str) -> None:
    v = load(name)
    ring, epoch, schedule, root = epoch_args(v)
    for case in v["vectors"]:
        sealed = bytes.fromhex(case["sealed"])
        ctx = bytes.fromhex(case["context"])
        assert _testing.unseal_raw(ring, epoch, schedule, root, sealed, ctx) == bytes.fromhex(case["plaintext"])
        assert _testing.key_interval_at(ring, epoch, schedule, root, case["time"]) == case["interval"]
        # Armor is the same bytes: a key holder's unseal takes either form.
        assert case["armor"].startswith("dkm1:")
    for bad in v["invalid"]:
        with pytest.raises(error_class(bad["error"])):
            _testing.unseal_raw(ring, epoch, schedule, root, bytes.fromhex(bad["sealed"]), bytes.fromhex(bad["context"]))


def test_tree_vectors() -> None:
    v = load("tree.json")
    root = bytes.fromhex(v["root"])
    for leaf in v["leaves"]:
        assert _testing.tree_derive(root, 16, leaf["interval"]).hex() == leaf["leaf"]
    for node in v["nodes"]:
        assert _testing.tree_derive(root, node["level"], node["index"]).hex() == node["secret"]
    for c in v["covers"]:
        nodes = [(n["level"], n["index"], bytes.fromhex(n["secret"])) for n in c["nodes"]]
        assert _testing.tree_cover(c["first"], c["last"]) == [(n[0], n[1]) for n in nodes]
        assert [list(r) for r in _testing.tree_ranges(nodes)] == c["derives"]
        for chk in c["check_leaves"]:
            assert _testing.tree_leaf(nodes, chk["interval"]).hex() == chk["leaf"]
        for i in c["not_derivable"]:
            with pytest.raises(dkm.UnknownKey):
                _testing.tree_leaf(nodes, i)
