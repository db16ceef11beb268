#!/usr/bin/env node
// The dkm npm package (WASM, under Node) against its JavaScript peers, side by side in one run.
//
// Peers: Node's WebCrypto (`globalThis.crypto.subtle`, OpenSSL underneath, every call
// awaited) and @noble/ciphers' `gcm` (pure JS), both from wasm/node_modules (no other
// dependency). Every case is a plain loop of its operation timed with `performance.now()`:
// each round takes one sample of every case of a group, the order flipping from round to
// round so that drift hits dkm and its peers alike; a case's result is the median of its
// per-operation times over the rounds. Only ratios are compared with targets, never times.
//
// Targets (ratio = the peer's time / dkm's): a 64 B seal + unseal on a warm `Host` at least
// 4x faster than WebCrypto with a key imported per message and 2x faster than noble with a
// key per message; 1 MiB seal + unseal at least 0.5x the throughput of WebCrypto with its key
// imported once (through `sealAsync` / `unsealAsync`, the package's bulk path, when the
// package has them). Everything else (64 B seal and unseal alone, seal-only, `seal` and
// `unseal` of 1 MiB in WASM, noble at 1 MiB) is reported without a target.
//
//   node bench/wasm/bench.mjs [--quick] [--json] [--save PATH] [--check] [--rounds N] [--pkg DIR]
//
// --quick: a smoke run (5 rounds, short samples; under ~20 s), not a measurement.
// --json: print one JSON object (every sample, the ratios, the machine) instead of the tables.
// --save PATH: also write that JSON object to PATH.
// --check: exit 1 when a target ratio is missed (needs a full run).
// --pkg DIR: the package directory to load (its node.mjs); default wasm/pkg beside this file
// (an unstripped build for a profile, say).
import { createRequire } from 'node:module';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SMALL = 64;
const LARGE = 1 << 20;
const CONTEXT = 'account:42'; // the quickstart's context: what a service passes (as bench/python)
const MB = 1e6;

// ---- arguments ---------------------------------------------------------------------------

function usage(code) {
  (code ? process.stderr : process.stdout).write(
    'usage: node bench/wasm/bench.mjs [--quick] [--json] [--save PATH] [--check] [--rounds N] [--pkg DIR]\n',
  );
  process.exit(code);
}

const opts = { quick: false, json: false, save: undefined, check: false, rounds: undefined, pkg: undefined };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--json') opts.json = true;
    else if (a === '--check') opts.check = true;
    else if (a === '--help' || a === '-h') usage(0);
    else if (a === '--rounds' || a.startsWith('--rounds=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      opts.rounds = Number(v);
      if (!Number.isInteger(opts.rounds) || opts.rounds < 1) usage(2);
    } else if (a === '--save' || a.startsWith('--save=')) {
      opts.save = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!opts.save) usage(2);
    } else if (a === '--pkg' || a.startsWith('--pkg=')) {
      opts.pkg = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!opts.pkg) usage(2);
    } else {
      process.stderr.write(`unknown argument: ${a}\n`);
      usage(2);
    }
  }
  if (opts.quick && opts.check) {
    process.stderr.write('--check needs a full run: drop --quick\n');
    process.exit(2);
  }
}

const ROUNDS = opts.rounds ?? (opts.quick ? 5 : 31);
// Seconds per sample: 64-byte cases, and 1 MiB cases (at least one operation each).
const BUDGET_SMALL = opts.quick ? 0.01 : 0.05;
const BUDGET_LARGE = opts.quick ? 0.05 : 0.2;

// ---- the package and the peers -------------------------------------------------------------

const pkgUrl = opts.pkg
  ? pathToFileURL(`${opts.pkg.replace(/\/+$/, '')}/node.mjs`)
  : new URL('../../wasm/pkg/node.mjs', import.meta.url);
const dkm = await import(pkgUrl.href).catch((e) => {
  process.stderr.write(`cannot load the package at ${fileURLToPath(pkgUrl)} (build it: npm run build in wasm/): ${e.message}\n`);
  process.exit(2);
});
const { Host, MemoryStore, Identity, RingPublic } = dkm;

const require = createRequire(new URL('../../wasm/package.json', import.meta.url));
const noblePath = require.resolve('@noble/ciphers/aes.js');
const { gcm } = await import(pathToFileURL(noblePath).href);
const { randomBytes } = await import(pathToFileURL(require.resolve('@noble/ciphers/utils.js')).href);
const nobleVersion = JSON.parse(readFileSync(new URL('./package.json', pathToFileURL(noblePath)), 'utf8')).version;

const subtle = globalThis.crypto.subtle;
const getRandomValues = (a) => globalThis.crypto.getRandomValues(a);

// ---- measurement ---------------------------------------------------------------------------

class Case {
  /**
   * One timed operation: `fn` is synchronous, or returns a Promise that is awaited (`async`).
   * `samples` are per-operation times in seconds, one per round.
   */
  constructor(key, label, fn, { async = false, budget = BUDGET_SMALL, bytes = 0 } = {}) {
    Object.assign(this, { key, label, fn, async, budget, bytes });
    this.number = 0;
    this.samples = [];
  }

  /** Seconds for `n` operations in a row. */
  async time(n) {
    const fn = this.fn;
    let sink = 0;
    const t0 = performance.now();
    if (this.async) {
      for (let i = 0; i < n; i++) sink ^= (await fn()).byteLength;
    } else {
      for (let i = 0; i < n; i++) sink ^= fn().byteLength;
    }
    const t = (performance.now() - t0) / 1e3;
    if (sink === 0.5) throw new Error('unreachable'); // keeps the results alive
    return t;
  }

  /** How many operations take about the budget (at least one). */
  async calibrate() {
    let n = 1;
    for (;;) {
      const t = await this.time(n);
      if (t >= this.budget * 0.5 || n >= 10_000_000) return Math.max(1, Math.round((n * this.budget) / Math.max(t, 1e-9)));
      n = t < this.budget * 0.05 ? n * 10 : Math.max(n + 1, Math.round((n * this.budget) / t));
    }
  }

  median() {
    return quantile(this.samples, 0.5);
  }
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Calibrates and warms up every case, then `rounds` rounds of one sample per case, the
 * order alternating (dkm first, then the peers first). */
async function runGroup(name, cases, rounds) {
  process.stderr.write(`  ${name}:`);
  for (const c of cases) {
    // JIT warm-up first (for about one budget), so that calibration sees steady-state speed.
    for (const end = performance.now() + c.budget * 1e3; performance.now() < end; ) await c.time(1);
    c.number = await c.calibrate();
    await c.time(c.number); // warm-up (dropped)
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) c.samples.push((await c.time(c.number)) / c.number);
    if (r % 10 === 9) process.stderr.write(` ${r + 1}`);
  }
  process.stderr.write(' done\n');
}

// ---- formatting ----------------------------------------------------------------------------

function fmtUs(s) {
  const us = s * 1e6;
  if (us < 10) return us.toFixed(2);
  if (us < 1000) return us.toFixed(1);
  return Math.round(us).toLocaleString('en-US');
}

function fmtRate(bytes, s) {
  const r = bytes / s / MB;
  return `${r < 10 ? r.toFixed(2) : r < 1000 ? r.toFixed(1) : Math.round(r).toLocaleString('en-US')} MB/s`;
}

function cpuInfo() {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? os.cpus()[0]?.model ?? '?';
    const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/));
    const wanted = ['aes', 'vaes', 'pclmulqdq', 'vpclmulqdq', 'sha_ni', 'avx2', 'avx512f'];
    return { model, flags: wanted.filter((f) => flags.has(f)).join(' ') };
  } catch {
    return { model: os.cpus()[0]?.model ?? '?', flags: '?' };
  }
}

function machineInfo() {
  const cpu = cpuInfo();
  const wasmUrl = new URL('./dkm_wasm_bg.wasm', pkgUrl);
  const wasm = readFileSync(wasmUrl);
  let pkgVersion = '?';
  try {
    pkgVersion = JSON.parse(readFileSync(new URL('./package.json', pkgUrl), 'utf8')).version;
  } catch {
    // informational only
  }
  return {
    cpu: cpu.model,
    cpu_flags: cpu.flags,
    cores: String(os.availableParallelism?.() ?? os.cpus().length),
    os: `${os.type()} ${os.release()}`,
    node: `${process.version} (V8 ${process.versions.v8}, OpenSSL ${process.versions.openssl})`,
    dkm: `${pkgVersion} (${fileURLToPath(pkgUrl)}; module ${wasm.length.toLocaleString('en-US')} bytes, sha256 ${createHash('sha256').update(wasm).digest('hex').slice(0, 12)}, built ${statSync(wasmUrl).mtime.toISOString().slice(0, 16)}Z)`,
    noble_ciphers: nobleVersion,
  };
}

// ---- the set-up ----------------------------------------------------------------------------

function filled(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function assert(ok, what) {
  if (!ok) throw new Error(`set-up check failed: ${what}`);
}

const small = filled(SMALL);
const large = filled(LARGE);

// dkm: a warm host on a memory store, the service a key holder of ring "mail".
const admin = Identity.generate();
const svc = Identity.generate();
const host = new Host(new MemoryStore());
host.createRing('mail', { as: admin });
host.addMember('mail', 'service', svc.public, { as: admin });
host.maintain('mail', { as: svc });
const ringPublic = new RingPublic(host.exportPublic('mail'));
const sealOpts = { as: svc, context: CONTEXT };

function dkmSeal(data) {
  return host.seal('mail', data, sealOpts);
}
function dkmUnseal(sealed) {
  const u = host.unseal('mail', sealed, sealOpts);
  const p = u.plaintext; // copied out of wasm memory
  u.free(); // wipes the module's copy
  return p;
}
const dkmPair = (data) => dkmUnseal(dkmSeal(data));

// The package's bulk path (when it has one): `sealAsync` / `unsealAsync` derive the message's
// key in the module and hand AES-256-GCM to WebCrypto from `BULK_MIN` bytes (below it they
// seal and open in the module, behind a Promise). The plaintext is returned unwiped, as the
// peers return theirs.
const HAS_ASYNC = typeof host.sealAsync === 'function' && typeof host.unsealAsync === 'function';
const dkmSealAsync = (data) => host.sealAsync('mail', data, sealOpts);
const dkmUnsealAsync = async (sealed) => (await host.unsealAsync('mail', sealed, sealOpts)).plaintext;
const dkmPairAsync = async (data) => dkmUnsealAsync(await dkmSealAsync(data));

// WebCrypto, a key per message: importKey + encrypt, then importKey + decrypt (as the receiver).
async function wcEncryptFresh(data) {
  const raw = getRandomValues(new Uint8Array(32));
  const iv = getRandomValues(new Uint8Array(12));
  const k = await subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt']);
  return { raw, iv, ct: await subtle.encrypt({ name: 'AES-GCM', iv }, k, data) };
}
async function wcDecryptFresh({ raw, iv, ct }) {
  const k = await subtle.importKey('raw', raw, 'AES-GCM', false, ['decrypt']);
  return subtle.decrypt({ name: 'AES-GCM', iv }, k, ct);
}
const wcPairFresh = async (data) => wcDecryptFresh(await wcEncryptFresh(data));

// WebCrypto, the key imported once (a random IV per message).
const wcKey = await subtle.importKey('raw', getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
async function wcEncryptKeyed(data) {
  const iv = getRandomValues(new Uint8Array(12));
  return { iv, ct: await subtle.encrypt({ name: 'AES-GCM', iv }, wcKey, data) };
}
const wcDecryptKeyed = ({ iv, ct }) => subtle.decrypt({ name: 'AES-GCM', iv }, wcKey, ct);
const wcPairKeyed = async (data) => wcDecryptKeyed(await wcEncryptKeyed(data));

// noble: a fresh 32-byte key and 12-byte nonce per message, `gcm(key, nonce)` built per message
// (one instance encrypts and decrypts; noble expands the key inside each call anyway).
function noblePairFresh(data) {
  const c = gcm(randomBytes(32), randomBytes(12));
  return c.decrypt(c.encrypt(data));
}
function nobleEncryptFresh(data) {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  return { key, nonce, ct: gcm(key, nonce).encrypt(data) };
}
const nobleDecryptFresh = ({ key, nonce, ct }) => gcm(key, nonce).decrypt(ct);
// noble with its key once (1 MiB, informational: the software AES-GCM of JS).
const nobleKey = randomBytes(32);
function noblePairKeyed(data) {
  const nonce = randomBytes(12);
  return gcm(nobleKey, nonce).decrypt(gcm(nobleKey, nonce).encrypt(data));
}

// X25519 through WebCrypto: the peer of a seal-only seal (one DH + one base-point mult.).
const xA = await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
const xB = await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
const wcX25519 = () => subtle.deriveBits({ name: 'X25519', public: xB.publicKey }, xA.privateKey, 256);

// Every party opens what it sealed; the sealed inputs of the one-sided cases.
const sealedSmall = dkmSeal(small);
const sealedLarge = dkmSeal(large);
assert(sameBytes(dkmUnseal(sealedSmall), small), 'dkm 64 B');
assert(sameBytes(dkmUnseal(sealedLarge), large), 'dkm 1 MiB');
{
  const u = host.unseal('mail', ringPublic.seal(small, CONTEXT), sealOpts);
  assert(u.origin === 'seal-only' && sameBytes(u.plaintext, small), 'dkm seal-only');
  u.free();
}
assert(sameBytes(new Uint8Array(await wcPairFresh(small)), small), 'WebCrypto per-message key');
assert(sameBytes(new Uint8Array(await wcPairKeyed(large)), large), 'WebCrypto 1 MiB');
assert(sameBytes(noblePairFresh(small), small), 'noble per-message key');
assert(sameBytes(noblePairKeyed(large), large), 'noble 1 MiB');
let sealedLargeAsync;
if (HAS_ASYNC) {
  sealedLargeAsync = await dkmSealAsync(large);
  assert(sameBytes(await dkmPairAsync(small), small), 'dkm sealAsync/unsealAsync 64 B');
  assert(sameBytes(await dkmUnsealAsync(sealedLargeAsync), large), 'dkm sealAsync/unsealAsync 1 MiB');
  assert(sameBytes(dkmUnseal(sealedLargeAsync), large), 'dkm unseal of a sealAsync secret');
  assert(sameBytes(await dkmUnsealAsync(sealedLarge), large), 'dkm unsealAsync of a seal secret');
}
const wcFreshSmall = await wcEncryptFresh(small);
const wcKeyedLarge = await wcEncryptKeyed(large);
const nobleFreshSmall = nobleEncryptFresh(small);

// ---- the cases -----------------------------------------------------------------------------

const L = { budget: BUDGET_LARGE, bytes: LARGE };
const LA = { ...L, async: true };
const onlyAsync = (cases) => (HAS_ASYNC ? cases : []);
const groups = {
  pair_64: [
    new Case('dkm_pair_64', 'dkm `host.seal` + `host.unseal` (memory store, warm)', () => dkmPair(small)),
    new Case('webcrypto_fresh_pair_64', 'WebCrypto importKey + encrypt, importKey + decrypt (key per message)', () => wcPairFresh(small), { async: true }),
    new Case('noble_fresh_pair_64', 'noble `gcm(key, nonce)` encrypt + decrypt (key per message)', () => noblePairFresh(small)),
    ...onlyAsync([
      new Case('dkm_async_pair_64', 'dkm `sealAsync` + `unsealAsync`, awaited (in the module below 16 KiB)', () => dkmPairAsync(small), { async: true }),
    ]),
  ],
  seal_64: [
    new Case('dkm_seal_64', 'dkm `host.seal`', () => dkmSeal(small)),
    new Case('webcrypto_fresh_encrypt_64', 'WebCrypto importKey + encrypt (key per message)', () => wcEncryptFresh(small).then((r) => r.ct), { async: true }),
    new Case('noble_fresh_encrypt_64', 'noble `gcm(key, nonce).encrypt` (key per message)', () => nobleEncryptFresh(small).ct),
  ],
  unseal_64: [
    new Case('dkm_unseal_64', 'dkm `host.unseal` (+ `.plaintext`, `free()`)', () => dkmUnseal(sealedSmall)),
    new Case('webcrypto_fresh_decrypt_64', 'WebCrypto importKey + decrypt', () => wcDecryptFresh(wcFreshSmall), { async: true }),
    new Case('noble_fresh_decrypt_64', 'noble `gcm(key, nonce).decrypt`', () => nobleDecryptFresh(nobleFreshSmall)),
  ],
  seal_only_64: [
    new Case('dkm_seal_only_64', 'dkm `RingPublic.seal` (seal-only: X25519 HPKE export)', () => ringPublic.seal(small, CONTEXT)),
    new Case('webcrypto_x25519', 'WebCrypto X25519 `deriveBits` (one DH)', wcX25519, { async: true }),
  ],
  pair_1m: [
    ...onlyAsync([
      new Case('dkm_async_pair_1m', 'dkm `sealAsync` + `unsealAsync`, awaited (bulk AES-GCM in WebCrypto)', () => dkmPairAsync(large), LA),
    ]),
    new Case('webcrypto_keyed_pair_1m', 'WebCrypto encrypt + decrypt (key imported once)', () => wcPairKeyed(large), LA),
    new Case('dkm_pair_1m', 'dkm `host.seal` + `host.unseal` (all in WASM)', () => dkmPair(large), L),
    new Case('noble_keyed_pair_1m', 'noble `gcm` encrypt + decrypt (key once)', () => noblePairKeyed(large), L),
  ],
  parts_1m: [
    ...onlyAsync([new Case('dkm_async_seal_1m', 'dkm `sealAsync`', () => dkmSealAsync(large), LA)]),
    new Case('webcrypto_keyed_encrypt_1m', 'WebCrypto encrypt (key imported once)', () => wcEncryptKeyed(large).then((r) => r.ct), LA),
    new Case('dkm_seal_1m', 'dkm `host.seal`', () => dkmSeal(large), L),
    ...onlyAsync([new Case('dkm_async_unseal_1m', 'dkm `unsealAsync`', () => dkmUnsealAsync(sealedLargeAsync), LA)]),
    new Case('webcrypto_keyed_decrypt_1m', 'WebCrypto decrypt (key imported once)', () => wcDecryptKeyed(wcKeyedLarge), LA),
    new Case('dkm_unseal_1m', 'dkm `host.unseal` (+ `.plaintext`, `free()`)', () => dkmUnseal(sealedLarge), L),
  ],
};

// Ratios: the peer's time over dkm's, i.e. dkm's speed relative to the peer (> 1: dkm faster;
// at 1 MiB, dkm's throughput over the peer's). The 1 MiB target is on the package's bulk path
// (`sealAsync` / `unsealAsync`) when it has one, else on `seal` / `unseal`.
const BULK = HAS_ASYNC ? 'dkm_async' : 'dkm';
const RATIOS = [
  ['pair_64_vs_webcrypto', '64 B seal + unseal vs WebCrypto, key per message (× faster)', 'dkm_pair_64', 'webcrypto_fresh_pair_64', 4],
  ['pair_64_vs_noble', '64 B seal + unseal vs noble, key per message (× faster)', 'dkm_pair_64', 'noble_fresh_pair_64', 2],
  ['pair_1m_vs_webcrypto', `1 MiB ${HAS_ASYNC ? '`sealAsync` + `unsealAsync`' : 'seal + unseal'} vs WebCrypto, key once (throughput ratio)`, `${BULK}_pair_1m`, 'webcrypto_keyed_pair_1m', 0.5],
  ...(HAS_ASYNC
    ? [
        ['seal_1m_async_vs_webcrypto', '1 MiB `sealAsync` vs WebCrypto encrypt (throughput ratio)', 'dkm_async_seal_1m', 'webcrypto_keyed_encrypt_1m', null],
        ['unseal_1m_async_vs_webcrypto', '1 MiB `unsealAsync` vs WebCrypto decrypt (throughput ratio)', 'dkm_async_unseal_1m', 'webcrypto_keyed_decrypt_1m', null],
        ['pair_1m_sync_vs_webcrypto', '1 MiB `seal` + `unseal` (all in WASM) vs WebCrypto (throughput ratio)', 'dkm_pair_1m', 'webcrypto_keyed_pair_1m', null],
      ]
    : []),
  ['seal_1m_vs_webcrypto', '1 MiB `seal` vs WebCrypto encrypt (throughput ratio)', 'dkm_seal_1m', 'webcrypto_keyed_encrypt_1m', null],
  ['unseal_1m_vs_webcrypto', '1 MiB `unseal` vs WebCrypto decrypt (throughput ratio)', 'dkm_unseal_1m', 'webcrypto_keyed_decrypt_1m', null],
  ['pair_1m_vs_noble', '1 MiB `seal` + `unseal` vs noble, key once (throughput ratio)', 'dkm_pair_1m', 'noble_keyed_pair_1m', null],
  ['seal_64_vs_webcrypto', '64 B seal vs WebCrypto importKey + encrypt', 'dkm_seal_64', 'webcrypto_fresh_encrypt_64', null],
  ['seal_64_vs_noble', '64 B seal vs noble encrypt (key per message)', 'dkm_seal_64', 'noble_fresh_encrypt_64', null],
  ['unseal_64_vs_webcrypto', '64 B unseal vs WebCrypto importKey + decrypt', 'dkm_unseal_64', 'webcrypto_fresh_decrypt_64', null],
  ['unseal_64_vs_noble', '64 B unseal vs noble decrypt (key per message)', 'dkm_unseal_64', 'noble_fresh_decrypt_64', null],
  ...(HAS_ASYNC
    ? [['pair_64_async_vs_webcrypto', '64 B `sealAsync` + `unsealAsync` vs WebCrypto, key per message', 'dkm_async_pair_64', 'webcrypto_fresh_pair_64', null]]
    : []),
  ['seal_only_64_vs_x25519', '64 B seal-only seal (`RingPublic.seal`) vs one X25519 DH', 'dkm_seal_only_64', 'webcrypto_x25519', null],
];

// ---- run -----------------------------------------------------------------------------------

process.stderr.write(`dkm WASM benchmark: ${ROUNDS} rounds${opts.quick ? ' (quick)' : ''} ...\n`);
const started = performance.now();
for (const [name, cases] of Object.entries(groups)) await runGroup(name, cases, ROUNDS);
const elapsed = (performance.now() - started) / 1e3;
process.stderr.write(`  (${elapsed.toFixed(1)} s)\n`);

const all = Object.fromEntries(Object.values(groups).flat().map((c) => [c.key, c]));
const ratios = RATIOS.map(([key, label, d, p, target]) => {
  const dc = all[d];
  const pc = all[p];
  const value = pc.median() / dc.median();
  // The same ratio round by round (both samples of a round were taken side by side).
  const paired = quantile(dc.samples.map((x, i) => pc.samples[i] / x), 0.5);
  return { key, label, dkm: d, peer: p, target, value, paired, met: target === null ? null : value >= target };
});

const date = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
const info = machineInfo();

{
  const doc = {
    date,
    quick: opts.quick,
    rounds: ROUNDS,
    budget_s: { small: BUDGET_SMALL, large: BUDGET_LARGE },
    elapsed_s: elapsed,
    context: CONTEXT,
    machine: info,
    cases: Object.fromEntries(
      Object.entries(groups).flatMap(([g, cs]) =>
        cs.map((c) => [
          c.key,
          {
            group: g,
            label: c.label,
            median_s: c.median(),
            p25_s: quantile(c.samples, 0.25),
            p75_s: quantile(c.samples, 0.75),
            ...(c.bytes ? { mb_per_s: c.bytes / c.median() / MB } : {}),
            ops_per_sample: c.number,
            samples_s: c.samples,
          },
        ]),
      ),
    ),
    ratios: Object.fromEntries(
      ratios.map((r) => [
        r.key,
        { label: r.label, dkm: r.dkm, peer: r.peer, value: r.value, paired_median: r.paired, target: r.target, met: r.met },
      ]),
    ),
  };
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (opts.save) writeFileSync(opts.save, text);
  if (opts.json) process.stdout.write(text);
}
if (!opts.json) {
  const out = [];
  const w = (s = '') => out.push(s);
  w(`## dkm WASM benchmark (${date}${opts.quick ? ', quick' : ''})`);
  w();
  w('| machine | |');
  w('|---|---|');
  for (const [k, v] of Object.entries(info)) w(`| ${k} | ${v} |`);
  w(`| method | ${ROUNDS} alternating rounds, ~${BUDGET_SMALL * 1e3} ms per 64 B sample and ~${BUDGET_LARGE * 1e3} ms per 1 MiB sample, medians of per-operation times (${elapsed.toFixed(0)} s) |`);
  w();
  w('### Targets (ratio: the peer\'s time / dkm\'s; > 1: dkm faster)');
  w();
  w('| case | dkm µs | peer µs | ratio | target | met? |');
  w('|---|---:|---:|---:|---:|---|');
  for (const r of ratios) {
    const dc = all[r.dkm];
    const pc = all[r.peer];
    const cell = (c) => fmtUs(c.median()) + (c.bytes ? ` (${fmtRate(c.bytes, c.median())})` : '');
    const met = r.met === null ? '' : r.met ? 'met' : '**missed**';
    w(`| ${r.label} | ${cell(dc)} | ${cell(pc)} | **${r.value.toFixed(2)}×** | ${r.target === null ? '(info)' : `≥ ${r.target}×`} | ${met} |`);
  }
  w();
  w(`dkm seals with a ${CONTEXT.length}-byte context (\`${CONTEXT}\`) on a warm \`Host\` over a \`MemoryStore\` (ring verified, key holder opened); the peers with no associated data. A 1 MiB pair's MB/s is 2^20 bytes over the time of its seal + unseal (MB = 10^6 bytes).${opts.quick ? ' A quick run is a smoke test, not a measurement.' : ''}`);
  w();
  w('### Every measurement (median per operation; quartiles across rounds)');
  w();
  w('| group | case | median µs | p25 – p75 µs | ops/sample |');
  w('|---|---|---:|---:|---:|');
  for (const [g, cs] of Object.entries(groups)) {
    for (const c of cs) {
      const rate = c.bytes ? ` (${fmtRate(c.bytes, c.median())})` : '';
      w(`| ${g} | ${c.label} | ${fmtUs(c.median())}${rate} | ${fmtUs(quantile(c.samples, 0.25))} – ${fmtUs(quantile(c.samples, 0.75))} | ${c.number} |`);
    }
  }
  w();
  process.stdout.write(`${out.join('\n')}\n`);
}

host.free();
const missed = ratios.filter((r) => r.met === false);
if (opts.check && missed.length > 0) {
  for (const r of missed) process.stderr.write(`target missed: ${r.label}: ${r.value.toFixed(2)}× (target ≥ ${r.target}×)\n`);
  process.exitCode = 1;
}
