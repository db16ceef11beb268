"""A forked child draws its own nonces: the host's generator reseeds at the child's first
draw (the binding's fork handler), so parent and child never seal with the same nonce."""

from __future__ import annotations

import os

import dkm


def test_a_forked_child_never_repeats_its_parents_nonces() -> None:
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins())
    admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
    host.create_ring("r", as_=admin)
    host.add_member("r", "service", svc.public, as_=admin)
    host.seal("r", b"warm", as_=svc)  # the generator is seeded and has drawn

    for _ in range(3):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: seal the same plaintext, hand the bytes to the parent
            try:
                os.close(read)
                os.write(write, host.seal("r", b"same plaintext", b"ctx", as_=svc))
            finally:
                os._exit(0)
        os.close(write)
        mine = host.seal("r", b"same plaintext", b"ctx", as_=svc)
        theirs = b""
        while chunk := os.read(read, 4096):
            theirs += chunk
        os.close(read)
        _, status = os.waitpid(pid, 0)
        assert status == 0 and len(theirs) == len(mine)
        # Same key, plaintext and context: only the nonce (from the generator) can differ. A
        # child that kept its parent's generator state would produce exactly the parent's bytes.
        assert theirs != mine
        assert host.unseal("r", theirs, b"ctx", as_=svc).plaintext == b"same plaintext"
