"""Stores: a ``dkm.Store`` written in Python over dicts (the full story, commits, conflicts),
and the file store shared by two hosts and by two processes."""

from __future__ import annotations

import json
import multiprocessing

import pytest

import dkm
import dkm_testlib
from dkm_testlib import HOUR, RING, T0, Clock, DictStore, make_world


def _commits(store):
    return [c for _name, c in store.commits]


def test_the_full_story_on_a_python_store(dict_store, clock):
    host = dkm.Host(dict_store, pins=dkm.MemoryPins(), clock=clock)
    assert host.store is dict_store
    assert "DictStore" in repr(host)
    admin, svc, eng = (dkm.Identity.generate() for _ in range(3))

    # create: the ring must not exist yet; the audit chain starts empty.
    ring_id = host.create_ring(RING, as_=admin)
    [first] = _commits(dict_store)
    assert isinstance(first, dkm.Commit) and isinstance(first.ring, dkm.RingWrite)
    assert first.ring.expected_token is None and first.move_to is None
    assert [(s, n, len(lines)) for s, n, lines in first.appends] == [("audit", 0, 1)]
    assert dict_store.rings[RING] == (first.ring.bytes, "v1")
    assert json.loads(first.appends[0][2][0])["ring"] == ring_id

    # member, maintain: each ring write expects the token it read, each append the count.
    host.add_member(RING, "service", svc.public, as_=admin)
    events = host.maintain(RING, as_=svc)
    assert any(e.action == "epoch-created" for e in events)
    tokens = ["v%d" % i for i in range(1, dict_store.version + 1)]
    expected = [c.ring.expected_token for c in _commits(dict_store) if c.ring is not None]
    assert expected == [None] + tokens[:-1]
    audit = dict_store.streams[(RING, "audit")]
    counted = 0
    for c in _commits(dict_store):
        for stream, count, lines in c.appends:
            if stream == "audit":
                assert count == counted
                counted += len(lines)
    assert counted == len(audit)
    assert all(json.loads(line)["seq"] == i + 1 for i, line in enumerate(audit))

    # seal, unseal: reads only.
    n = len(dict_store.commits)
    sealed = host.seal(RING, b"on a dict", b"ctx", as_=svc)
    assert host.unseal(RING, sealed, b"ctx", as_=svc).plaintext == b"on a dict"
    assert len(dict_store.commits) == n

    # the request log
    req = host.request_access(RING, "why", HOUR, as_=eng)
    assert len(dict_store.streams[(RING, "requests")]) == 1
    assert [r.id for r in host.requests(RING)] == [req]

    # rename: one commit moving the ring and both streams.
    host.rename_ring(RING, "renamed", as_=admin)
    last = _commits(dict_store)[-1]
    assert last.move_to == "renamed"
    assert sorted(dict_store.rings) == ["renamed"]
    assert {name for name, _s in dict_store.streams} == {"renamed"}
    assert host.unseal("renamed", sealed, b"ctx", as_=svc).plaintext == b"on a dict"
    assert [r.id for r in host.requests("renamed")] == [req]
    report = host.audit_verify("renamed")
    assert report.verified and report.records == len(dict_store.streams[("renamed", "audit")])

    # Every call came with well-typed arguments; location was read once, at Host().
    methods = {m for m, _t in dict_store.calls}
    assert {"ring", "commit", "line_count"} <= methods


def test_location_is_read_once(dict_store):
    calls = []
    real = dict_store.location

    def location():
        calls.append(1)
        return real()

    dict_store.location = location
    w = make_world(dict_store)
    w.seal(b"x")
    assert calls == [1]


def test_snapshots_in_and_out_of_a_python_store(world, dict_store):
    kept = world.seal(b"kept")
    h = dkm.Host(dict_store, pins=dkm.MemoryPins(), clock=world.clock)
    assert h.import_snapshot(world.host.export_snapshot(RING)) == RING
    [c] = _commits(dict_store)
    assert c.ring.expected_token is None
    assert sorted(s for s, _n, _l in c.appends) == ["audit", "requests"]
    assert h.unseal(RING, kept, as_=world.svc).plaintext == b"kept"
    with pytest.raises(dkm.InvalidInput, match="already exists"):
        h.import_snapshot(world.host.export_snapshot(RING))
    assert h.export_snapshot(RING) == world.host.export_snapshot(RING)


def test_two_hosts_on_one_python_store(dict_store):
    w = make_world(dict_store)
    other = dkm.Host(dict_store, pins=dkm.MemoryPins(), clock=w.clock)
    sealed = other.seal(RING, b"from the other host", as_=w.svc)
    assert w.unseal(sealed) == b"from the other host"
    other.roll_epoch(RING, as_=w.svc)
    assert w.host.keys(RING).current.epoch == 2
    assert w.host.audit_verify(RING).verified


def test_a_commit_that_conflicts_once_is_retried(dict_store):
    w = make_world(dict_store)
    real = dict_store.commit
    attempts = []

    def once(name, commit):
        attempts.append(commit)
        if len(attempts) == 1:
            raise dkm.Conflict("lost a race")
        return real(name, commit)

    dict_store.commit = once
    before = len(dict_store.streams[(RING, "audit")])
    events = w.host.roll_epoch(RING, as_=w.svc)
    assert any(e.action == "epoch-created" and e.epoch == 2 for e in events)
    assert len(attempts) == 2
    # Written once, not twice.
    audit = dict_store.streams[(RING, "audit")]
    assert len(audit) == before + len(attempts[1].appends[0][2])
    assert [json.loads(x)["seq"] for x in audit] == list(range(1, len(audit) + 1))
    assert w.host.audit_verify(RING).verified


def test_a_real_race_between_two_hosts(dict_store):
    """Host B writes while host A's commit is under way: A's expectations no longer hold,
    the store says Conflict, and A runs again on what B wrote."""
    w = make_world(dict_store)
    host_b = dkm.Host(dict_store, pins=dkm.MemoryPins(), clock=w.clock)
    real = dict_store.commit
    raced = []

    def commit(name, c):
        if not raced:
            raced.append(True)
            host_b.request_access(RING, "b came first", HOUR, as_=w.eng)
        return real(name, c)

    dict_store.commit = commit
    req_a = w.host.request_access(RING, "a", HOUR, as_=w.eng)
    del dict_store.commit
    assert [r.reason for r in w.host.requests(RING)] == ["b came first", "a"]
    assert w.host.requests(RING)[1].id == req_a
    assert w.host.audit_verify(RING).verified


def test_a_commit_that_always_conflicts(dict_store):
    w = make_world(dict_store)
    attempts = []

    def always(name, commit):
        attempts.append(commit)
        raise dkm.Conflict("never mine")

    dict_store.commit = always
    rings, streams = dict(dict_store.rings), {k: list(v) for k, v in dict_store.streams.items()}
    with pytest.raises(dkm.Conflict):
        w.host.roll_epoch(RING, as_=w.svc)
    assert len(attempts) > 1  # retried before giving up
    assert dict_store.rings == rings and dict_store.streams == streams
    del dict_store.commit
    assert w.host.roll_epoch(RING, as_=w.svc)


def test_a_commit_failing_otherwise_is_not_retried(dict_store):
    w = make_world(dict_store)
    attempts = []

    def broken(name, commit):
        attempts.append(commit)
        raise ValueError("schema mismatch")

    dict_store.commit = broken
    with pytest.raises(dkm.StoreUnavailable) as e:
        w.host.roll_epoch(RING, as_=w.svc)
    assert isinstance(e.value.__cause__, ValueError)
    assert len(attempts) == 1


def test_a_store_subclass_and_plain_functions_will_do():
    """Any object with the methods: here one whose methods are attributes set on it."""

    class Bare:
        pass

    inner = DictStore()
    bare = Bare()
    for m in ("ring", "line_count", "last_line", "lines_from", "commit", "names", "location"):
        setattr(bare, m, getattr(inner, m))
    w = make_world(bare)
    assert w.unseal(w.seal(b"bare")) == b"bare"
    assert inner.names() == [RING]


# ---- the file store ----


def test_a_file_store_shared_by_two_hosts(tmp_path):
    clock = Clock(T0)
    w = make_world(dkm.FileStore(tmp_path / "store"), pins=tmp_path / "pins1", clock=clock)
    h2 = dkm.Host(dkm.FileStore(tmp_path / "store"), pins=tmp_path / "pins2", clock=clock)
    s1 = w.seal(b"by host 1", b"c")
    assert h2.unseal(RING, s1, b"c", as_=w.svc).plaintext == b"by host 1"
    h2.roll_epoch(RING, as_=w.svc)
    assert w.host.keys(RING).current.epoch == 2
    s2 = w.seal(b"by host 1, epoch 2")
    assert h2.unseal(RING, s2, as_=w.svc).plaintext == b"by host 1, epoch 2"
    h2.rename_ring(RING, "moved", as_=w.admin)
    assert w.host.unseal("moved", s1, b"c", as_=w.svc).plaintext == b"by host 1"
    assert w.host.audit_verify("moved").verified
    assert (tmp_path / "store" / "moved").exists()
    assert not (tmp_path / "store" / RING).exists()


def _run(ctx, target, *args):
    p = ctx.Process(target=target, args=args)
    p.start()
    return p


def _join(p):
    p.join(60)
    assert p.exitcode == 0, f"{p.name} exited with {p.exitcode}"


def test_a_file_store_shared_by_two_processes(tmp_path):
    store, pins = tmp_path / "store", tmp_path / "pins"
    w = make_world(dkm.FileStore(store), pins=pins, clock=Clock(T0))
    svc_path, eng_path = tmp_path / "svc.id", tmp_path / "eng.id"
    w.svc.save(svc_path, "svc")
    w.eng.save(eng_path, "eng")
    items = [(f"secret {i}".encode() * (i + 1), f"ctx {i}".encode()) for i in range(5)]
    ctx = multiprocessing.get_context("spawn")

    # One process seals, the other unseals (each with its own pin book).
    sealed_path, out_path = tmp_path / "sealed.txt", tmp_path / "out.txt"
    _join(_run(ctx, dkm_testlib.proc_seal, str(store), str(tmp_path / "pins-a"),
               str(svc_path), RING, items, str(sealed_path)))
    _join(_run(ctx, dkm_testlib.proc_unseal, str(store), str(tmp_path / "pins-b"),
               str(svc_path), RING, str(sealed_path), [c for _p, c in items], str(out_path)))
    got = [bytes.fromhex(x) for x in out_path.read_text().split()]
    assert got == [p for p, _c in items]
    # What the processes sealed opens here too.
    for line, (pt, c) in zip(sealed_path.read_text().split(), items):
        assert w.host.unseal(RING, line, c, as_=w.svc).plaintext == pt

    # Two writers at once: every request lands, the audit chain holds.
    start = ctx.Event()
    writers = [
        _run(ctx, dkm_testlib.proc_request, str(store), str(tmp_path / f"pins-w{i}"),
             str(eng_path), RING, 5, start)
        for i in range(2)
    ]
    start.set()
    for p in writers:
        _join(p)
    reasons = [r.reason for r in w.host.requests(RING)]
    assert sorted(reasons) == sorted([f"request {i}" for i in range(5)] * 2)
    report = w.host.audit_verify(RING)
    assert report.verified and report.records == len(w.host.audit_records(RING))
