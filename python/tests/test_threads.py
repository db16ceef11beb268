"""One host, many threads: seals and unseals from 8 threads on a memory store and a file
store; a Python store called from 4 threads at once."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import dkm
from dkm_testlib import HOUR, RING, DictStore, make_world

THREADS = 8
ROUNDS = 25


def _hammer(w, worker: int, rounds: int = ROUNDS):
    """Seals and unseals distinct payloads (some large: the GIL is released for them);
    returns how many round trips were right."""
    ok = 0
    for i in range(rounds):
        size = 20_000 if i % 5 == 0 else 1 + (worker * 31 + i) % 300
        data = os.urandom(size)
        ctx = f"worker {worker} round {i}".encode()
        if i % 2:
            sealed = w.host.seal_armored(RING, data, ctx, as_=w.svc)
        else:
            sealed = w.host.seal(RING, bytearray(data), ctx, as_=w.svc)
        u = w.host.unseal(RING, sealed, ctx, as_=w.svc)
        assert u.plaintext == data and u.origin == "key-holder"
        with pytest.raises(dkm.Tampered):
            w.host.unseal(RING, sealed, ctx + b"!", as_=w.svc)
        ok += 1
    return ok


def _in_threads(n, fn):
    barrier = threading.Barrier(n)

    def run(k):
        barrier.wait(10)
        return fn(k)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_eight_threads_seal_and_unseal_on_one_host(kind, tmp_path):
    if kind == "memory":
        w = make_world()
    else:
        w = make_world(dkm.FileStore(tmp_path / "store"), pins=tmp_path / "pins")
    before = w.host.ring_info(RING)
    assert _in_threads(THREADS, lambda k: _hammer(w, k)) == [ROUNDS] * THREADS
    assert w.host.ring_info(RING) == before  # sealing writes nothing
    assert w.host.audit_verify(RING).verified


def test_threads_share_secrets_across_each_other(world):
    """What one thread seals, another opens."""
    sealed = {}
    lock = threading.Lock()

    def seal(k):
        s = world.host.seal(RING, f"from {k}".encode(), str(k).encode(), as_=world.svc)
        with lock:
            sealed[k] = s

    _in_threads(THREADS, seal)

    def unseal(k):
        other = (k + 1) % THREADS
        return world.host.unseal(RING, sealed[other], str(other).encode(), as_=world.svc).plaintext

    assert _in_threads(THREADS, unseal) == [f"from {(k + 1) % THREADS}".encode() for k in range(THREADS)]


def test_threads_and_a_writer(world):
    """Seals go on while another thread rolls epochs: every secret still opens."""
    stop = threading.Event()
    rolled = []

    def roll():
        while not stop.is_set() and len(rolled) < 5:
            rolled.append(world.host.roll_epoch(RING, as_=world.svc))

    roller = threading.Thread(target=roll)
    roller.start()
    try:
        results = _in_threads(4, lambda k: _hammer(world, k, rounds=10))
    finally:
        stop.set()
        roller.join(30)
    assert results == [10] * 4
    assert rolled
    assert world.host.audit_verify(RING).verified


def test_a_python_store_called_from_four_threads():
    store = DictStore()
    w = make_world(store)
    main = threading.get_ident()
    idents = []
    lock = threading.Lock()

    def work(k):
        with lock:
            idents.append(threading.get_ident())
        ok = _hammer(w, k, rounds=10)
        # Writers too: appends to the request log and the audit chain race, the store's
        # line-count checks turn lost races into Conflict, and the host retries.
        for i in range(3):
            w.host.request_access(RING, f"thread {k} request {i}", HOUR, as_=w.eng)
        return ok

    assert _in_threads(4, work) == [10] * 4
    callers = store.threads()
    assert set(idents) <= callers  # the store was called from every worker thread
    assert main in callers  # and from the main thread, which built the ring
    reasons = sorted(r.reason for r in w.host.requests(RING))
    assert reasons == sorted(f"thread {k} request {i}" for k in range(4) for i in range(3))
    report = w.host.audit_verify(RING)
    assert report.verified and report.records == len(store.streams[(RING, "audit")])


def test_a_python_clock_read_from_threads(clock):
    """The clock callable is called from the threads that run verbs."""
    seen = set()
    lock = threading.Lock()

    def tracking():
        with lock:
            seen.add(threading.get_ident())
        return clock()

    w = make_world(dkm.MemoryStore(), clock=clock)
    h = dkm.Host(w.store, pins=w.pins, clock=tracking)
    _in_threads(4, lambda k: h.unseal(RING, h.seal(RING, b"t", as_=w.svc), as_=w.svc))
    assert len(seen) >= 4
