"""The Python blocks of python/README.md run as written, in order, in one namespace (a block
that starts with "# excerpt of" shows part of an example that runs on its own)."""

from __future__ import annotations

import re
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
        exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "KeyRevoked 7" in out
