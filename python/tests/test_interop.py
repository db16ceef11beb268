"""Python and the `dkm` command on one file store: a secret sealed by one opens with the
other, a ring made by the command is governed from Python and the reverse.

The command is $DKM_BIN (scripts/test-python.sh builds it), else target/debug/dkm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dkm
import dkm_testlib


class Cli(dkm_testlib.Cli):
    """The `dkm` command on a file store of its own (see dkm_testlib.Cli)."""

    def host(self) -> dkm.Host:
        """A Python host on the command's store and pin book."""
        return dkm.Host(dkm.FileStore(Path(self.store)), pins=self.home / "pins")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_secrets_cross_between_python_and_the_command(cli: Cli) -> None:
    admin, svc = cli.identity("admin"), cli.identity("svc")
    pub = dkm.Identity.load(svc).public.to_text()
    cli.run("ring", "create", "mail", "--admin", str(admin))
    cli.run("member", "add", "mail", "--as", str(admin), "--role", "service", "--identity", pub)
    cli.run("maintain", "mail", "--as", str(svc))

    host = cli.host()
    service = dkm.Identity.load(svc)
    # Python seals, the command opens (binary and armored).
    (cli.dir / "from-py.bin").write_bytes(host.seal("mail", b"sealed in Python", b"acct:7", as_=service))
    out = cli.run("unseal", "mail", "--as", str(svc), "--context", "acct:7", "--in", "from-py.bin")
    assert out.stdout == b"sealed in Python"
    (cli.dir / "from-py.txt").write_text(host.seal_armored("mail", b"armored", b"acct:8", as_=service))
    out = cli.run("unseal", "mail", "--as", str(svc), "--context", "acct:8", "--in", "from-py.txt")
    assert out.stdout == b"armored"
    # The command seals, Python opens; a wrong context is Tampered on both sides.
    sealed = cli.run("seal", "mail", "--as", str(svc), "--context", "acct:9", stdin=b"sealed by the command").stdout
    assert host.unseal("mail", sealed, b"acct:9", as_=service).plaintext == b"sealed by the command"
    with pytest.raises(dkm.Tampered):
        host.unseal("mail", sealed, b"acct:10", as_=service)
    p = cli.run("unseal", "mail", "--as", str(svc), "--context", "acct:1", "--in", "from-py.bin", check=False)
    assert p.returncode != 0 and b"Tampered" in p.stderr, p.stderr
    # Seal-only: the command's public part loads in Python; Python's seal opens in the command.
    cli.run("ring", "export-public", "mail", "--out", "mail.pub")
    part = dkm.RingPublic((cli.dir / "mail.pub").read_bytes())
    (cli.dir / "seal-only.bin").write_bytes(part.seal(b"from a browser", b"acct:11"))
    out = cli.run("unseal", "mail", "--as", str(svc), "--context", "acct:11", "--in", "seal-only.bin")
    assert out.stdout == b"from a browser"


def test_a_ring_made_by_the_command_is_governed_from_python(cli: Cli) -> None:
    admin, svc, svc2 = cli.identity("admin"), cli.identity("svc"), cli.identity("svc2")
    cli.run("ring", "create", "mail", "--admin", str(admin))
    host = cli.host()
    a, s, s2 = (dkm.Identity.load(p) for p in (admin, svc, svc2))
    host.add_member("mail", "service", s.public, as_=a)
    host.add_member("mail", "service", s2.public, as_=a)
    host.maintain("mail", as_=s)
    shown = json.loads(cli.run("ring", "show", "mail", "--json").stdout)
    text = json.dumps(shown)
    assert s.id in text and s2.id in text
    # The command's key holder seals; Python removes it; after maintain it can no longer seal.
    sealed = cli.run("seal", "mail", "--as", str(svc2), stdin=b"before removal").stdout
    host.remove_member("mail", s2.public, as_=a)
    host.maintain("mail", as_=s)
    p = cli.run("seal", "mail", "--as", str(svc2), stdin=b"x", check=False)
    assert p.returncode != 0
    assert host.unseal("mail", sealed, as_=s).plaintext == b"before removal"
    # Both read the same audit chain, and it verifies in each.
    assert host.audit_verify("mail").verified
    cli.run("audit", "verify", "mail")


def test_a_ring_made_in_python_is_used_by_the_command(cli: Cli) -> None:
    admin, svc = cli.identity("admin"), cli.identity("svc")
    host = cli.host()
    a, s = dkm.Identity.load(admin), dkm.Identity.load(svc)
    host.create_ring("tokens", as_=a)
    host.add_member("tokens", "service", s.public, as_=a)
    host.roll_epoch("tokens", as_=s)
    sealed = cli.run("seal", "tokens", "--as", str(svc), "--armor", stdin=b"oauth refresh").stdout
    assert host.unseal("tokens", sealed.decode(), as_=s).plaintext == b"oauth refresh"
    keys = json.loads(cli.run("keys", "tokens", "--json").stdout)
    listing = host.keys("tokens")
    assert len(listing.epochs) == len(keys["epochs"]) >= 1
