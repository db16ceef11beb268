"""The Python blocks of python/README.md run as written, in order, in one namespace (a block
that starts with "# excerpt of" shows part of an example that runs on its own; a block that
starts with "# on etcd" runs against the member $DKM_TEST_ETCD, under a prefix of its own)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), re.M | re.S)
    runnable = [b for b in blocks if not b.startswith("# excerpt of")]
    assert len(runnable) >= 3
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DKM_HOME", str(tmp_path / "home"))
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in runnable:
        if block.startswith("# on etcd"):
            member = os.environ.get("DKM_TEST_ETCD", "")
            if not member:
                pytest.fail("DKM_TEST_ETCD is not set: the README's etcd block needs a member")
            prefix = f"/dkm-readme-{uuid.uuid4().hex}"
            block = block.replace("127.0.0.1:2379", member).replace('"/dkm"', f'"{prefix}"')
            block = block.replace("/dkm?", f"{prefix}?")
            assert prefix in block and "/dkm?" not in block
        exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "KeyRevoked 7" in out
