"""dkm's exceptions: one class per error kind, each provoked where practical; and wrong Python
types, which are TypeErrors (never a crash, never a dkm error)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import dkm
from dkm_testlib import DAY, HOUR, RING, T0, change_char, make_world

KINDS = [
    "Malformed",
    "Unsupported",
    "TooLarge",
    "BadChecksum",
    "Tampered",
    "UnknownKey",
    "KeyRevoked",
    "KeyDestroyed",
    "OutOfRange",
    "InvalidInput",
    "NotAMember",
    "GrantExpired",
    "PolicyUnsatisfied",
    "Conflict",
    "StoreUnavailable",
    "Stale",
    "Rollback",
    "Internal",
]


# ---- the classes ----


def test_base_class():
    assert issubclass(dkm.DkmError, Exception)
    assert dkm.DkmError.kind is None and dkm.DkmError.code is None
    assert dkm.DkmError.__module__ == "dkm"
    assert dkm.DkmError.__doc__


@pytest.mark.parametrize("code,name", list(enumerate(KINDS, start=1)))
def test_each_kind_has_its_class(code, name):
    cls = getattr(dkm, name)
    assert name in dkm.__all__
    assert isinstance(cls, type) and issubclass(cls, dkm.DkmError)
    assert cls is not dkm.DkmError
    assert cls.__name__ == name and cls.__module__ == "dkm"
    assert cls.kind == name and cls.code == code
    assert cls.__doc__
    e = cls("a message")
    assert e.kind == name and e.code == code and str(e) == "a message"
    with pytest.raises(dkm.DkmError):
        raise e


def test_the_kinds_are_distinct_and_complete():
    classes = [getattr(dkm, n) for n in KINDS]
    assert len(set(classes)) == 18
    assert sorted(c.code for c in classes) == list(range(1, 19))
    for a in classes:
        for b in classes:
            assert issubclass(a, b) == (a is b)
    # The native module's exception classes are the package's.
    subclasses = {c.__name__ for c in dkm.DkmError.__subclasses__()}
    assert subclasses == set(KINDS)


# ---- provoked ----


def test_malformed(world):
    sealed = world.seal(b"x")
    for bad in (sealed[:10], b"", b"\x01"):
        with pytest.raises(dkm.Malformed) as e:
            world.unseal(bad)
        assert e.value.kind == "Malformed" and e.value.code == 1
    with pytest.raises(dkm.Malformed):
        dkm.Identity.from_text("hello")
    with pytest.raises(dkm.Malformed):
        dkm.PublicIdentity("dkmpub1")
    with pytest.raises(dkm.Malformed):
        dkm.PublicIdentity("")
    with pytest.raises(dkm.Malformed):
        world.host.import_snapshot(b"not a snapshot")
    with pytest.raises(dkm.Malformed):
        dkm.RingPublic(b"junk")


def test_unsupported(world):
    sealed = bytearray(world.seal(b"x"))
    assert sealed[0] == 1
    sealed[0] = 2
    with pytest.raises(dkm.Unsupported, match="version"):
        world.unseal(bytes(sealed))
    with pytest.raises(dkm.Unsupported):  # garbage: not a known version
        world.unseal(b"garbage that is not a sealed secret at all")


def test_too_large(world):
    levels = [dkm.ApprovalLevel(f"l{i}", 1, (world.ops.public,)) for i in range(9)]
    with pytest.raises(dkm.TooLarge):
        world.host.set_approval_levels(RING, levels, as_=world.admin)


def test_bad_checksum():
    me = dkm.Identity.generate()
    text = me.public.to_text()
    with pytest.raises(dkm.BadChecksum) as e:
        dkm.PublicIdentity(change_char(text, len(text) - 3))
    assert e.value.code == 4
    secret = [l for l in me.to_text("me").splitlines() if l.startswith("dkmsec1")][0]
    with pytest.raises(dkm.BadChecksum):
        dkm.Identity.from_text(change_char(secret, 20))


def test_tampered(world):
    sealed = world.seal(b"secret", b"ctx")
    with pytest.raises(dkm.Tampered):  # the wrong context
        world.unseal(sealed, b"other")
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(dkm.Tampered):  # a flipped byte
        world.unseal(bytes(flipped), b"ctx")
    flipped = bytearray(sealed)
    flipped[len(flipped) // 2] ^= 0x80
    with pytest.raises(dkm.Tampered):
        world.unseal(bytes(flipped), b"ctx")
    armored = world.host.seal_armored(RING, b"a", as_=world.svc)
    with pytest.raises(dkm.Tampered):  # a typo in the armor
        world.unseal(change_char(armored, len(armored) - 2))


def test_unknown_key(world):
    w2 = make_world()
    other = w2.seal(b"another ring's")
    world.host.add_member(RING, "service", w2.svc.public, as_=world.admin)
    with pytest.raises(dkm.UnknownKey):
        world.unseal(other)


def test_key_revoked(world):
    old = world.seal(b"old", b"c")
    world.host.roll_epoch(RING, as_=world.svc)
    world.host.revoke_epoch(RING, 1, as_=world.admin)
    world.host.maintain(RING, as_=world.svc)
    with pytest.raises(dkm.KeyRevoked) as e:
        world.unseal(old, b"c")
    assert e.value.code == 7


def test_key_destroyed(world):
    day0 = world.seal(b"day 0")
    world.clock.set(T0 + 5 * DAY)
    world.host.shred_before(RING, T0 + 2 * DAY, as_=world.admin)
    world.host.maintain(RING, as_=world.svc)
    with pytest.raises(dkm.KeyDestroyed):
        world.unseal(day0)


def test_out_of_range(clock):
    # With 1 s intervals an epoch lasts 65536 s: a key holder whose clock is more than that
    # behind the admin's shredding cutoff would create an epoch that is shredded whole.
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=clock)
    admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
    host.create_ring("fast", as_=admin, policy=dkm.Policy(interval=1, freshness_intervals=64))
    host.add_member("fast", "service", svc.public, as_=admin)
    clock.set(T0 + timedelta(seconds=100_000))
    host.shred_before("fast", T0 + timedelta(seconds=99_999), as_=admin)
    clock.set(T0)
    with pytest.raises(dkm.OutOfRange):
        host.maintain("fast", as_=svc)
    clock.set(T0 + timedelta(seconds=100_000))
    assert host.maintain("fast", as_=svc)


def test_invalid_input(world):
    with pytest.raises(dkm.InvalidInput, match="role"):
        world.host.add_member(RING, "superuser", world.eng.public, as_=world.admin)
    with pytest.raises(dkm.InvalidInput, match="already a member"):
        world.host.add_member(RING, "service", world.svc.public, as_=world.admin)
    with pytest.raises(dkm.InvalidInput, match="naive"):
        world.host.shred_before(RING, datetime(2030, 1, 1), as_=world.admin)
    with pytest.raises(dkm.InvalidInput, match="naive"):
        world.host.request_access(RING, "r", HOUR, as_=world.eng, since=datetime(2030, 1, 1))
    with pytest.raises(dkm.InvalidInput, match="naive"):
        dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=datetime(2030, 1, 1))
    with pytest.raises(dkm.InvalidInput, match="naive"):
        dkm.RingPublic(world.host.export_public(RING)).seal(b"x", now=datetime(2030, 1, 1))
    with pytest.raises(dkm.InvalidInput):
        world.host.keys("no-such-ring")
    with pytest.raises(dkm.InvalidInput):
        world.host.request_access(RING, "r", timedelta(seconds=-1), as_=world.eng)
    with pytest.raises(dkm.InvalidInput):
        world.host.request_access(RING, "r", timedelta(seconds=0.5), as_=world.eng)
    with pytest.raises(dkm.InvalidInput):
        world.host.approve(RING, "not a request id", "ops", as_=world.ops)
    with pytest.raises(dkm.InvalidInput):
        world.host.unseal_with_grant(RING, "zz", world.seal(b"x"), as_=world.eng)
    with pytest.raises(dkm.InvalidInput):
        dkm.Identity.from_text(world.admin.public.to_text())
    with pytest.raises(dkm.InvalidInput):
        dkm.FileStore("")


def test_a_secret_identity_in_place_of_a_public_one_is_never_echoed():
    me = dkm.Identity.generate()
    secret = [l for l in me.to_text("me").splitlines() if l.startswith("dkmsec1")][0]
    with pytest.raises(dkm.InvalidInput) as e:
        dkm.PublicIdentity(secret)
    assert secret not in str(e.value) and secret[7:23] not in str(e.value)


def test_not_a_member(world):
    with pytest.raises(dkm.NotAMember) as e:
        world.host.seal(RING, b"x", as_=world.eng)
    assert e.value.code == 11
    with pytest.raises(dkm.NotAMember):  # an admin holds no keys
        world.host.seal(RING, b"x", as_=world.admin)
    with pytest.raises(dkm.NotAMember):
        world.host.unseal(RING, world.seal(b"x"), as_=world.ops)
    with pytest.raises(dkm.NotAMember):
        world.host.maintain(RING, as_=world.eng)
    with pytest.raises(dkm.NotAMember):
        world.host.add_member(RING, "admin", world.eng.public, as_=world.svc)


def test_grant_expired_on_the_same_host(governed):
    w = governed
    kept = w.seal(b"kept", b"c")
    req = w.host.request_access(RING, "brief look", HOUR, as_=w.eng, since=T0)
    w.approve_all(req)
    g = w.host.grant(RING, req, as_=w.svc)
    assert w.host.unseal_with_grant(RING, g.id, kept, b"c", as_=w.eng).plaintext == b"kept"
    w.clock.advance(HOUR + timedelta(seconds=1))
    with pytest.raises(dkm.GrantExpired) as e:
        w.host.unseal_with_grant(RING, g.id, kept, b"c", as_=w.eng)
    assert e.value.code == 12
    with pytest.raises(dkm.GrantExpired):  # a grant never issued
        w.host.unseal_with_grant(RING, "0" * 32, kept, b"c", as_=w.eng)


def test_policy_unsatisfied(governed):
    w = governed
    req = w.host.request_access(RING, "r", HOUR, as_=w.eng)
    with pytest.raises(dkm.PolicyUnsatisfied):  # a grant of an unapproved request
        w.host.grant(RING, req, as_=w.svc)
    w.host.approve(RING, req, "ops", as_=w.ops)
    with pytest.raises(dkm.PolicyUnsatisfied):  # one level still missing
        w.host.grant(RING, req, as_=w.svc)
    change = w.host.add_member(RING, "admin", w.eng.public, as_=w.admin)
    with pytest.raises(dkm.PolicyUnsatisfied):
        w.host.apply(RING, change.request, as_=w.admin)


def test_policy_unsatisfied_before_the_cooloff():
    # Approvals logged inside the approvers' cool-off do not count.
    w = make_world()
    w.host.set_approval_levels(
        RING, [dkm.ApprovalLevel("ops", 1, (w.ops.public,))], as_=w.admin
    )
    w.host.maintain(RING, as_=w.svc)
    w.clock.set(T0 + HOUR)  # inside the 24 h cool-off
    req = w.host.request_access(RING, "early", HOUR, as_=w.eng)
    w.host.approve(RING, req, "ops", as_=w.ops)  # logged ...
    [r] = w.host.requests(RING)
    assert r.state == "pending" and r.levels[0].approvals == 0  # ... but not counted
    with pytest.raises(dkm.PolicyUnsatisfied):
        w.host.grant(RING, req, as_=w.svc)


def test_conflict_from_a_python_store(dict_store):
    w = make_world(dict_store)

    def conflicted(name, commit):
        raise dkm.Conflict("someone else wrote first")

    dict_store.commit = conflicted
    with pytest.raises(dkm.Conflict) as e:
        w.host.roll_epoch(RING, as_=w.svc)
    assert e.value.code == 14
    assert isinstance(e.value.__cause__, dkm.Conflict)


class StoreDown(Exception):
    pass


def test_store_unavailable_keeps_the_store_exception_as_cause(dict_store):
    w = make_world(dict_store)
    down = StoreDown("the database is down")

    def ring(name):
        raise down

    dict_store.ring = ring
    with pytest.raises(dkm.StoreUnavailable) as e:
        w.host.ring_info(RING)
    assert e.value.__cause__ is down
    assert "StoreDown" in str(e.value) and "ring()" in str(e.value)
    del dict_store.ring
    assert w.host.ring_info(RING).name == RING

    def commit(name, c):
        raise OSError("disk full")

    dict_store.commit = commit
    with pytest.raises(dkm.StoreUnavailable) as e:
        w.host.roll_epoch(RING, as_=w.svc)
    assert isinstance(e.value.__cause__, OSError)
    assert str(e.value.__cause__) == "disk full"


@pytest.mark.parametrize(
    "method,reply",
    [
        ("ring", 5),
        ("ring", ("not bytes", "t")),
        ("ring", (b"x", 5)),
        ("ring", [b"x", "t"]),
        ("line_count", "3"),
        ("line_count", -1),
        ("last_line", b"bytes"),
        ("lines_from", "a str"),
        ("lines_from", [1, 2]),
    ],
)
def test_store_replies_of_the_wrong_shape_are_store_unavailable(dict_store, method, reply):
    w = make_world(dict_store)
    setattr(dict_store, method, lambda *a: reply)
    with pytest.raises(dkm.StoreUnavailable, match=f"{method}\\(\\) must return"):
        w.host.roll_epoch(RING, as_=w.svc)
    delattr(dict_store, method)
    assert w.host.roll_epoch(RING, as_=w.svc)


def test_stale(world):
    h = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=T0)
    admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
    h.create_ring("new", as_=admin)
    h.add_member("new", "service", svc.public, as_=admin)
    rp = dkm.RingPublic(h.export_public("new"))
    with pytest.raises(dkm.Stale, match="no keys yet"):  # before any maintain
        h.seal_to(rp, b"x")
    with pytest.raises(dkm.Stale):
        rp.seal(b"x", now=T0)
    # Long after the last maintain.
    rp = dkm.RingPublic(world.host.export_public(RING))
    with pytest.raises(dkm.Stale, match="freshness"):
        rp.seal(b"x", now=T0 + 30 * DAY)
    world.clock.set(T0 + 30 * DAY)
    with pytest.raises(dkm.Stale) as e:
        world.host.seal_to(rp, b"x")
    assert e.value.code == 16
    # A governance change no key holder has carried out yet.
    world.host.maintain(RING, as_=world.svc)
    world.host.add_member(RING, "approver", world.eng.public, as_=world.admin)
    rp = dkm.RingPublic(world.host.export_public(RING))
    with pytest.raises(dkm.Stale, match="governance"):
        world.host.seal_to(rp, b"x")


def test_rollback_from_a_python_store(dict_store):
    w = make_world(dict_store)
    old = dict_store.rings[RING]
    w.host.roll_epoch(RING, as_=w.svc)
    new = dict_store.rings[RING]
    dict_store.rings[RING] = old  # the store serves an older ring
    with pytest.raises(dkm.Rollback) as e:
        w.host.ring_info(RING)
    assert e.value.code == 17
    # A host that never saw the newer ring trusts the old one on first use.
    assert dkm.Host(dict_store, pins=dkm.MemoryPins(), clock=w.clock).ring_info(RING)
    dict_store.rings[RING] = new
    assert w.host.ring_info(RING).name == RING


def test_internal_is_never_expected():
    assert dkm.Internal.code == 18 and dkm.Internal.kind == "Internal"


# ---- wrong Python types: TypeError ----


def test_wrong_types_are_type_errors(world, tmp_path):
    h, svc, admin = world.host, world.svc, world.admin
    sealed = world.seal(b"x", b"c")
    cases = [
        lambda: h.seal(RING, 5, as_=svc),  # an int as data
        lambda: h.seal(RING, "text", as_=svc),  # a str as data
        lambda: h.seal(RING, None, as_=svc),
        lambda: h.seal(RING, b"x", "ctx", as_=svc),  # a str as context
        lambda: h.seal(RING, b"x", 7, as_=svc),
        lambda: h.seal_armored(RING, [1, 2], as_=svc),
        lambda: h.unseal(RING, 12345, b"c", as_=svc),
        lambda: h.unseal(RING, sealed, "c", as_=svc),
        lambda: h.unseal(RING, sealed, b"c", as_=svc, accept_seal_only="no"),
        lambda: h.seal(RING, b"x", as_=svc.public),  # a public identity acting
        lambda: h.seal(RING, b"x", as_="svc"),
        lambda: h.seal(RING, b"x", as_=None),
        lambda: h.seal(RING, b"x"),  # as_ missing
        lambda: h.seal(RING, b"x", b"", svc),  # as_ is keyword-only
        lambda: h.seal(5, b"x", as_=svc),  # a ring name that is no str
        lambda: h.add_member(RING, "approver", world.eng, as_=admin),  # Identity for public
        lambda: h.add_member(RING, "approver", str(world.eng.public), as_=admin),
        lambda: h.add_member(RING, 1, world.eng.public, as_=admin),
        lambda: h.remove_member(RING, world.ops, as_=admin),
        lambda: h.revoke_epoch(RING, True, as_=admin),  # a bool as epoch
        lambda: h.revoke_epoch(RING, 1.0, as_=admin),
        lambda: h.revoke_epoch(RING, "1", as_=admin),
        lambda: h.shred_before(RING, 1_900_000_000, as_=admin),
        lambda: h.shred_before(RING, "2030-01-01", as_=admin),
        lambda: h.revoke_grant(RING, 5, as_=admin),
        lambda: h.request_access(RING, "r", 3600.0, as_=world.eng),
        lambda: h.request_access(RING, "r", True, as_=world.eng),
        lambda: h.request_access(RING, "r", HOUR, as_=world.eng, epochs="1"),
        lambda: h.request_access(RING, "r", HOUR, as_=world.eng, epochs=[True]),
        lambda: h.request_access(RING, "r", HOUR, as_=world.eng, epochs=5),
        lambda: h.request_access(RING, "r", HOUR, as_=world.eng, since=1_900_000_000),
        lambda: h.approve(RING, 5, "ops", as_=world.ops),
        lambda: h.grant(RING, b"00" * 32, as_=svc),
        lambda: h.set_approval_levels(RING, "ops", as_=admin),
        lambda: h.set_approval_levels(RING, [("ops", 1, (world.ops.public,))], as_=admin),
        lambda: h.set_approval_levels(
            RING, [dkm.ApprovalLevel("ops", 1, (world.ops,))], as_=admin
        ),
        lambda: h.set_approval_levels(
            RING, [dkm.ApprovalLevel("ops", True, (world.ops.public,))], as_=admin
        ),
        lambda: h.create_ring("p", as_=admin, policy={"interval": 60}),
        lambda: h.create_ring("p", as_=admin, policy=dkm.Policy(interval=60.0)),
        lambda: h.create_ring("p", as_=admin, policy=dkm.Policy(freshness_intervals=True)),
        lambda: h.seal_to(h.export_public(RING), b"x"),  # bytes, not a RingPublic
        lambda: h.import_snapshot("a str"),
        lambda: dkm.RingPublic("a str"),
        lambda: dkm.RingPublic(h.export_public(RING), pin=5),
        lambda: dkm.RingPublic(h.export_public(RING)).seal("text", now=T0),
        lambda: dkm.RingPublic(h.export_public(RING)).seal(b"x", now=1_900_000_000),
        lambda: dkm.PublicIdentity(5),
        lambda: dkm.PublicIdentity(world.eng),
        lambda: dkm.Identity.from_text(5),
        lambda: dkm.Identity.load(5),
        lambda: world.eng.save(tmp_path / "x.id", 5),
        lambda: dkm.FileStore(5),
        lambda: dkm.Host([], pins=dkm.MemoryPins()),  # a list as store
        lambda: dkm.Host({}, pins=dkm.MemoryPins()),
        lambda: dkm.Host(None, pins=dkm.MemoryPins()),
        lambda: dkm.Host(dkm.MemoryStore(), pins=5),
        lambda: dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=5),
        lambda: dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock="now"),
        lambda: dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=T0.date()),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(TypeError) as e:
            case()
        assert not isinstance(e.value, dkm.DkmError), i
    # The host still works.
    assert world.unseal(sealed, b"c") == b"x"
    assert h.store.names() == [RING]


def test_type_error_messages_name_the_argument(world):
    with pytest.raises(TypeError, match="the data must be bytes, bytearray or memoryview, not int"):
        world.host.seal(RING, 5, as_=world.svc)
    with pytest.raises(TypeError, match="the context must be bytes"):
        world.host.seal(RING, b"x", "c", as_=world.svc)
    with pytest.raises(TypeError, match=r"pass identity\.public"):
        world.host.add_member(RING, "approver", world.eng, as_=world.admin)
    with pytest.raises(TypeError, match="not bool"):
        world.host.revoke_epoch(RING, False, as_=world.admin)


class Partial:
    """Some of the store methods only."""

    def ring(self, name):
        return None

    def names(self):
        return []

    def location(self):
        return "partial"


def test_a_store_missing_methods_is_a_type_error():
    with pytest.raises(TypeError) as e:
        dkm.Host(Partial(), pins=dkm.MemoryPins())
    msg = str(e.value)
    for m in ("line_count", "last_line", "lines_from", "commit"):
        assert m in msg
    assert "missing" in msg and "names" not in msg.split("missing")[1]


def test_a_store_location_must_be_a_str(dict_store):
    dict_store.location = lambda: 5
    with pytest.raises(TypeError, match="location"):
        dkm.Host(dict_store, pins=dkm.MemoryPins())
    boom = RuntimeError("no location")

    def location():
        raise boom

    dict_store.location = location
    # Read once, at Host(): its exception comes out as it is, or as the cause of a dkm
    # error (the Store protocol does not say which); never swallowed.
    with pytest.raises((RuntimeError, dkm.StoreUnavailable)) as e:
        dkm.Host(dict_store, pins=dkm.MemoryPins())
    assert e.value is boom or e.value.__cause__ is boom


# ---- binding bugs found while writing these tests ----


def test_conflict_from_a_store_read_is_store_unavailable_not_retried(dict_store):
    w = make_world(dict_store)
    calls = []

    def ring(name):
        calls.append(name)
        raise dkm.Conflict("a read cannot conflict")

    dict_store.ring = ring
    with pytest.raises(dkm.StoreUnavailable):
        w.host.roll_epoch(RING, as_=w.svc)
    assert len(calls) == 1


@pytest.mark.parametrize("method", ["ring", "commit"])
def test_a_store_cannot_forge_error_kinds(dict_store, method):
    w = make_world(dict_store)

    def forged(*args):
        raise dkm.Tampered("forged by the store")

    setattr(dict_store, method, forged)
    with pytest.raises(dkm.StoreUnavailable) as e:
        w.host.roll_epoch(RING, as_=w.svc)
    assert isinstance(e.value.__cause__, dkm.Tampered)


def test_a_stale_store_exception_never_becomes_an_unrelated_cause(dict_store):
    w = make_world(dict_store)
    real_commit = dict_store.commit
    conflicts = []

    def once(name, commit):
        if not conflicts:
            conflicts.append(name)
            raise dkm.Conflict("lost one race")
        return real_commit(name, commit)

    dict_store.commit = once
    assert w.host.roll_epoch(RING, as_=w.svc)  # retried, succeeded
    assert conflicts
    with pytest.raises(dkm.Malformed) as e:
        dkm.PublicIdentity("dkmpub1")
    assert e.value.__cause__ is None


@pytest.mark.parametrize("where", ["store", "clock"])
def test_keyboard_interrupt_and_system_exit_propagate(dict_store, where):
    w = make_world(dict_store)
    if where == "store":

        def ring(name):
            raise KeyboardInterrupt()

        dict_store.ring = ring
        with pytest.raises(KeyboardInterrupt):
            w.host.ring_info(RING)
    else:

        def clock():
            raise SystemExit(3)

        h = dkm.Host(dict_store, pins=w.pins, clock=clock)
        with pytest.raises(SystemExit):
            h.now()
