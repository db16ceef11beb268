"""Every verb of ``dkm.Host`` and every view it returns."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import dkm
from dkm_testlib import DAY, HOUR, RING, T0, T1, DictStore, make_world

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# ---- package ----


def test_version_matches_the_workspace():
    cargo = Path(__file__).resolve().parents[2] / "Cargo.toml"
    text = cargo.read_text(encoding="utf-8")
    section = text.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
    version = re.search(r'^version\s*=\s*"([^"]+)"', section, re.M).group(1)
    assert dkm.__version__ == version
    assert dkm._native.__version__ == version


def test_all_names_exist():
    for name in dkm.__all__:
        assert hasattr(dkm, name), name
    assert "Host" in dkm.__all__ and "Store" in dkm.__all__


# ---- governance ----


def test_create_ring(clock):
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=clock)
    admin = dkm.Identity.generate()
    ring_id = host.create_ring("r", as_=admin)
    assert HEX32.match(ring_id)
    assert host.store.names() == ["r"]
    info = host.ring_info("r")
    assert info.id == ring_id and info.name == "r"
    assert info.governance_version == 1 and info.applied_version is None
    assert [m.role for m in info.members] == ["admin"]
    assert info.members[0].id == admin.id and info.members[0].public == admin.public
    assert info.policy == dkm.Policy()
    # A name taken or invalid.
    with pytest.raises(dkm.InvalidInput):
        host.create_ring("r", as_=admin)
    for bad in ("", "../x", ".hidden", "a/b", "x" * 65):
        with pytest.raises(dkm.InvalidInput):
            host.create_ring(bad, as_=admin)


def test_create_ring_with_policy(clock):
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=clock)
    admin = dkm.Identity.generate()
    policy = dkm.Policy(
        interval=timedelta(hours=6),
        max_grant=3600,  # whole seconds do too
        max_lookback=timedelta(days=7),
        request_lifetime=timedelta(hours=2),
        freshness_intervals=4,
        approver_cooloff=timedelta(hours=3),
    )
    host.create_ring("p", as_=admin, policy=policy)
    got = host.ring_info("p").policy
    assert got == dataclasses.replace(policy, max_grant=timedelta(hours=1))
    assert isinstance(got.interval, timedelta) and got.levels == ()
    with pytest.raises(dkm.InvalidInput):
        host.create_ring("q", as_=admin, policy=dkm.Policy(interval=0))
    with pytest.raises(dkm.InvalidInput):
        host.create_ring("q", as_=admin, policy=dkm.Policy(freshness_intervals=65))
    with pytest.raises(dkm.InvalidInput):
        host.create_ring("q", as_=admin, policy=dkm.Policy(interval=timedelta(seconds=1.5)))
    # Levels are set afterwards, never at creation.
    ops = dkm.Identity.generate()
    with pytest.raises(dkm.InvalidInput):
        host.create_ring(
            "q", as_=admin, policy=dkm.Policy(levels=(dkm.ApprovalLevel("ops", 1, (ops.public,)),))
        )
    assert host.store.names() == ["p"]


@pytest.mark.parametrize("role", ["admin", "service", "approver"])
def test_add_member_each_role(world, role):
    new = dkm.Identity.generate()
    version = world.host.ring_info(RING).governance_version
    out = world.host.add_member(RING, role, new.public, as_=world.admin)
    assert out == dkm.ChangeOutcome("applied", version + 1, True, None)
    info = world.host.ring_info(RING)
    assert info.pending
    assert dkm.Member(role, new.id, new.public) in info.members
    events = world.host.maintain(RING, as_=world.svc)
    assert any(e.action == "governance-applied" and e.version == version + 1 for e in events)
    assert not world.host.ring_info(RING).pending
    if role == "service":
        s = world.seal(b"for the newcomer")
        assert world.host.unseal(RING, s, as_=new).plaintext == b"for the newcomer"


def test_add_member_refusals(world):
    new = dkm.Identity.generate()
    with pytest.raises(dkm.InvalidInput):
        world.host.add_member(RING, "approver", world.svc.public, as_=world.admin)
    with pytest.raises(dkm.InvalidInput):
        world.host.add_member(RING, "owner", new.public, as_=world.admin)
    with pytest.raises(dkm.NotAMember):
        world.host.add_member(RING, "approver", new.public, as_=world.svc)
    with pytest.raises(dkm.InvalidInput):
        world.host.add_member("nope", "service", new.public, as_=world.admin)


def test_remove_member(world):
    svc2 = dkm.Identity.generate()
    world.host.add_member(RING, "service", svc2.public, as_=world.admin)
    world.host.maintain(RING, as_=world.svc)
    before = world.seal(b"before")
    out = world.host.remove_member(RING, svc2.public, as_=world.admin)
    assert out.outcome == "applied" and out.pending and out.request is None
    events = world.host.maintain(RING, as_=world.svc)
    assert any(e.action == "epoch-created" for e in events)  # the keys roll
    assert svc2.id not in {m.id for m in world.host.ring_info(RING).members}
    with pytest.raises(dkm.NotAMember):
        world.host.unseal(RING, before, as_=svc2)
    assert world.unseal(before) == b"before"
    with pytest.raises(dkm.NotAMember):
        world.host.remove_member(RING, svc2.public, as_=world.admin)
    with pytest.raises(dkm.InvalidInput):  # the last key holder
        world.host.remove_member(RING, world.svc.public, as_=world.admin)


def test_set_approval_levels(world):
    levels = [
        dkm.ApprovalLevel("ops", 1, (world.ops.public,)),
        dkm.ApprovalLevel("security", 2, [world.sec.public, world.ops.public]),
    ]
    out = world.host.set_approval_levels(RING, levels, as_=world.admin)
    assert out.outcome == "applied" and out.pending
    policy = world.host.ring_info(RING).policy
    assert policy.levels == (
        dkm.LevelPolicy("ops", 1, (world.ops.id,)),
        dkm.LevelPolicy("security", 2, tuple(sorted((world.sec.id, world.ops.id)))),
    )  # approvers in canonical (id) order
    keys = world.host.keys(RING)
    assert not keys.bootstrap and keys.pending  # signed; carried out at the next maintain
    world.host.maintain(RING, as_=world.svc)
    assert not world.host.keys(RING).pending
    # Once there are levels, changing them needs the quorum.
    out = world.host.set_approval_levels(RING, levels[:1], as_=world.admin)
    assert out.outcome == "requested" and HEX64.match(out.request)


def test_set_approval_levels_refusals(world):
    eng = world.eng
    with pytest.raises(dkm.InvalidInput):  # not an approver
        world.host.set_approval_levels(
            RING, [dkm.ApprovalLevel("x", 1, (eng.public,))], as_=world.admin
        )
    with pytest.raises(dkm.InvalidInput):  # quorum above the approvers
        world.host.set_approval_levels(
            RING, [dkm.ApprovalLevel("x", 2, (world.ops.public,))], as_=world.admin
        )
    with pytest.raises(dkm.NotAMember):
        world.host.set_approval_levels(
            RING, [dkm.ApprovalLevel("x", 1, (world.ops.public,))], as_=world.ops
        )
    with pytest.raises(dkm.TooLarge):
        world.host.set_approval_levels(
            RING,
            [dkm.ApprovalLevel(f"l{i}", 1, (world.ops.public,)) for i in range(9)],
            as_=world.admin,
        )


def test_revoke_epoch(world):
    old = world.seal(b"epoch one", b"ctx")
    world.host.roll_epoch(RING, as_=world.svc)
    new = world.seal(b"epoch two", b"ctx")
    out = world.host.revoke_epoch(RING, 1, as_=world.admin)
    assert out.outcome == "applied" and out.pending
    with pytest.raises(dkm.KeyRevoked):  # counts at once, before maintain
        world.unseal(old, b"ctx")
    events = world.host.maintain(RING, as_=world.svc)
    assert dkm.Event("epoch-revoked", "epoch-revoked epoch 1", epoch=1) in events
    with pytest.raises(dkm.KeyRevoked):
        world.unseal(old, b"ctx")
    assert world.unseal(new, b"ctx") == b"epoch two"
    assert world.host.ring_info(RING).epochs == ((1, "revoked"), (2, "live"))
    e1 = world.host.keys(RING).epochs[0]
    assert e1.state == "revoked" and e1.readable == ()
    for bad in (0, 2**31 + 1, -1):
        with pytest.raises(dkm.InvalidInput):
            world.host.revoke_epoch(RING, bad, as_=world.admin)
    with pytest.raises(dkm.NotAMember):
        world.host.revoke_epoch(RING, 2, as_=world.svc)


def test_shred_before(world):
    day0 = world.seal(b"day 0")
    world.clock.set(T0 + 4 * DAY)
    world.host.maintain(RING, as_=world.svc)
    day4 = world.seal(b"day 4")
    world.clock.set(T0 + 5 * DAY)
    with pytest.raises(dkm.InvalidInput):  # a future cutoff
        world.host.shred_before(RING, T0 + 6 * DAY, as_=world.admin)
    with pytest.raises(dkm.NotAMember):
        world.host.shred_before(RING, T0 + 2 * DAY, as_=world.svc)
    out = world.host.shred_before(RING, T0 + 2 * DAY, as_=world.admin)
    assert out.outcome == "applied" and out.pending
    events = world.host.maintain(RING, as_=world.svc)
    assert any(e.action == "epoch-shredded" and e.epoch == 1 for e in events)
    with pytest.raises(dkm.KeyDestroyed):
        world.unseal(day0)
    assert world.unseal(day4) == b"day 4"
    readable = world.host.keys(RING).epochs[0].readable
    assert readable and readable[0][0] > 0  # the first intervals are gone


def test_revoke_grant(governed):
    w = governed
    sealed = w.seal(b"s", b"c")
    req = w.host.request_access(RING, "look", HOUR, as_=w.eng, since=T0)
    w.approve_all(req)
    g = w.host.grant(RING, req, as_=w.svc)
    assert w.host.unseal_with_grant(RING, g.id, sealed, b"c", as_=w.eng).plaintext == b"s"
    with pytest.raises(dkm.NotAMember):
        w.host.revoke_grant(RING, g.id, as_=w.eng)
    with pytest.raises(dkm.InvalidInput):
        w.host.revoke_grant(RING, "zz", as_=w.admin)
    out = w.host.revoke_grant(RING, g.id, as_=w.admin)
    assert out.outcome == "applied"  # no quorum
    with pytest.raises(dkm.GrantExpired):
        w.host.unseal_with_grant(RING, g.id, sealed, b"c", as_=w.eng)
    events = w.host.maintain(RING, as_=w.svc)
    assert any(e.action == "grant-revoked" and e.grant == g.id for e in events)


def test_rename_ring(world):
    sealed = world.seal(b"moving", b"c")
    other = world.host.create_ring("other", as_=world.admin)
    assert other
    with pytest.raises(dkm.InvalidInput):
        world.host.rename_ring(RING, "other", as_=world.admin)
    with pytest.raises(dkm.InvalidInput):
        world.host.rename_ring(RING, ".x", as_=world.admin)
    with pytest.raises(dkm.InvalidInput):
        world.host.rename_ring(RING, RING, as_=world.admin)
    with pytest.raises(dkm.NotAMember):
        world.host.rename_ring(RING, "moved", as_=world.svc)
    out = world.host.rename_ring(RING, "moved", as_=world.admin)
    assert out.outcome == "applied"
    assert sorted(world.store.names()) == ["moved", "other"]
    with pytest.raises(dkm.InvalidInput):
        world.host.ring_info(RING)
    assert world.host.ring_info("moved").name == "moved"
    assert world.host.ring_info("moved").id == world.ring_id
    assert world.host.unseal("moved", sealed, b"c", as_=world.svc).plaintext == b"moving"
    assert world.host.audit_verify("moved").verified


def test_apply_a_change_request(governed):
    w = governed
    svc2 = dkm.Identity.generate()
    before = w.host.ring_info(RING).governance_version
    out = w.host.add_member(RING, "service", svc2.public, as_=w.admin)
    assert out.outcome == "requested" and out.version is None and out.pending
    assert HEX64.match(out.request)
    # Logged once, as a governance request.
    [view] = [r for r in w.host.requests(RING) if r.id == out.request]
    assert view.kind == "governance" and view.state == "pending"
    assert svc2.public.to_text() in view.change and view.duration is None
    assert view.author == w.admin.id
    assert [(t.level, t.approvals, t.quorum) for t in view.levels] == [
        ("ops", 0, 1),
        ("security", 0, 1),
    ]
    with pytest.raises(dkm.PolicyUnsatisfied):
        w.host.apply(RING, out.request, as_=w.admin)
    w.approve_all(out.request)
    assert [r.state for r in w.host.requests(RING) if r.id == out.request] == ["approved"]
    with pytest.raises(dkm.NotAMember):
        w.host.apply(RING, out.request, as_=w.ops)
    version = w.host.apply(RING, out.request, as_=w.admin)
    assert isinstance(version, int) and version == before + 1
    assert [r.state for r in w.host.requests(RING) if r.id == out.request] == ["applied"]
    assert w.host.ring_info(RING).governance_version == version
    with pytest.raises(dkm.InvalidInput):  # applied once only
        w.host.apply(RING, out.request, as_=w.admin)
    with pytest.raises(dkm.InvalidInput):
        w.host.apply(RING, "07" * 32, as_=w.admin)
    w.host.maintain(RING, as_=w.svc)
    sealed = w.seal(b"old friend")
    assert w.host.unseal(RING, sealed, as_=svc2).plaintext == b"old friend"


# ---- keys at work ----


def test_maintain_and_roll_epoch(clock):
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=clock)
    admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
    host.create_ring("r", as_=admin)
    host.add_member("r", "service", svc.public, as_=admin)
    with pytest.raises(dkm.NotAMember):
        host.maintain("r", as_=admin)
    events = host.maintain("r", as_=svc)
    assert isinstance(events, list) and events
    assert all(isinstance(e, dkm.Event) for e in events)
    assert all(isinstance(e.text, str) and e.text.startswith(e.action) for e in events)
    assert dkm.Event("epoch-created", "epoch-created epoch 1 (the first epoch)", epoch=1) in events
    assert any(e.action == "key-holder-added" and e.subject == svc.id for e in events)
    assert host.maintain("r", as_=svc) == []  # nothing to write
    with pytest.raises(dkm.NotAMember):
        host.roll_epoch("r", as_=admin)
    events = host.roll_epoch("r", as_=svc)
    assert all(isinstance(e, dkm.Event) for e in events)
    assert any(e.action == "epoch-created" and e.epoch == 2 for e in events)
    assert host.keys("r").current.epoch == 2
    assert host.roll_epoch("r", as_=svc)  # a new epoch in any case
    assert host.keys("r").current.epoch == 3


def test_seal_runs_maintain_first(clock):
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=clock)
    admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
    host.create_ring("r", as_=admin)
    host.add_member("r", "service", svc.public, as_=admin)
    assert host.keys("r").current is None
    s = host.seal("r", b"first", as_=svc)
    assert host.keys("r").current == dkm.KeyId(host.ring_info("r").id, 1, 0)
    assert host.unseal("r", s, as_=svc).plaintext == b"first"


@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, memoryview, lambda b: memoryview(bytearray(b))],
    ids=["bytes", "bytearray", "memoryview", "memoryview-of-bytearray"],
)
def test_seal_unseal_bytes_like(world, make):
    data, ctx = b"\x00secret\xff\x00", b"account:\x0042"
    sealed = world.host.seal(RING, make(data), make(ctx), as_=world.svc)
    assert isinstance(sealed, bytes) and sealed[0] == 1
    for given in (sealed, bytearray(sealed), memoryview(sealed)):
        u = world.host.unseal(RING, given, make(ctx), as_=world.svc)
        assert isinstance(u, dkm.Unsealed)
        assert u.plaintext == data and isinstance(u.plaintext, bytes)
        assert u.origin == "key-holder"
    # A strided memoryview is copied as the bytes it shows.
    strided = memoryview(b"a-b-c-")[::2]
    s = world.host.seal(RING, strided, as_=world.svc)
    assert world.unseal(s) == b"abc"


def test_seal_armored(world):
    armored = world.host.seal_armored(RING, b"armored", b"c", as_=world.svc)
    assert isinstance(armored, str) and armored.startswith("dkm1:")
    for given in (armored, armored + "\n", armored.encode(), bytearray(armored.encode())):
        assert world.host.unseal(RING, given, b"c", as_=world.svc).plaintext == b"armored"
    # A binary secret and its armor open alike.
    binary = world.seal(b"bin", b"c")
    assert world.unseal(binary, b"c") == b"bin"


def test_context(world):
    sealed = world.seal(b"x", b"ctx-1")
    with pytest.raises(dkm.Tampered):
        world.unseal(sealed, b"ctx-2")
    with pytest.raises(dkm.Tampered):
        world.unseal(sealed)
    # None, an omitted context and b"" are the same (empty) context.
    s = world.host.seal(RING, b"y", None, as_=world.svc)
    assert world.host.unseal(RING, s, as_=world.svc).plaintext == b"y"
    assert world.host.unseal(RING, s, b"", as_=world.svc).plaintext == b"y"
    assert world.host.unseal(RING, s, bytearray(), as_=world.svc).plaintext == b"y"
    s = world.host.seal(RING, b"z", context=b"kw", as_=world.svc)
    assert world.host.unseal(RING, s, context=b"kw", as_=world.svc).plaintext == b"z"


def test_empty_and_large_plaintexts(world):
    s = world.seal(b"")
    assert world.unseal(s) == b""
    big = os.urandom(100 * 1024)  # past the size where the GIL is released
    s = world.seal(big, b"big")
    assert world.unseal(s, b"big") == big
    a = world.host.seal_armored(RING, big, as_=world.svc)
    assert world.unseal(a) == big


def test_each_seal_differs(world):
    a, b = world.seal(b"same"), world.seal(b"same")
    assert a != b
    assert world.unseal(a) == world.unseal(b) == b"same"


def test_unsealed_hides_its_plaintext(world):
    secret = b"hunter2-very-secret"
    u = world.host.unseal(RING, world.seal(secret), as_=world.svc)
    for text in (repr(u), str(u)):
        assert "hunter2" not in text
        assert "19 bytes" in text and "key-holder" in text
    assert repr(u) == "Unsealed(origin='key-holder', plaintext=<19 bytes>)"
    assert bytes(u) == secret
    # No __len__: an empty plaintext must not make the result falsy.
    assert not hasattr(u, "__len__") and bool(u)
    assert u == world.host.unseal(RING, world.seal(secret), as_=world.svc)
    assert u != secret
    with pytest.raises(TypeError):
        dkm.Unsealed()
    with pytest.raises(AttributeError):
        u.plaintext = b"other"


def test_seal_only_origin(world):
    public = world.host.export_public(RING)
    assert isinstance(public, bytes) and public
    rp = dkm.RingPublic(public)
    assert rp.name == RING and rp.ring_id == world.ring_id
    assert repr(rp) == f"RingPublic(name='{RING}', ring_id='{world.ring_id}')"
    # A seal-only party: its own clock (the ring's times are in the future: at T0 + 1 h).
    s1 = rp.seal(b"from a browser", b"acct:1", now=T0 + HOUR)
    s2 = rp.seal_armored(bytearray(b"armored"), now=T0 + HOUR)
    assert isinstance(s1, bytes) and s2.startswith("dkm1:")
    # A host sealing to a public part: the host's clock.
    other = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=T0 + HOUR)
    s3 = other.seal_to(rp, memoryview(b"via host"), b"acct:3")
    for sealed, ctx, pt in ((s1, b"acct:1", b"from a browser"), (s2, b"", b"armored"),
                            (s3, b"acct:3", b"via host")):
        u = world.host.unseal(RING, sealed, ctx, as_=world.svc)
        assert (u.plaintext, u.origin) == (pt, "seal-only")
        assert repr(u).startswith("Unsealed(origin='seal-only'")
        with pytest.raises(dkm.InvalidInput, match="seal-only"):
            world.host.unseal(RING, sealed, ctx, as_=world.svc, accept_seal_only=False)
    with pytest.raises(dkm.Tampered):
        world.host.unseal(RING, s1, b"acct:2", as_=world.svc)
    # A key holder's secret is accepted when seal-only ones are refused.
    kh = world.seal(b"kh")
    u = world.host.unseal(RING, kh, as_=world.svc, accept_seal_only=False)
    assert u.origin == "key-holder"


def test_ring_public_through_a_pin(world):
    public = world.host.export_public(RING)
    [pin] = world.pins.pins()
    assert world.ring_id in pin
    assert repr(world.pins) == "MemoryPins(1 pins)"
    rp = dkm.RingPublic(public, pin=pin)
    assert rp.ring_id == world.ring_id
    assert dkm.RingPublic(public, pin=bytes.fromhex(pin)).ring_id == world.ring_id
    other = make_world()
    with pytest.raises(dkm.Tampered):
        dkm.RingPublic(public, pin=other.pins.pins()[0])
    with pytest.raises(dkm.Malformed):
        dkm.RingPublic(public[:-1])


def test_request_access_and_views(governed):
    w = governed
    now = w.host.now()
    assert now == T1
    req = w.host.request_access(RING, "debug prod", timedelta(hours=4), as_=w.eng, since=T0)
    assert HEX64.match(req)
    [r] = w.host.requests(RING)
    assert isinstance(r, dkm.RequestView)
    assert r.id == req and r.kind == "access" and r.state == "pending"
    assert r.author == w.eng.id and r.reason == "debug prod"
    assert r.created == T1 and r.expires == T1 + timedelta(hours=12)
    assert r.duration == timedelta(hours=4) and r.since == T0 and r.epochs is None
    assert r.change is None and "14400 s" in r.description
    assert r.levels == (dkm.LevelTally("ops", 0, 1), dkm.LevelTally("security", 0, 1))
    assert all(isinstance(t, dkm.LevelTally) for t in r.levels)
    # Durations: a timedelta or whole seconds.
    req_int = w.host.request_access(RING, "secs", 1800, as_=w.eng)
    [ri] = [x for x in w.host.requests(RING) if x.id == req_int]
    assert ri.duration == timedelta(minutes=30)
    # Closed epochs as the scope.
    w.host.roll_epoch(RING, as_=w.svc)
    req_e = w.host.request_access(RING, "old", HOUR, as_=w.eng, epochs=[1])
    [re_] = [x for x in w.host.requests(RING) if x.id == req_e]
    assert re_.epochs == (1,) and re_.since is None
    with pytest.raises(dkm.InvalidInput):  # the current epoch is not closed
        w.host.request_access(RING, "current", HOUR, as_=w.eng, epochs=(2,))
    with pytest.raises(dkm.InvalidInput):
        w.host.request_access(RING, "both", HOUR, as_=w.eng, since=T0, epochs=[1])
    with pytest.raises(dkm.InvalidInput):
        w.host.request_access(RING, "key holder", HOUR, as_=w.svc)
    with pytest.raises(dkm.InvalidInput):
        w.host.request_access(RING, "too long", 9 * HOUR, as_=w.eng)
    with pytest.raises(dkm.InvalidInput):
        w.host.request_access(RING, "too far back", HOUR, as_=w.eng, since=T0 - 60 * DAY)
    assert len(w.host.requests(RING)) == 3


def test_approve_deny_grant_unseal_with_grant(governed):
    w = governed
    kept = w.seal(b"kept", b"c")
    req = w.host.request_access(RING, "debug", 4 * HOUR, as_=w.eng, since=T0)
    with pytest.raises(dkm.PolicyUnsatisfied):  # no approval yet
        w.host.grant(RING, req, as_=w.svc)
    with pytest.raises(dkm.PolicyUnsatisfied):  # levels in order
        w.host.approve(RING, req, "security", as_=w.sec)
    with pytest.raises(dkm.InvalidInput):
        w.host.approve(RING, req, "nope", as_=w.ops)
    assert w.host.approve(RING, req, "ops", as_=w.ops) is None
    with pytest.raises(dkm.InvalidInput):  # twice
        w.host.approve(RING, req, "ops", as_=w.ops)
    with pytest.raises(dkm.NotAMember):
        w.host.approve(RING, req, "security", as_=w.eng)
    w.host.approve(RING, req, "security", as_=w.sec)
    [r] = w.host.requests(RING)
    assert r.state == "approved"
    assert r.levels == (dkm.LevelTally("ops", 1, 1), dkm.LevelTally("security", 1, 1))
    with pytest.raises(dkm.NotAMember):  # a key holder grants
        w.host.grant(RING, req, as_=w.eng)
    g = w.host.grant(RING, req, as_=w.svc)
    assert isinstance(g, dkm.IssuedGrant)
    assert HEX32.match(g.id) and g.request == req and g.requester == w.eng.id
    assert g.not_before == T1 and g.not_after == T1 + 4 * HOUR
    assert isinstance(g.bytes, bytes) and g.bytes
    assert "bytes" not in repr(g) and g.id in repr(g)
    assert w.host.requests(RING)[0].state == "granted"
    u = w.host.unseal_with_grant(RING, g.id, kept, b"c", as_=w.eng)
    assert (u.plaintext, u.origin) == (b"kept", "key-holder")
    u = w.host.unseal_with_grant(RING, g.id, w.host.seal_armored(RING, b"a", as_=w.svc), as_=w.eng)
    assert u.plaintext == b"a"
    with pytest.raises(dkm.Tampered):
        w.host.unseal_with_grant(RING, g.id, kept, b"d", as_=w.eng)
    with pytest.raises(dkm.NotAMember):
        w.host.unseal_with_grant(RING, g.id, kept, b"c", as_=w.ops)
    with pytest.raises(dkm.InvalidInput):
        w.host.unseal_with_grant(RING, "not-hex", kept, b"c", as_=w.eng)
    actions = [a.action for a in w.host.audit_records(RING)]
    assert "grant-issued" in actions and actions.count("grant-unseal") == 2
    unseals = [a for a in w.host.audit_records(RING) if a.action == "grant-unseal"]
    assert all(a.grant == g.id and a.actor == w.eng.id for a in unseals)

    # A denied request: one denial ends it.
    req2 = w.host.request_access(RING, "other", HOUR, as_=w.eng)
    assert w.host.deny(RING, req2, "ops", as_=w.ops) is None
    assert [x.state for x in w.host.requests(RING) if x.id == req2] == ["denied"]
    with pytest.raises(dkm.PolicyUnsatisfied):
        w.host.grant(RING, req2, as_=w.svc)
    with pytest.raises(dkm.PolicyUnsatisfied):
        w.host.approve(RING, req2, "security", as_=w.sec)
    with pytest.raises(dkm.InvalidInput):
        w.host.deny(RING, "xyz", "ops", as_=w.ops)


def test_grant_scope_of_epochs(governed):
    w = governed
    old = w.seal(b"epoch 1", b"c")
    w.host.roll_epoch(RING, as_=w.svc)
    new = w.seal(b"epoch 2", b"c")
    req = w.host.request_access(RING, "old only", HOUR, as_=w.eng, epochs=[1])
    w.approve_all(req)
    g = w.host.grant(RING, req, as_=w.svc)
    assert w.host.unseal_with_grant(RING, g.id, old, b"c", as_=w.eng).plaintext == b"epoch 1"
    with pytest.raises(dkm.UnknownKey):  # outside its scope
        w.host.unseal_with_grant(RING, g.id, new, b"c", as_=w.eng)


def test_keys_view(clock):
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=clock)
    admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
    ring_id = host.create_ring("r", as_=admin)
    host.add_member("r", "service", svc.public, as_=admin)
    k = host.keys("r")
    assert isinstance(k, dkm.KeyListing)
    assert k.ring == ring_id and k.current is None and k.epochs == ()
    assert k.write_time is None and k.fresh_until is None and k.kek_generation is None
    assert k.bootstrap and k.pending
    host.maintain("r", as_=svc)
    k = host.keys("r")
    assert k.current == dkm.KeyId(ring_id, 1, 0)
    assert k.write_time == T0 and k.fresh_until == T0 + 2 * DAY
    assert not k.stale and not k.pending and k.bootstrap and k.kek_generation == 1
    [e] = k.epochs
    assert isinstance(e, dkm.EpochInfo)
    assert e.epoch == 1 and e.state == "live" and e.interval == DAY
    assert e.start <= T0 < e.start + DAY and e.start.tzinfo is not None
    assert e.end > e.start and e.created == T0 and e.retired is None
    assert e.readable == ((0, 65535),)
    clock.set(T0 + DAY + 2 * HOUR)
    assert host.keys("r").current.interval == 1
    clock.set(T0 + 3 * DAY)
    assert host.keys("r").stale
    with pytest.raises(dkm.InvalidInput):
        host.keys("nope")


def test_ring_info_view(world):
    info = world.host.ring_info(RING)
    assert isinstance(info, dkm.RingInfo)
    assert info.name == RING and info.id == world.ring_id
    assert info.governance_version == info.applied_version == 4
    assert not info.pending
    assert all(isinstance(m, dkm.Member) for m in info.members)
    roles = {m.id: m.role for m in info.members}
    assert roles == {
        world.admin.id: "admin",
        world.svc.id: "service",
        world.ops.id: "approver",
        world.sec.id: "approver",
    }
    assert all(m.public.id == m.id for m in info.members)
    assert isinstance(info.policy, dkm.Policy) and info.policy == dkm.Policy()
    assert info.epochs == ((1, "live"),)
    assert info.warnings and all(isinstance(x, str) for x in info.warnings)
    assert any("approval" in x for x in info.warnings)  # bootstrap: no policy yet


def test_audit_records_and_verify(world):
    records = world.host.audit_records(RING)
    assert records and all(isinstance(r, dkm.AuditRecord) for r in records)
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    first = records[0]
    assert first.action == "governance-signed" and first.actor == world.admin.id
    assert first.time == T0 and first.clock_override is False
    assert any(r.action == "epoch-created" and r.epoch == 1 for r in records)
    for r in records:
        j = r.to_json()
        assert j == json.loads(r.line)
        assert j["seq"] == r.seq and j["hash"] == r.hash and j["action"] == r.action
        assert j["actor"] == r.actor and j["ring"] == world.ring_id
        assert HEX64.match(r.hash)
        assert "line=" not in repr(r)
    report = world.host.audit_verify(RING)
    assert report == dkm.AuditReport(
        records=len(records),
        verified=True,
        head_seq=records[-1].seq,
        head_hash=records[-1].hash,
        problem_index=None,
        problem_fault=None,
    )


def test_audit_verify_reports_a_broken_chain(clock, dict_store):
    w = make_world(dict_store, clock=clock)
    lines = dict_store.streams[(RING, "audit")]
    last = len(lines) - 1
    record = json.loads(lines[last])
    record["time"] += 1
    lines[last] = json.dumps(record, separators=(",", ":"))
    report = w.host.audit_verify(RING)
    assert report.verified is False
    assert report.problem_index == last and isinstance(report.problem_fault, str)
    assert report.records == len(lines)
    with pytest.raises(dkm.Tampered):  # a writer checks the chain first
        w.host.roll_epoch(RING, as_=w.svc)


def test_snapshots(governed):
    w = governed
    kept = w.seal(b"kept", b"c")
    req = w.host.request_access(RING, "r", HOUR, as_=w.eng)
    snap = w.host.export_snapshot(RING)
    assert isinstance(snap, bytes) and len(snap) > 100
    with pytest.raises(dkm.InvalidInput):
        w.host.export_snapshot("nope")
    store2 = dkm.MemoryStore()
    h2 = dkm.Host(store2, pins=dkm.MemoryPins(), clock=w.clock)
    with pytest.raises(dkm.Malformed):
        h2.import_snapshot(snap[:-1])
    bad = bytearray(snap)
    bad[len(bad) // 3] ^= 1
    with pytest.raises(dkm.Tampered):
        h2.import_snapshot(bad)
    assert store2.names() == []
    assert h2.import_snapshot(memoryview(snap)) == RING
    assert store2.names() == [RING]
    assert h2.unseal(RING, kept, b"c", as_=w.svc).plaintext == b"kept"
    assert h2.requests(RING) == w.host.requests(RING)
    assert [r.id for r in h2.requests(RING)] == [req]
    assert [r.line for r in h2.audit_records(RING)] == w.audit_lines()
    assert h2.ring_info(RING) == w.host.ring_info(RING)
    assert h2.export_snapshot(RING) == snap
    with pytest.raises(dkm.InvalidInput):  # the name is taken now
        h2.import_snapshot(snap)
    # A newer ring pinned, then the older snapshot again: a rollback.
    h2.roll_epoch(RING, as_=w.svc)
    h2.rename_ring(RING, "moved", as_=w.admin)
    with pytest.raises(dkm.Rollback):
        h2.import_snapshot(snap)


def test_snapshot_into_a_file_store(world, tmp_path):
    kept = world.seal(b"kept")
    fs = dkm.FileStore(tmp_path / "store")
    assert fs.path == tmp_path / "store"
    assert not (tmp_path / "store").exists()  # made on first write
    fh = dkm.Host(fs, pins=tmp_path / "pins", clock=world.clock)
    assert fh.import_snapshot(world.host.export_snapshot(RING)) == RING
    assert (tmp_path / "store" / RING).exists()
    assert fh.unseal(RING, kept, as_=world.svc).plaintext == b"kept"
    assert any(p.name.endswith(".pin") for p in (tmp_path / "pins").iterdir())


# ---- identities ----


def test_identity_generate_text_and_files(tmp_path):
    me = dkm.Identity.generate()
    other = dkm.Identity.generate()
    assert HEX32.match(me.id) and me.id != other.id
    assert repr(me) == f"Identity(id='{me.id}')"
    assert me == dkm.Identity.from_text(me.to_text("me")) and me != other
    assert len({me, dkm.Identity.from_text(me.to_text("x")), other}) == 2
    text = me.to_text("my service")
    assert "my service" in text and "dkmsec1" in text
    assert dkm.Identity.from_text(text).id == me.id
    assert dkm.Identity.from_text(text.encode()).id == me.id
    assert dkm.Identity.from_text(bytearray(text.encode())).id == me.id
    for bad in ("", "x" * 65, "a\nb"):
        with pytest.raises(dkm.InvalidInput):
            me.to_text(bad)
    path = tmp_path / "me.id"
    me.save(path, "me")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().splitlines()[-1].startswith("dkmsec1")
    with pytest.raises(dkm.InvalidInput):  # never replaced
        other.save(path, "other")
    assert dkm.Identity.load(path) == me
    assert dkm.Identity.load(str(path)).id == me.id
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dkm.Identity.load(path)  # 0600: no warning
    os.chmod(path, 0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        assert dkm.Identity.load(path) == me
    os.chmod(path, 0o620)
    with pytest.raises(dkm.InvalidInput, match="writable"):
        dkm.Identity.load(path)
    with pytest.raises(dkm.InvalidInput):
        dkm.Identity.load(tmp_path / "missing.id")
    with pytest.raises(TypeError):
        dkm.Identity()


def test_identity_public():
    me = dkm.Identity.generate()
    pub = me.public
    assert isinstance(pub, dkm.PublicIdentity)
    assert pub.id == me.id
    assert pub == me.public and pub is not me.public


def test_public_identity_text_eq_hash():
    me, other = dkm.Identity.generate(), dkm.Identity.generate()
    pub = me.public
    text = pub.to_text()
    assert text.startswith("dkmpub1") and str(pub) == text
    assert repr(pub) == f"PublicIdentity('{text}')"
    assert dkm.PublicIdentity(text) == pub
    assert dkm.PublicIdentity.from_text(text) == pub
    assert dkm.PublicIdentity(f"  {text}\n") == pub
    assert hash(dkm.PublicIdentity(text)) == hash(pub)
    assert {pub: 1}[dkm.PublicIdentity(text)] == 1
    assert len({pub, dkm.PublicIdentity(text), other.public}) == 2
    assert pub != other.public
    assert pub != text  # a str is not a public identity
    assert pub != me
    with pytest.raises(TypeError):
        dkm.PublicIdentity(text.encode())


# ---- the host object ----


def test_host_is_a_context_manager(world):
    store = dkm.MemoryStore()
    with dkm.Host(store, pins=dkm.MemoryPins(), clock=T0) as h:
        assert isinstance(h, dkm.Host)
        h.create_ring("r", as_=world.admin)
        assert h.store is store
        assert repr(h) == "Host(MemoryStore(1 rings))"
    assert repr(h) == "Host(MemoryStore(1 rings), closed)"
    with pytest.raises(dkm.InvalidInput, match="closed"):
        h.ring_info("r")
    with pytest.raises(dkm.InvalidInput, match="closed"):
        h.now()
    with pytest.raises(dkm.InvalidInput, match="closed"):
        h.seal("r", b"x", as_=world.svc)
    h.close()  # again: nothing happens
    # An exception inside the block propagates, and the host is closed.
    with pytest.raises(ZeroDivisionError):
        with dkm.Host(store, pins=dkm.MemoryPins(), clock=T0) as h2:
            1 / 0
    with pytest.raises(dkm.InvalidInput):
        h2.keys("r")
    # The store lives on: another host reads it.
    assert dkm.Host(store, pins=dkm.MemoryPins(), clock=T0).ring_info("r").name == "r"


def test_host_close(world):
    world.host.close()
    with pytest.raises(dkm.InvalidInput):
        world.host.maintain(RING, as_=world.svc)
    fresh = dkm.Host(world.store, pins=world.pins, clock=world.clock)
    assert fresh.unseal(RING, fresh.seal(RING, b"x", as_=world.svc), as_=world.svc).plaintext == b"x"


def test_memory_store_and_file_store_objects(tmp_path):
    ms = dkm.MemoryStore()
    assert ms.names() == [] and repr(ms) == "MemoryStore(0 rings)"
    fs = dkm.FileStore(str(tmp_path / "s"))
    assert repr(fs) == f"FileStore({str(tmp_path / 's')!r})".replace("'", '"')
    with pytest.raises(dkm.InvalidInput):
        dkm.FileStore("")
    pins = dkm.MemoryPins()
    assert pins.pins() == [] and repr(pins) == "MemoryPins(0 pins)"


def test_pins_in_a_directory(tmp_path):
    pins = tmp_path / "pins"
    h = dkm.Host(dkm.MemoryStore(), pins=pins, clock=T0)
    ring_id = h.create_ring("r", as_=dkm.Identity.generate())
    assert (pins / f"{ring_id}.pin").exists()
    assert not (tmp_path / "_home").exists()  # $DKM_HOME untouched


def test_memory_pins_shared_by_hosts():
    store, pins = dkm.MemoryStore(), dkm.MemoryPins()
    h1 = dkm.Host(store, pins=pins, clock=T0)
    h1.create_ring("r", as_=dkm.Identity.generate())
    assert len(pins.pins()) == 1
    h2 = dkm.Host(store, pins=pins, clock=T0)
    assert h2.ring_info("r").name == "r"
    assert len(pins.pins()) == 1


# ---- views ----


def _every_view(w, dict_store_world):
    """One instance of each view class."""
    h = w.host
    req = h.request_access(RING, "views", HOUR, as_=w.eng, since=T0)
    w.approve_all(req)
    grant = h.grant(RING, req, as_=w.svc)
    info = h.ring_info(RING)
    keys = h.keys(RING)
    _name, commit = dict_store_world.store.commits[-1]
    return {
        dkm.ApprovalLevel: dkm.ApprovalLevel("ops", 1, (w.ops.public,)),
        dkm.LevelPolicy: info.policy.levels[0],
        dkm.Policy: info.policy,
        dkm.ChangeOutcome: h.revoke_grant(RING, grant.id, as_=w.admin),
        dkm.Event: h.maintain(RING, as_=w.svc)[0],
        dkm.Member: info.members[0],
        dkm.RingInfo: info,
        dkm.KeyId: keys.current,
        dkm.EpochInfo: keys.epochs[0],
        dkm.KeyListing: keys,
        dkm.LevelTally: h.requests(RING)[0].levels[0],
        dkm.RequestView: h.requests(RING)[0],
        dkm.IssuedGrant: grant,
        dkm.AuditRecord: h.audit_records(RING)[0],
        dkm.AuditReport: h.audit_verify(RING),
        dkm.RingWrite: next(c.ring for _n, c in dict_store_world.store.commits if c.ring),
        dkm.Commit: commit,
    }


def test_views_are_frozen_dataclasses_with_readable_reprs(governed):
    dw = make_world(DictStore())
    views = _every_view(governed, dw)
    assert len(views) == 17
    for cls, value in views.items():
        assert type(value) is cls, cls
        assert dataclasses.is_dataclass(value)
        field = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.new_attribute = 1
        text = repr(value)
        assert text.startswith(f"{cls.__name__}(") and text.endswith(")")
        assert f"{field}=" in text
        assert "object at 0x" not in text
        assert value == dataclasses.replace(value)
    # Bytes that are long or secret-adjacent are kept out of the reprs.
    assert "bytes=" not in repr(views[dkm.IssuedGrant])
    assert "line=" not in repr(views[dkm.AuditRecord])
    assert "bytes=" not in repr(views[dkm.RingWrite])
    # Times are aware datetimes in UTC; durations timedeltas.
    keys = views[dkm.KeyListing]
    for t in (keys.write_time, keys.fresh_until, views[dkm.IssuedGrant].not_after):
        assert isinstance(t, datetime) and t.utcoffset() == timedelta(0)
    assert views[dkm.EpochInfo].interval == DAY
    assert isinstance(views[dkm.RequestView].duration, timedelta)


def test_views_are_hashable_where_their_fields_are(governed):
    assert hash(dkm.KeyId("r", 1, 2)) == hash(dkm.KeyId("r", 1, 2))
    assert hash(dkm.Policy()) == hash(dkm.Policy())
    events = governed.host.roll_epoch(RING, as_=governed.svc)
    assert len(set(events)) == len(events)


def test_views_holding_public_identities_convert_with_asdict(world):
    info = world.host.ring_info(RING)
    d = dataclasses.asdict(info)
    assert d["members"][0]["public"] == info.members[0].public


def test_seals_of_changing_sizes_on_one_thread_each_stand_alone(world) -> None:
    # A thread reuses one buffer for sealed bytes: each result must be exactly its own
    # secret, whatever size came before it (and a result must not change afterwards).
    sizes = [1 << 20, 5, 0, 70_000, 64, 1 << 20, 3]
    sealed = [(n, world.host.seal(RING, bytes([n % 251]) * n, b"c", as_=world.svc)) for n in sizes]
    for n, s in sealed:
        assert world.host.unseal(RING, s, b"c", as_=world.svc).plaintext == bytes([n % 251]) * n
