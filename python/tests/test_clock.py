"""The host's clock: a fixed datetime, a callable read at each call, and a callable that
fails (the verb fails, nothing is written)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import dkm
from dkm_testlib import DAY, HOUR, RING, T0, T1, UTC, Clock, DictStore, make_world


def test_a_fixed_clock():
    h = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=T0)
    assert h.now() == T0 and h.now().tzinfo is not None
    admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
    h.create_ring("r", as_=admin)
    h.add_member("r", "service", svc.public, as_=admin)
    h.maintain("r", as_=svc)
    records = h.audit_records("r")
    assert records
    assert all(r.clock_override is True for r in records)
    assert all(r.to_json()["clock_override"] is True for r in records)
    assert {r.time for r in records} == {T0}
    assert all(r.to_json()["time"] == 1_900_000_000 for r in records)
    keys = h.keys("r")
    assert keys.write_time == T0 and keys.fresh_until == T0 + 2 * DAY


def test_a_fixed_clock_in_another_time_zone():
    plus5 = timezone(timedelta(hours=5))
    h = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=T0.astimezone(plus5))
    assert h.now() == T0 and h.now().utcoffset() == timedelta(0)
    # Sub-second parts are dropped (times are whole Unix seconds).
    h = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=T0 + timedelta(microseconds=999_999))
    assert h.now() == T0


def test_a_fixed_clock_must_be_aware():
    with pytest.raises(dkm.InvalidInput, match="naive"):
        dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=datetime(2030, 1, 1))
    with pytest.raises(dkm.InvalidInput, match="1970"):
        dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=datetime(1960, 1, 1, tzinfo=UTC))


def test_the_system_clock():
    h = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins())
    before = datetime.now(UTC).replace(microsecond=0)
    now = h.now()
    assert before - timedelta(seconds=1) <= now <= datetime.now(UTC) + timedelta(seconds=1)
    admin = dkm.Identity.generate()
    h.create_ring("r", as_=admin)
    assert [r.clock_override for r in h.audit_records("r")] == [False]


def test_a_callable_clock_read_at_each_call(clock):
    w = make_world(clock=clock)
    assert all(r.clock_override is False for r in w.host.audit_records(RING))
    calls = clock.calls
    assert w.host.now() == T0
    assert clock.calls > calls
    clock.set(T0 + 2 * DAY + HOUR)
    assert w.host.now() == T0 + 2 * DAY + HOUR
    assert w.host.keys(RING).stale
    events = w.host.maintain(RING, as_=w.svc)
    assert any(e.action == "freshness-renewed" for e in events)
    assert w.host.keys(RING).fresh_until == T0 + 4 * DAY + HOUR
    assert w.host.audit_records(RING)[-1].time == T0 + 2 * DAY + HOUR
    # A plain function does as well as a callable object.
    h = dkm.Host(w.store, pins=w.pins, clock=lambda: T0 + 3 * DAY)
    assert h.now() == T0 + 3 * DAY


def test_a_grant_refused_after_its_window_on_the_same_host():
    w = make_world(levels=True)
    sealed = w.seal(b"in the window", b"c")
    req = w.host.request_access(RING, "an hour", HOUR, as_=w.eng, since=T0)
    w.approve_all(req)
    g = w.host.grant(RING, req, as_=w.svc)
    assert g.not_before == T1 and g.not_after == T1 + HOUR
    w.clock.advance(HOUR - timedelta(seconds=1))
    assert w.host.unseal_with_grant(RING, g.id, sealed, b"c", as_=w.eng).plaintext == b"in the window"
    w.clock.advance(timedelta(seconds=2))
    with pytest.raises(dkm.GrantExpired):
        w.host.unseal_with_grant(RING, g.id, sealed, b"c", as_=w.eng)
    # The refusal left no grant-unseal record behind.
    unseals = [r for r in w.host.audit_records(RING) if r.action == "grant-unseal"]
    assert len(unseals) == 1


def test_a_request_expires_with_the_clock():
    w = make_world(levels=True)
    req = w.host.request_access(RING, "later", HOUR, as_=w.eng)
    w.clock.advance(13 * HOUR)  # past the 12 h request lifetime
    assert [r.state for r in w.host.requests(RING)] == ["expired"]
    with pytest.raises(dkm.PolicyUnsatisfied, match="expired"):
        w.host.approve(RING, req, "ops", as_=w.ops)
    with pytest.raises(dkm.PolicyUnsatisfied, match="expired"):
        w.host.grant(RING, req, as_=w.svc)


class ClockBroke(Exception):
    pass


def _snapshot(w):
    return (
        w.audit_lines(),
        [r.id for r in w.host.requests(RING)],
        w.host.ring_info(RING),
    )


@pytest.mark.parametrize(
    "error",
    [ClockBroke("the time server is down"), ZeroDivisionError("oops"), RuntimeError("x")],
    ids=["custom", "zero-division", "runtime"],
)
def test_a_clock_that_raises_fails_the_verb_and_writes_nothing(error):
    clock = Clock(T0)
    w = make_world(clock=clock)
    clock.set(T0 + 10 * DAY)  # maintain has work to do
    before = _snapshot(w)
    clock.error = error
    verbs = [
        lambda: w.host.maintain(RING, as_=w.svc),
        lambda: w.host.roll_epoch(RING, as_=w.svc),
        lambda: w.host.seal(RING, b"x", as_=w.svc),
        lambda: w.host.request_access(RING, "r", HOUR, as_=w.eng),
        lambda: w.host.add_member(RING, "admin", w.eng.public, as_=w.admin),
        lambda: w.host.create_ring("another", as_=w.admin),
        lambda: w.host.revoke_epoch(RING, 1, as_=w.admin),
        lambda: w.host.now(),
    ]
    for verb in verbs:
        with pytest.raises(dkm.InvalidInput) as e:
            verb()
        assert e.value.__cause__ is error
        assert "clock" in str(e.value)
    clock.error = None
    assert _snapshot(w) == before
    assert w.store.names() == [RING]
    events = w.host.maintain(RING, as_=w.svc)  # the clock back: maintain writes
    assert events and len(w.audit_lines()) > len(before[0])


def test_a_clock_that_raises_writes_nothing_to_a_python_store():
    store, clock = DictStore(), Clock(T0)
    w = make_world(store, clock=clock)
    commits = len(store.commits)
    clock.error = ClockBroke("no time")
    with pytest.raises(dkm.InvalidInput) as e:
        w.host.roll_epoch(RING, as_=w.svc)
    assert isinstance(e.value.__cause__, ClockBroke)
    assert len(store.commits) == commits


def test_a_failing_clock_saves_no_pin(world, tmp_path):
    pins = tmp_path / "fresh-pins"
    clock = Clock(T0)
    clock.error = ClockBroke("no time")
    h = dkm.Host(world.store, pins=pins, clock=clock)
    for verb in (lambda: h.ring_info(RING), lambda: h.keys(RING),
                 lambda: h.seal(RING, b"x", as_=world.svc)):
        with pytest.raises(dkm.InvalidInput):
            verb()
    assert not pins.exists() or not any(p.suffix == ".pin" for p in pins.iterdir())
    clock.error = None
    assert h.ring_info(RING).name == RING  # the clock back: a first use pins
    assert any(p.suffix == ".pin" for p in pins.iterdir())


@pytest.mark.parametrize(
    "reply,cause,match",
    [
        (datetime(2030, 1, 1), dkm.InvalidInput, "naive"),
        (1_900_000_000, TypeError, "datetime"),
        ("2030-01-01T00:00:00Z", TypeError, "datetime"),
        (None, TypeError, "datetime"),
        (datetime(1960, 1, 1, tzinfo=UTC), dkm.InvalidInput, "1970"),
    ],
    ids=["naive", "int", "str", "none", "before-1970"],
)
def test_a_clock_returning_no_aware_datetime(reply, cause, match):
    w = make_world()
    before = w.audit_lines()
    h = dkm.Host(w.store, pins=w.pins, clock=lambda: reply)
    with pytest.raises(dkm.InvalidInput, match=match) as e:
        h.maintain(RING, as_=w.svc)
    assert isinstance(e.value.__cause__, cause)
    assert w.audit_lines() == before


def test_a_clock_raising_a_dkm_error_keeps_its_kind():
    """As the C binding's clock callback picks its status: a dkm error keeps its kind."""
    w = make_world()
    down = dkm.StoreUnavailable("the time source is down")

    def clock():
        raise down

    h = dkm.Host(w.store, pins=w.pins, clock=clock)
    with pytest.raises(dkm.StoreUnavailable) as e:
        h.maintain(RING, as_=w.svc)
    assert e.value.__cause__ is down


def test_the_cause_of_one_failure_does_not_stick_to_the_next(world):
    clock = Clock(T0)
    clock.error = ClockBroke("once")
    h = dkm.Host(world.store, pins=world.pins, clock=clock)
    with pytest.raises(dkm.InvalidInput) as e:
        h.now()
    assert isinstance(e.value.__cause__, ClockBroke)
    clock.error = None
    with pytest.raises(dkm.NotAMember) as e:
        h.seal(RING, b"x", as_=world.eng)
    assert e.value.__cause__ is None
