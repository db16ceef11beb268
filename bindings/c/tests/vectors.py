#!/usr/bin/env python3
"""Turns dkm's v1 test vectors into a line-based text file that test_vectors.c reads.

Usage: vectors.py IN_DIR OUT_FILE
  IN_DIR   the vectors' directory (testvectors/v1): identities.json, ring.json, sealed.json
  OUT_FILE the text file to write

Standard library only. Every line is a record: a keyword, then fields separated by one space.
Byte strings are lowercase hex, or "-" when empty; texts that may hold spaces are hex too.

  identity SECRET_TEXT PUBLIC_TEXT ID
  bad_public ERROR_KIND TEXT_HEX
  ring_name NAME
  ring_id HEX
  ring_blob HEX
  pin_first_use HEX
  pin_after_load HEX
  key_holder SECRET_TEXT
  key_holder_public PUBLIC_TEXT
  sealed NOW PLAINTEXT_HEX CONTEXT_HEX SEALED_HEX
  seal_only NOW PLAINTEXT_HEX CONTEXT_HEX SEALED_HEX
  bad_ring ERROR_KIND NAME_HEX BLOB_HEX PIN_HEX
  bad_sealed ERROR_KIND NAME_HEX CONTEXT_HEX SEALED_HEX
  end COUNT            (COUNT: the records above it, a check that the file is whole)
"""

import json
import os
import sys

# The name core/src/testvectors.rs creates the ring vector with (Ring::create("vectors", ...)).
RING_NAME = "vectors"


def hx(value):
    """A hex field: the hex itself (validated), or "-" when empty."""
    if value == "":
        return "-"
    bytes.fromhex(value)  # refuses anything that is not hex
    return value.lower()


def text_hex(text):
    """A text that may hold spaces or be empty, as a hex field."""
    return hx(text.encode("utf-8").hex())


def token(text):
    """A text field that must be one token (no spaces, not empty)."""
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"not a single token: {text!r}")
    return text


def load(in_dir, name):
    with open(os.path.join(in_dir, name), encoding="utf-8") as f:
        return json.load(f)


def records(in_dir):
    out = []
    ids = load(in_dir, "identities.json")
    for i in ids["identities"]:
        out.append(
            f"identity {token(i['secret_text'])} {token(i['public_text'])} {token(i['id'])}"
        )
    for b in ids["invalid_public_text"]:
        out.append(f"bad_public {token(b['error'])} {text_hex(b['text'])}")

    ring = load(in_dir, "ring.json")
    out.append(f"ring_name {RING_NAME}")
    out.append(f"ring_id {hx(ring['ring_id'])}")
    out.append(f"ring_blob {hx(ring['blob'])}")
    out.append(f"pin_first_use {hx(ring['pin_first_use'])}")
    out.append(f"pin_after_load {hx(ring['pin_after_load'])}")
    out.append(f"key_holder {token(ring['key_holder_secret'])}")
    out.append(f"key_holder_public {token(ring['key_holder_public'])}")
    for s in ring["sealed"]:
        out.append(
            f"sealed {int(s['now'])} {hx(s['plaintext'])} {hx(s['context'])} {hx(s['sealed'])}"
        )
    for s in ring["seal_only"]["sealed"]:
        out.append(
            f"seal_only {int(s['now'])} {hx(s['plaintext'])} {hx(s['context'])} {hx(s['sealed'])}"
        )
    for b in ring["invalid"]:
        out.append(
            f"bad_ring {token(b['error'])} {text_hex(b['name'])} {hx(b['blob'])} {hx(b['pin'])}"
        )

    sealed = load(in_dir, "sealed.json")
    for b in sealed["invalid"]:
        out.append(
            f"bad_sealed {token(b['error'])} {text_hex(b['name'])} {hx(b['context'])} {hx(b['sealed'])}"
        )
    return out


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: vectors.py IN_DIR OUT_FILE\n")
        return 2
    lines = records(argv[1])
    body = "".join(line + "\n" for line in lines)
    body += f"end {len(lines)}\n"
    tmp = argv[2] + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("# dkm test vectors v1 for test_vectors.c, written by vectors.py: do not edit\n")
        f.write(body)
    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
