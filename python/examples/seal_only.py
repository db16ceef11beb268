"""A browser or partner seals to a ring without being able to read back: the ring's public
part is exported once; anyone holding it seals, only key holders open, and the origin says
who sealed.

Run: python seal_only.py
"""

from __future__ import annotations

import dkm


def main() -> None:
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins())
    admin, service = dkm.Identity.generate(), dkm.Identity.generate()
    host.create_ring("signup", as_=admin)
    host.add_member("signup", "service", service.public, as_=admin)
    host.maintain("signup", as_=service)  # publishes the seal-only keys

    part = host.export_public("signup")  # ship these bytes to the web page or partner
    public = dkm.RingPublic(part)
    sealed = public.seal_armored(b"new user's IMAP password", b"user:7")

    opened = host.unseal("signup", sealed, b"user:7", as_=service)
    print(f"{public!r} sealed; opened {opened!r}")
    assert opened.origin == "seal-only"
    try:
        host.unseal("signup", sealed, b"user:7", as_=service, accept_seal_only=False)
    except dkm.InvalidInput:
        print("a caller that trusts only key holders refuses it")


if __name__ == "__main__":
    main()
