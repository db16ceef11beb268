"""Keep a connected mail account's password in a ring: create the ring, add a service
account as its key holder, seal, unseal, and see a tampered secret refused.

Run: python quickstart.py [STORE_DIR]   (a fresh temporary directory by default)
"""

from __future__ import annotations

import sys
import tempfile

import dkm


def main(store_dir: str) -> None:
    admin = dkm.Identity.generate()  # a person who governs the ring, and cannot read it
    service = dkm.Identity.generate()  # the mail sync worker's service account
    pins = f"{store_dir}/pins"

    with dkm.Host(dkm.FileStore(f"{store_dir}/rings"), pins=pins) as host:
        host.create_ring("mail", as_=admin)
        host.add_member("mail", "service", service.public, as_=admin)

        # The three lines a service needs:
        sealed = host.seal("mail", b"hunter2", b"account:42", as_=service)
        opened = host.unseal("mail", sealed, b"account:42", as_=service)
        assert opened.plaintext == b"hunter2" and opened.origin == "key-holder"
        print(f"sealed {len(sealed)} bytes, opened {opened!r}")

        # Anything changed, or another context, is refused with a typed error.
        tampered = bytearray(sealed)
        tampered[-1] ^= 1
        try:
            host.unseal("mail", tampered, b"account:42", as_=service)
        except dkm.Tampered as e:
            print(f"tampered: {e.kind} (code {e.code})")
        try:
            host.unseal("mail", sealed, b"account:43", as_=service)
        except dkm.Tampered:
            print("another context: Tampered too")

        # The admin governs the ring but holds no key.
        try:
            host.seal("mail", b"x", as_=admin)
        except dkm.NotAMember as e:
            print(f"the admin cannot seal: {e.kind}")
        print(host.keys("mail").current)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as d:
            main(d)
