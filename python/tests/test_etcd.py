"""dkm.EtcdStore: rings in etcd, against a real member.

The member is $DKM_TEST_ETCD ("127.0.0.1:PORT"; scripts/test-python.sh starts one with
scripts/lib/etcd.sh): these tests fail, never skip, when it is not set. Each test keeps its
rings under a prefix of its own. The `dkm` command is $DKM_BIN, else target/debug/dkm."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

import dkm
from dkm_testlib import Cli


#: A PEM block of the right shape (never parsed before the check it is used for).
FAKE_PEM = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


@pytest.fixture
def member() -> str:
    """The etcd member's HOST:PORT."""
    endpoint = os.environ.get("DKM_TEST_ETCD", "")
    if not endpoint:
        pytest.fail("DKM_TEST_ETCD is not set: run scripts/test-python.sh, or start etcd and set it to HOST:PORT")
    return endpoint


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"/dkm-py-test/{uuid.uuid4().hex}"


def ring_with_keys(host: dkm.Host, name: str = "mail") -> Tuple[dkm.Identity, dkm.Identity]:
    """Creates ring `name` with an admin and a maintained key holder; returns both."""
    admin, service = dkm.Identity.generate(), dkm.Identity.generate()
    host.create_ring(name, as_=admin)
    host.add_member(name, "service", service.public, as_=admin)
    host.maintain(name, as_=service)
    return admin, service


def wait_current(store: dkm.EtcdStore, within: float = 5.0) -> None:
    """Waits until the store's watch is confirmed current."""
    deadline = time.monotonic() + within
    while not store.watch_status()["current"]:
        assert time.monotonic() < deadline, f"the watch did not become current: {store.watch_status()}"
        time.sleep(0.05)


def test_the_story_on_etcd(member: str, prefix: str) -> None:
    store = dkm.EtcdStore(member, prefix)
    assert store.names() == []
    assert store.prefix == prefix and store.endpoints == [member]
    assert isinstance(store.cluster_id, int) and store.cluster_id > 0
    assert store.location == f"etcd:{store.cluster_id:016x}{prefix}"
    assert repr(store) == f"EtcdStore([{member!r}], {prefix!r}, cluster_id=0x{store.cluster_id:016x})"

    host = dkm.Host(store, pins=dkm.MemoryPins())
    assert host.store is store and "EtcdStore(" in repr(host)
    admin, service = dkm.Identity.generate(), dkm.Identity.generate()
    ring_id = host.create_ring("mail", as_=admin)
    outcome = host.add_member("mail", "service", service.public, as_=admin)
    assert outcome.outcome == "applied"
    host.maintain("mail", as_=service)
    sealed = host.seal("mail", b"hunter2", b"account:42", as_=service)
    opened = host.unseal("mail", sealed, b"account:42", as_=service)
    assert opened.plaintext == b"hunter2" and opened.origin == "key-holder"
    with pytest.raises(dkm.Tampered):
        host.unseal("mail", sealed, b"account:43", as_=service)
    armored = host.seal_armored("mail", b"armored", as_=service)
    assert host.unseal("mail", armored, as_=service).plaintext == b"armored"

    info = host.ring_info("mail")
    assert info.name == "mail" and info.id == ring_id
    assert {(m.role, m.id) for m in info.members} >= {("admin", admin.id), ("service", service.id)}
    assert [state for _, state in info.epochs] == ["live"]
    assert host.keys("mail").current is not None
    assert host.audit_verify("mail").verified
    assert store.names() == ["mail"]

    status = store.watch_status()
    assert set(status) == {"current", "delivered", "rings"}
    assert isinstance(status["current"], bool)
    assert isinstance(status["delivered"], int) and isinstance(status["rings"], int)
    assert isinstance(store.round_trips, int) and store.round_trips > 0

    # A second host on a second connection (and its own pins) reads what the first wrote.
    other = dkm.Host(dkm.EtcdStore([member], prefix, timeout=2.5), pins=dkm.MemoryPins())
    assert other.unseal("mail", sealed, b"account:42", as_=service).plaintext == b"hunter2"
    host.close()
    other.close()


def test_a_seal_on_a_cached_ring_costs_no_round_trip_while_the_watch_is_current(member: str, prefix: str) -> None:
    store = dkm.EtcdStore(member, prefix)
    host = dkm.Host(store, pins=dkm.MemoryPins())
    _, service = ring_with_keys(host)
    host.seal("mail", b"warm", as_=service)
    wait_current(store)
    host.seal("mail", b"warm again", as_=service)  # the watch now follows the ring
    wait_current(store)
    before = store.round_trips
    host.seal("mail", b"cached", as_=service)
    assert store.round_trips == before
    assert store.watch_status()["rings"] >= 1

    # With watch=False, every operation checks the ring's revision in etcd.
    unwatched = dkm.EtcdStore(member, prefix, watch=False)
    assert "watch=False" in repr(unwatched)
    other = dkm.Host(unwatched, pins=dkm.MemoryPins())
    other.seal("mail", b"x", as_=service)
    before = unwatched.round_trips
    other.seal("mail", b"y", as_=service)
    assert unwatched.round_trips > before
    assert unwatched.watch_status()["current"] is False


def test_an_epoch_rolled_on_one_connection_is_sealed_under_by_the_other_within_the_bound(
    member: str, prefix: str
) -> None:
    one = dkm.EtcdStore(member, prefix)
    two = dkm.EtcdStore(member, prefix)
    host1 = dkm.Host(one, pins=dkm.MemoryPins())
    host2 = dkm.Host(two, pins=dkm.MemoryPins())
    admin, service = ring_with_keys(host1)
    # host2 caches the ring, and its watch follows it.
    early = host2.seal("mail", b"before the roll", as_=service)
    wait_current(two)
    host2.seal("mail", b"warm", as_=service)
    wait_current(two)
    old = host2.keys("mail").current
    assert old is not None

    host1.roll_epoch("mail", as_=service)
    new = host1.keys("mail").current
    assert new is not None and new.epoch > old.epoch
    time.sleep(1.2)

    # host2 seals under the new epoch: once the old one is revoked, host1 still opens it.
    current = host2.keys("mail").current
    assert current is not None and current.epoch == new.epoch
    late = host2.seal("mail", b"after the roll", b"ctx", as_=service)
    sealed1 = host1.seal("mail", b"from host1", as_=service)
    assert host2.unseal("mail", sealed1, as_=service).plaintext == b"from host1"
    host1.revoke_epoch("mail", old.epoch, as_=admin)
    host1.maintain("mail", as_=service)
    assert host1.unseal("mail", late, b"ctx", as_=service).plaintext == b"after the roll"
    with pytest.raises(dkm.KeyRevoked):
        host1.unseal("mail", early, as_=service)


def test_a_ring_made_by_the_command_on_etcd_is_used_from_python(member: str, prefix: str, tmp_path: Path) -> None:
    cli = Cli(tmp_path, f"etcd://{member}{prefix}")
    admin, svc, svc2 = cli.identity("admin"), cli.identity("svc"), cli.identity("svc2")
    pub = dkm.Identity.load(svc).public.to_text()
    cli.run("ring", "create", "mail", "--admin", str(admin))
    cli.run("member", "add", "mail", "--as", str(admin), "--role", "service", "--identity", pub)
    cli.run("maintain", "mail", "--as", str(svc))
    sealed_by_cli = cli.run("seal", "mail", "--as", str(svc), "--context", "acct:9", stdin=b"from the command").stdout

    # Python on the same store (through the command's URL) and the command's pin book.
    store = dkm.EtcdStore.from_url(f"etcd://{member}{prefix}?timeout=3s")
    assert store.names() == ["mail"] and store.prefix == prefix
    assert store.endpoints == [f"http://{member}"]
    host = dkm.Host(store, pins=cli.home / "pins")
    a, s, s2 = (dkm.Identity.load(p) for p in (admin, svc, svc2))
    assert host.unseal("mail", sealed_by_cli, b"acct:9", as_=s).plaintext == b"from the command"
    host.add_member("mail", "service", s2.public, as_=a)
    host.maintain("mail", as_=s)
    shown = json.dumps(json.loads(cli.run("ring", "show", "mail", "--json").stdout))
    assert s.id in shown and s2.id in shown

    # Python seals; the command opens (binary and armored), as the new member too.
    (tmp_path / "from-py.bin").write_bytes(host.seal("mail", b"sealed in Python", b"acct:7", as_=s))
    out = cli.run("unseal", "mail", "--as", str(svc2), "--context", "acct:7", "--in", "from-py.bin")
    assert out.stdout == b"sealed in Python"
    (tmp_path / "from-py.txt").write_text(host.seal_armored("mail", b"armored", b"acct:8", as_=s2))
    out = cli.run("unseal", "mail", "--as", str(svc), "--context", "acct:8", "--in", "from-py.txt")
    assert out.stdout == b"armored"
    assert host.audit_verify("mail").verified
    cli.run("audit", "verify", "mail")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def test_an_unreachable_etcd_is_store_unavailable_within_the_timeout(silent_port: int, closed_port: int) -> None:
    for endpoint in (f"127.0.0.1:{silent_port}", f"127.0.0.1:{closed_port}"):
        start = time.monotonic()
        with pytest.raises(dkm.StoreUnavailable):
            dkm.EtcdStore(endpoint, "/dkm", timeout=1.0)
        assert time.monotonic() - start < 2.0, endpoint
    start = time.monotonic()
    with pytest.raises(dkm.StoreUnavailable):
        dkm.EtcdStore.from_url(f"etcd://127.0.0.1:{silent_port}/dkm?timeout=1s")
    assert time.monotonic() - start < 2.0


def test_connecting_releases_the_gil(silent_port: int) -> None:
    import threading

    ticks = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=tick)
    t.start()
    try:
        with pytest.raises(dkm.StoreUnavailable):
            dkm.EtcdStore(f"127.0.0.1:{silent_port}", "/dkm", timeout=1.0)
    finally:
        stop.set()
        t.join()
    assert len(ticks) > 20  # the thread ran while the constructor waited


def test_tls_and_authentication_failures_are_store_unavailable_and_never_show_the_password(
    member: str, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(FAKE_PEM)
    # TLS to a plain-text member: the handshake fails (the CA as a path, str or bytes).
    for given in (ca, str(ca), FAKE_PEM, bytearray(FAKE_PEM)):
        with pytest.raises(dkm.StoreUnavailable):
            dkm.EtcdStore(member, "/dkm", ca=given, timeout=2.0)
    # etcd's authentication (not enabled on the test member): refused, the password unseen.
    with pytest.raises(dkm.StoreUnavailable) as e:
        dkm.EtcdStore(member, "/dkm", user="root", password="pw-never-shown", timeout=2.0)
    assert "pw-never-shown" not in str(e.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prefix": ""},
        {"prefix": "/"},
        {"prefix": "/dkm/"},
        {"prefix": "/" + "x" * 300},
        {"endpoints": []},
        {"endpoints": ""},
        {"endpoints": "a:1,,b:2"},
        {"endpoints": ["user@host:1"]},
        {"timeout": 0},
        {"timeout": -1.0},
        {"timeout": float("nan")},
        {"timeout": float("inf")},
        {"cert": FAKE_PEM},
        {"key": FAKE_PEM},
        {"ca": b"not a certificate"},
        {"ca": "/nonexistent/ca.pem"},
        {"password": "secret"},
        {"user": ""},
    ],
)
def test_invalid_arguments_are_invalid_input(member: str, kwargs: Dict[str, object]) -> None:
    args: Dict[str, object] = {"endpoints": member, "prefix": "/dkm", **kwargs}
    start = time.monotonic()
    with pytest.raises(dkm.InvalidInput):
        dkm.EtcdStore(**args)  # type: ignore[arg-type]
    assert time.monotonic() - start < 1.0  # refused before connecting


@pytest.mark.parametrize(
    "url, password",
    [
        ("etcd://{m}/dkm?password=secret", None),
        ("etcd://{m}/dkm?user=root&password=secret", None),
        ("http://{m}/dkm", None),
        ("redis://{m}/dkm", None),
        ("{m}/dkm", None),
        ("etcd://{m}", None),
        ("etcd://{m}/", None),
        ("etcd://{m}/dkm/", None),
        ("etcd://{m}/dkm?timeout=soon", None),
        ("etcd://{m}/dkm?watch=maybe", None),
        ("etcd://{m}/dkm?colour=blue", None),
        ("etcd://{m}/dkm?ca=/nonexistent.pem", None),
        ("etcds://{m}/dkm?cert=/nonexistent.pem", None),
        ("etcd://{m}/dkm", "a password without user="),
    ],
)
def test_invalid_urls_are_invalid_input(member: str, url: str, password: str) -> None:
    with pytest.raises(dkm.InvalidInput) as e:
        dkm.EtcdStore.from_url(url.format(m=member), password)
    assert "secret" not in str(e.value)


def test_cert_without_key_in_a_url_is_invalid_input(member: str, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(FAKE_PEM)
    with pytest.raises(dkm.InvalidInput):
        dkm.EtcdStore.from_url(f"etcds://{member}/dkm?cert={cert}")
    with pytest.raises(dkm.InvalidInput):
        dkm.EtcdStore.from_url(f"etcd://{member}/dkm?ca={cert}")  # TLS options need etcds://
    with pytest.raises(dkm.InvalidInput):
        dkm.EtcdStore(member, "/dkm", cert=cert)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoints": 2379},
        {"endpoints": b"127.0.0.1:2379"},
        {"endpoints": [b"127.0.0.1:2379"]},
        {"endpoints": ["127.0.0.1:2379", 2380]},
        {"prefix": b"/dkm"},
        {"prefix": None},
        {"timeout": "5"},
        {"timeout": True},
        {"ca": 5},
        {"cert": ["pem"], "key": FAKE_PEM},
        {"user": 5},
        {"user": "root", "password": b"pw"},
        {"watch": "off"},
        {"watch": 0},
    ],
)
def test_wrong_types_are_type_errors(member: str, kwargs: Dict[str, object]) -> None:
    args: Dict[str, object] = {"endpoints": member, "prefix": "/dkm", **kwargs}
    with pytest.raises(TypeError):
        dkm.EtcdStore(**args)  # type: ignore[arg-type]


def test_wrong_types_in_from_url_are_type_errors(member: str) -> None:
    with pytest.raises(TypeError):
        dkm.EtcdStore.from_url(b"etcd://127.0.0.1:2379/dkm")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dkm.EtcdStore.from_url(f"etcd://{member}/dkm", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dkm.EtcdStore()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        dkm.EtcdStore(member, "/dkm", 5.0)  # type: ignore[misc]  # timeout is keyword-only


def test_a_store_opened_before_fork_is_unavailable_in_the_child(member: str, prefix: str) -> None:
    store = dkm.EtcdStore(member, prefix)
    host = dkm.Host(store, pins=dkm.MemoryPins())
    _, service = ring_with_keys(host)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: every use of the parent's store is StoreUnavailable
        try:
            os.close(read)
            results = []

            def seal_later() -> object:
                # Within the watch's bound a seal on the cached ring may need no request;
                # past it, the seal must ask etcd.
                time.sleep(1.1)
                return host.seal("mail", b"x", as_=service)

            for call in (store.names, lambda: host.audit_records("mail"), seal_later):
                try:
                    call()
                    results.append("ok")
                except dkm.StoreUnavailable:
                    results.append("StoreUnavailable")
                except BaseException as e:  # noqa: BLE001
                    results.append(type(e).__name__)
            os.write(write, ",".join(results).encode())
        finally:
            os._exit(0)
    os.close(write)
    out = b""
    while chunk := os.read(read, 4096):
        out += chunk
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert out == b"StoreUnavailable,StoreUnavailable,StoreUnavailable"
    # The parent's store still works.
    assert host.unseal("mail", host.seal("mail", b"parent", as_=service), as_=service).plaintext == b"parent"
