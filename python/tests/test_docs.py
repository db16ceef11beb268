"""Every public name of the package, and every public method and property of its classes,
has a docstring (what help(dkm.Host) shows)."""

from __future__ import annotations

import inspect
import pydoc

import dkm


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for name in dkm.__all__:
        if name == "__version__":
            continue
        obj = getattr(dkm, name)
        if not (getattr(obj, "__doc__", None) or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for attr in vars(obj):
                if attr.startswith("_"):
                    continue
                value = getattr(obj, attr)
                if callable(value) or isinstance(inspect.getattr_static(obj, attr), property) or type(
                    inspect.getattr_static(obj, attr)
                ).__name__ == "getset_descriptor":
                    if not (getattr(value, "__doc__", None) or "").strip():
                        missing.append(f"{name}.{attr}")
    assert missing == []


def test_help_on_host_lists_the_verbs_with_their_signatures() -> None:
    text = pydoc.render_doc(dkm.Host, renderer=pydoc.plaintext)
    for verb in ("create_ring", "seal", "unseal", "request_access", "grant", "audit_verify"):
        assert verb in text
    assert "seal(self, /, ring, data, context=None, *, as_)" in text
