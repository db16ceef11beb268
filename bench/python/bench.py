#!/usr/bin/env python3
"""The Python binding of dkm against its peers, side by side in one run.

Peers: ``cryptography``'s ``AESGCM`` (key set up once; a fresh ``os.urandom(12)`` nonce per
call, inside the timing) and tink's AEAD (AES256_GCM template; keyset handle and primitive
built once). Every measurement is ``timeit`` of a statement string (no wrapper function):
each round times every case of a group once, the order flipping from round to round so that
drift hits dkm and its peers alike; a case's result is the median of its per-call times over
the rounds. Only ratios are compared with targets, never absolute times.

Run it through ``scripts/bench-python.sh`` (venv with the pinned peers, a release wheel);
``--quick`` for a smoke run, ``--check`` to exit non-zero when a target ratio is missed,
``--json PATH`` to keep the results.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import timeit
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import metadata
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

import dkm
import tink
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tink import aead as tink_aead
from tink import cleartext_keyset_handle
from tink import core as tink_core
from tink.proto import tink_pb2

SMALL = 64
LARGE = 1 << 20
CONTEXT = b"account:42"  # the context of the quickstart: what a service passes
TINK_KEYS = 1000
ROTATION_BATCH = 48  # rotating seals per batch: under the 64 intervals the ring stays fresh
ROTATION_BATCHES = 4  # batches per sample (each one after an untimed maintain)


# ---- measurement ----------------------------------------------------------------------


@dataclass
class Case:
    """One timed statement; ``samples`` are per-call times in seconds, one per round."""

    key: str
    label: str
    stmt: str
    ns: Dict[str, Any]
    number: int = 0
    samples: List[float] = field(default_factory=list)
    sample: Optional[Callable[["Case"], float]] = None  # a custom sampler (rotation)

    def timer(self) -> timeit.Timer:
        return timeit.Timer(self.stmt, globals=self.ns)

    def median(self) -> float:
        return statistics.median(self.samples)

    def quartiles(self) -> Sequence[float]:
        if len(self.samples) < 4:
            return (min(self.samples), max(self.samples))
        q = statistics.quantiles(self.samples, n=4)
        return (q[0], q[2])


def calibrate(timer: timeit.Timer, budget: float) -> int:
    """How many calls take about ``budget`` seconds."""
    n = 1
    while True:
        t = timer.timeit(n)
        if t >= budget * 0.5 or n >= 10_000_000:
            return max(1, int(n * budget / max(t, 1e-9)))
        n = n * 10 if t < budget * 0.05 else max(n + 1, int(n * budget / t))


def run_group(cases: List[Case], rounds: int, budget: float) -> None:
    """Calibrates, warms up, then ``rounds`` rounds of one sample per case, alternating the
    order (dkm first, then the peers first)."""
    for c in cases:
        if c.sample is None:
            c.number = calibrate(c.timer(), budget)
            c.timer().timeit(c.number)  # warm-up
    for r in range(rounds):
        order = cases if r % 2 == 0 else list(reversed(cases))
        for c in order:
            if c.sample is not None:
                c.samples.append(c.sample(c))
            else:
                c.samples.append(c.timer().timeit(c.number) / c.number)


# ---- formatting -----------------------------------------------------------------------


def fmt_time(s: float) -> str:
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} µs"
    return f"{s * 1e9:.0f} ns"


def fmt_rate(size: int, s: float) -> str:
    return f"{size / s / (1 << 30):.2f} GiB/s"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    wanted = ["aes", "vaes", "pclmulqdq", "vpclmulqdq", "sha_ni", "avx2", "avx512f"]
                    return " ".join(x for x in wanted if x in have)
    except OSError:
        pass
    return "?"


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def machine_info() -> Dict[str, str]:
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        openssl = backend.openssl_version_text()
    except Exception:  # noqa: BLE001 - informational only
        openssl = "?"
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "dkm": f"{dkm.__version__} ({os.path.dirname(os.path.abspath(dkm.__file__))})",
        "cryptography": f"{version('cryptography')} ({openssl})",
        "tink": version("tink"),
        "protobuf": version("protobuf"),
    }


# ---- the set-ups ----------------------------------------------------------------------


class Clock:
    """A clock the benchmark moves (the Host calls it at each verb)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def make_host(store: Any, admin: dkm.Identity, svc: dkm.Identity, **kw: Any) -> dkm.Host:
    host = dkm.Host(store, pins=dkm.MemoryPins(), **kw)
    host.create_ring("mail", as_=admin)
    host.add_member("mail", "service", svc.public, as_=admin)
    host.maintain("mail", as_=svc)
    return host


def tink_add_key(keyset: tink_pb2.Keyset, ids: Set[int], template: tink_pb2.KeyTemplate) -> None:
    """Adds a fresh key to ``keyset`` and makes it the primary (what a rotation does)."""
    key_data = tink_core.Registry.new_key_data(template)
    while True:
        key_id = random.randint(1, 2**31 - 1)
        if key_id not in ids:
            break
    ids.add(key_id)
    key = keyset.key.add()
    key.key_data.CopyFrom(key_data)
    key.status = tink_pb2.ENABLED
    key.key_id = key_id
    key.output_prefix_type = template.output_prefix_type
    keyset.primary_key_id = key_id


class TinkRotation:
    """A 1,000-key keyset; ``rotate()`` adds a key, sets it primary, writes the keyset with
    the binary writer, reads it back and builds the primitive: what moving every process to
    a new key costs with tink (each process re-reads the keyset)."""

    def __init__(self, template: tink_pb2.KeyTemplate, keys: int) -> None:
        self.template = template
        self.keyset = tink_pb2.Keyset()
        self.ids: Set[int] = set()
        for _ in range(keys):
            tink_add_key(self.keyset, self.ids, template)
        self.keys = keys

    def rotate(self) -> Any:
        tink_add_key(self.keyset, self.ids, self.template)
        handle = cleartext_keyset_handle.from_keyset(self.keyset)
        buf = io.BytesIO()
        cleartext_keyset_handle.write(tink.BinaryKeysetWriter(buf), handle)
        read = cleartext_keyset_handle.read(tink.BinaryKeysetReader(buf.getvalue()))
        return read.primitive(tink_aead.Aead)

    def trim(self) -> None:
        """Back to ``keys`` keys (untimed, between samples)."""
        while len(self.keyset.key) > self.keys:
            self.ids.discard(self.keyset.key[-1].key_id)
            del self.keyset.key[-1]
        self.keyset.primary_key_id = self.keyset.key[-1].key_id


class DkmRotation:
    """A host on a memory store with a clock the benchmark moves; the ring's interval is one
    hour and a key holder's maintain keeps it fresh for 64 intervals. A batch: an untimed
    maintain (the only write) and warm seal, then ``ROTATION_BATCH`` seals, each after the
    clock moved by ``step``; no audit record, no key-state write may happen meanwhile."""

    def __init__(self, admin: dkm.Identity, svc: dkm.Identity, data: bytes) -> None:
        self.clock = Clock(datetime(2027, 1, 4, 9, 30, tzinfo=timezone.utc))
        self.svc = svc
        self.data = data
        self.host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=self.clock)
        policy = dkm.Policy(interval=timedelta(hours=1), freshness_intervals=64)
        self.host.create_ring("rot", as_=admin, policy=policy)
        self.host.add_member("rot", "service", svc.public, as_=admin)
        self.host.maintain("rot", as_=svc)
        epoch = self.host.keys("rot").epochs[-1]
        # Each batch starts in the middle of an interval, so that 48 steps of 1 s stay in it
        # and steps of 1 h land in the next ones; batches start 50 h apart (a batch spans 48 h).
        self.start = epoch.start + epoch.interval / 2
        self.end = epoch.end
        self.batches = 0
        self.rotations = 0  # seals timed in a new interval
        self.violations: List[str] = []

    def ns(self, step: timedelta) -> Dict[str, Any]:
        return {"clk": self.clock, "host": self.host, "d": self.data, "ctx": CONTEXT,
                "svc": self.svc, "step": step}

    def sample(self, case: Case) -> float:
        step: timedelta = case.ns["step"]
        timer = case.timer()
        total = 0.0
        for _ in range(ROTATION_BATCHES):
            # Untimed: well past every time used so far, renew freshness (a write), warm up.
            self.clock.now = self.start + timedelta(hours=50 * (self.batches + 1))
            if self.clock.now + timedelta(hours=ROTATION_BATCH + 1) >= self.end:
                raise SystemExit("too many rounds for the rotation ring's epoch: lower --rounds")
            self.host.maintain("rot", as_=self.svc)
            self.host.seal("rot", self.data, CONTEXT, as_=self.svc)
            before = self.host.keys("rot")
            audit = len(self.host.audit_records("rot"))
            total += timer.timeit(ROTATION_BATCH)
            after = self.host.keys("rot")
            moved = ROTATION_BATCH * (step // before.epochs[-1].interval if step else 0)
            if len(self.host.audit_records("rot")) != audit:
                self.violations.append(f"{case.key}: audit records added during the timed seals")
            if after.write_time != before.write_time or after.fresh_until != before.fresh_until:
                self.violations.append(f"{case.key}: the key state was written during the timed seals")
            if before.current is None or after.current is None or (
                after.current.interval - before.current.interval != moved
            ):
                self.violations.append(f"{case.key}: the seals did not move {moved} intervals")
            self.batches += 1
            if step >= before.epochs[-1].interval:
                self.rotations += ROTATION_BATCH
        return total / (ROTATION_BATCHES * ROTATION_BATCH)


# ---- the benchmark --------------------------------------------------------------------


@dataclass
class Ratio:
    key: str
    label: str
    value: float
    target: Optional[float]  # None: informational
    higher_is_better: bool
    dkm: str
    peer: str

    @property
    def met(self) -> Optional[bool]:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return "(info)"
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:g}×"


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a short smoke run (no --check)")
    p.add_argument("--check", action="store_true", help="exit 1 when a target ratio is missed")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--rounds", type=int, help="rounds per group (default 31; 3 with --quick)")
    args = p.parse_args(argv)
    if args.quick and args.check:
        p.error("--check needs a full run: drop --quick")
    rounds = args.rounds or (3 if args.quick else 31)
    budget = 0.002 if args.quick else 0.04  # seconds per sample
    tink_rounds = rounds

    tink_aead.register()
    rng = random.Random(42)
    small = bytes(rng.getrandbits(8) for _ in range(SMALL))
    large = os.urandom(LARGE)

    admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
    tmp = tempfile.TemporaryDirectory(prefix="dkm-bench-")
    mem = make_host(dkm.MemoryStore(), admin, svc)
    files = make_host(dkm.FileStore(os.path.join(tmp.name, "rings")), admin, svc)
    start = datetime.now(timezone.utc).replace(microsecond=0)
    fixed = make_host(dkm.MemoryStore(), admin, svc, clock=start)
    called = make_host(dkm.MemoryStore(), admin, svc, clock=Clock(start))
    key = AESGCM.generate_key(bit_length=256)
    aes = AESGCM(key)
    template = tink_aead.aead_key_templates.AES256_GCM
    tink_prim = tink.new_keyset_handle(template).primitive(tink_aead.Aead)

    sealed = {(h, n): host.seal("mail", d, CONTEXT, as_=svc)
              for h, host in (("mem", mem), ("file", files)) for n, d in ((SMALL, small), (LARGE, large))}
    nonce = os.urandom(12)
    ct = {n: aes.encrypt(nonce, d, None) for n, d in ((SMALL, small), (LARGE, large))}
    tink_ct = tink_prim.encrypt(small, b"")
    for (h, n), s in sealed.items():  # every peer and host opens what it sealed
        host = mem if h == "mem" else files
        assert host.unseal("mail", s, CONTEXT, as_=svc).plaintext == (small if n == SMALL else large)
    assert aes.decrypt(nonce, ct[SMALL], None) == small and aes.decrypt(nonce, ct[LARGE], None) == large
    assert tink_prim.decrypt(tink_ct, b"") == small

    ns: Dict[str, Any] = {
        "os": os, "mem": mem, "files": files, "svc": svc, "ctx": CONTEXT, "aes": aes,
        "tink_prim": tink_prim, "small": small, "large": large, "nonce": nonce,
        "small_ba": bytearray(small), "small_mv": memoryview(small),
        "s_mem_small": sealed[("mem", SMALL)], "s_mem_large": sealed[("mem", LARGE)],
        "s_file_small": sealed[("file", SMALL)],
        "ct_small": ct[SMALL], "ct_large": ct[LARGE], "tink_ct": tink_ct,
        "fixed": fixed, "called": called,
    }

    def case(key: str, label: str, stmt: str) -> Case:
        return Case(key, label, stmt, ns)

    groups: Dict[str, List[Case]] = {
        "seal_64": [
            case("dkm_seal_mem_64", "dkm `host.seal` (memory store)", "mem.seal('mail', small, ctx, as_=svc)"),
            case("crypto_encrypt_64", "cryptography `AESGCM.encrypt` + `os.urandom(12)`",
                 "aes.encrypt(os.urandom(12), small, None)"),
            case("dkm_seal_file_64", "dkm `host.seal` (file store)", "files.seal('mail', small, ctx, as_=svc)"),
            case("tink_encrypt_64", "tink `Aead.encrypt`", "tink_prim.encrypt(small, b'')"),
        ],
        "unseal_64": [
            case("dkm_unseal_mem_64", "dkm `host.unseal` (memory store)",
                 "mem.unseal('mail', s_mem_small, ctx, as_=svc)"),
            case("crypto_decrypt_64", "cryptography `AESGCM.decrypt`", "aes.decrypt(nonce, ct_small, None)"),
            case("dkm_unseal_file_64", "dkm `host.unseal` (file store)",
                 "files.unseal('mail', s_file_small, ctx, as_=svc)"),
            case("tink_decrypt_64", "tink `Aead.decrypt`", "tink_prim.decrypt(tink_ct, b'')"),
        ],
        "seal_1m": [
            case("dkm_seal_mem_1m", "dkm `host.seal` (memory store)", "mem.seal('mail', large, ctx, as_=svc)"),
            case("crypto_encrypt_1m", "cryptography `AESGCM.encrypt` + `os.urandom(12)`",
                 "aes.encrypt(os.urandom(12), large, None)"),
        ],
        "unseal_1m": [
            case("dkm_unseal_mem_1m", "dkm `host.unseal` (memory store)",
                 "mem.unseal('mail', s_mem_large, ctx, as_=svc)"),
            case("crypto_decrypt_1m", "cryptography `AESGCM.decrypt`", "aes.decrypt(nonce, ct_large, None)"),
        ],
        "overhead": [
            case("dkm_seal_mem_64_noctx", "`mem.seal(..., small, as_=svc)` (no context)",
                 "mem.seal('mail', small, as_=svc)"),
            case("dkm_seal_mem_64_bytearray", "`mem.seal` of a `bytearray`",
                 "mem.seal('mail', small_ba, ctx, as_=svc)"),
            case("dkm_seal_mem_64_memoryview", "`mem.seal` of a `memoryview`",
                 "mem.seal('mail', small_mv, ctx, as_=svc)"),
            case("dkm_seal_fixed_clock_64", "`seal` on a host with a fixed clock (no clock read)",
                 "fixed.seal('mail', small, ctx, as_=svc)"),
            case("dkm_seal_callable_clock_64", "`seal` on a host with a Python callable clock",
                 "called.seal('mail', small, ctx, as_=svc)"),
            case("dkm_host_now", "`host.now()` (reads the clock, returns a `datetime`)", "mem.now()"),
            case("dkm_host_store", "`host.store` (a native attribute: the call floor)", "mem.store"),
            case("urandom_12", "`os.urandom(12)` alone", "os.urandom(12)"),
            case("crypto_encrypt_64_fixed_nonce", "`AESGCM.encrypt` with a fixed nonce",
                 "aes.encrypt(nonce, small, None)"),
        ],
    }

    rot = DkmRotation(admin, svc, small)
    tink_rot = TinkRotation(template, TINK_KEYS)
    rot_cases = [
        Case("dkm_rot_warm", "seal, clock moved by 0", "clk.now += step; host.seal('rot', d, ctx, as_=svc)",
             rot.ns(timedelta(0)), sample=rot.sample),
        Case("dkm_rot_second", "seal, clock moved by 1 s (same interval)",
             "clk.now += step; host.seal('rot', d, ctx, as_=svc)", rot.ns(timedelta(seconds=1)),
             sample=rot.sample),
        Case("dkm_rot_interval", "seal, clock moved by 1 h (a new interval: a new key)",
             "clk.now += step; host.seal('rot', d, ctx, as_=svc)", rot.ns(timedelta(hours=1)),
             sample=rot.sample),
    ]
    tink_case = Case("tink_rotate", f"tink: add a key to a {TINK_KEYS:,}-key keyset, set it primary, "
                     "write, read back, build the primitive", "r.rotate()", {"r": tink_rot})
    tink_number = 1 if args.quick else 2

    def tink_sample(c: Case) -> float:
        t = c.timer().timeit(tink_number)
        tink_rot.trim()
        return t / tink_number

    tink_case.sample = tink_sample
    tink_case.number = tink_number

    print(f"dkm Python benchmark: {rounds} rounds{' (quick)' if args.quick else ''} ...", file=sys.stderr)
    for name, cases in groups.items():
        print(f"  {name}", file=sys.stderr)
        run_group(cases, rounds, budget)
    print("  rotation", file=sys.stderr)
    for c in rot_cases:
        c.number = ROTATION_BATCH * ROTATION_BATCHES
        rot.sample(c)  # warm-up (its sample is dropped)
    run_group(rot_cases, rounds, budget)
    tink_sample(tink_case)  # warm-up
    run_group([tink_case], tink_rounds, budget)
    tmp.cleanup()

    all_cases = {c.key: c for cs in (*groups.values(), rot_cases, [tink_case]) for c in cs}
    m = {k: c.median() for k, c in all_cases.items()}

    rot_cost = m["dkm_rot_interval"] - m["dkm_rot_warm"]
    second_cost = m["dkm_rot_second"] - m["dkm_rot_warm"]
    derivation = m["dkm_rot_interval"] - m["dkm_rot_second"]
    ratios = [
        Ratio("seal_64_vs_cryptography", "64 B seal: dkm (memory store) / cryptography", m["dkm_seal_mem_64"]
              / m["crypto_encrypt_64"], 1.0, False, "dkm_seal_mem_64", "crypto_encrypt_64"),
        Ratio("seal_64_file_vs_cryptography", "64 B seal: dkm (file store) / cryptography",
              m["dkm_seal_file_64"] / m["crypto_encrypt_64"], None, False, "dkm_seal_file_64",
              "crypto_encrypt_64"),
        Ratio("seal_64_tink_speedup", "64 B seal: how many times faster than tink (tink / dkm)",
              m["tink_encrypt_64"] / m["dkm_seal_mem_64"], 2.0, True, "dkm_seal_mem_64", "tink_encrypt_64"),
        Ratio("seal_1m_throughput", "1 MiB seal: dkm throughput / cryptography's",
              m["crypto_encrypt_1m"] / m["dkm_seal_mem_1m"], 0.7, True, "dkm_seal_mem_1m", "crypto_encrypt_1m"),
        Ratio("unseal_64_vs_cryptography", "64 B unseal: dkm (memory store) / cryptography decrypt",
              m["dkm_unseal_mem_64"] / m["crypto_decrypt_64"], None, False, "dkm_unseal_mem_64",
              "crypto_decrypt_64"),
        Ratio("unseal_64_tink_speedup", "64 B unseal: tink decrypt / dkm",
              m["tink_decrypt_64"] / m["dkm_unseal_mem_64"], None, True, "dkm_unseal_mem_64", "tink_decrypt_64"),
        Ratio("unseal_1m_throughput", "1 MiB unseal: dkm throughput / cryptography decrypt's",
              m["crypto_decrypt_1m"] / m["dkm_unseal_mem_1m"], None, True, "dkm_unseal_mem_1m",
              "crypto_decrypt_1m"),
        Ratio("rotation_tink_over_dkm", "rotation: tink's cost / dkm's (first seal in a new interval "
              "minus a warm seal)", m["tink_rotate"] / rot_cost if rot_cost > 0 else float("inf"), None, True,
              "dkm_rot_interval", "tink_rotate"),
    ]

    # ---- report ----
    info = machine_info()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out: List[str] = []
    w = out.append
    w(f"## dkm Python benchmark ({date}{', quick' if args.quick else ''})")
    w("")
    w("| machine | |")
    w("|---|---|")
    for k, v in info.items():
        w(f"| {k} | {v} |")
    w(f"| method | timeit, {rounds} alternating rounds (tink rotation: {tink_rounds}), "
      f"~{budget * 1e3:g} ms per sample, medians of per-call times |")
    w("")
    w("### Targets")
    w("")
    w("| comparison | dkm | peer | ratio | target | |")
    w("|---|---:|---:|---:|---:|---|")
    for r in ratios:
        met = {True: "met", False: "**missed**", None: ""}[r.met]
        w(f"| {r.label} | {fmt_time(m[r.dkm]) if r.key != 'rotation_tink_over_dkm' else fmt_time(rot_cost)} "
          f"| {fmt_time(m[r.peer])} | **{r.value:.2f}×** | {r.target_text()} | {met} |")
    wrote = bool(rot.violations)
    w(f"| rotation: writes during {rot.rotations:,} rotating seals (dkm) vs one keyset write per "
      f"rotation (tink) | {'**some**' if wrote else 'none'} | 1 per rotation | | none "
      f"| {'**missed**' if wrote else 'met'} |")
    w("")
    w(f"dkm seals with a {len(CONTEXT)}-byte context (`{CONTEXT.decode()}`), as a service does; "
      "the peers with no associated data (`None`, `b''`). Ratios come from one run, side by side"
      f"{'; a quick run is a smoke test, not a measurement' if args.quick else ''}.")
    w("")
    w("### Every measurement (median per call; quartiles across rounds)")
    w("")
    w("| group | case | median | p25 – p75 | calls/sample |")
    w("|---|---|---:|---:|---:|")
    for gname, cases in (*groups.items(), ("rotation", rot_cases + [tink_case])):
        for c in cases:
            lo, hi = c.quartiles()
            size = LARGE if gname.endswith("_1m") else None
            med = fmt_time(c.median()) + (f" ({fmt_rate(size, c.median())})" if size else "")
            w(f"| {gname} | {c.label} | {med} | {fmt_time(lo)} – {fmt_time(hi)} | {c.number} |")
    w("")
    w("### Rotation")
    w("")
    w(f"dkm: a new key for every process is the first seal in a new interval; its extra cost over a "
      f"warm seal is **{fmt_time(rot_cost)}** ({fmt_time(second_cost)} of it the once-a-second checks "
      f"any new second pays, {fmt_time(derivation)} the key derivation), with no write: "
      f"{rot.rotations:,} rotating seals in {rot.batches} batches of {ROTATION_BATCH} added no audit "
      f"record and left the key state as it was"
      f"{'' if not rot.violations else ' — **VIOLATED**: ' + '; '.join(sorted(set(rot.violations)))}. "
      f"tink: {fmt_time(m['tink_rotate'])} per rotation of a {TINK_KEYS:,}-key keyset, "
      f"**{ratios[-1].value:,.0f}×** dkm's.")
    w("")
    print("\n".join(out))

    missed = [r for r in ratios if r.met is False]
    if args.json:
        doc = {
            "date": date,
            "quick": args.quick,
            "rounds": rounds,
            "budget_s": budget,
            "machine": info,
            "cases": {k: {"label": c.label, "stmt": c.stmt, "median_s": c.median(),
                          "p25_s": c.quartiles()[0], "p75_s": c.quartiles()[1], "number": c.number,
                          "samples_s": c.samples} for k, c in all_cases.items()},
            "ratios": {r.key: {"label": r.label, "value": r.value, "target": r.target,
                               "higher_is_better": r.higher_is_better, "met": r.met} for r in ratios},
            "rotation": {"dkm_cost_s": rot_cost, "dkm_second_checks_s": second_cost,
                         "dkm_derivation_s": derivation, "tink_cost_s": m["tink_rotate"],
                         "rotating_seals": rot.rotations, "batches": rot.batches,
                         "no_write": not rot.violations, "violations": sorted(set(rot.violations))},
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")

    status = 0
    if rot.violations:  # not a timing: holds in a quick run too
        print("rotation wrote: " + "; ".join(sorted(set(rot.violations))), file=sys.stderr)
        status = 1
    if args.check and missed:
        for r in missed:
            print(f"target missed: {r.label}: {r.value:.2f}× (target {r.target_text()})", file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
