// Helpers shared by the dkm package's Node tests (not a test file): times, a clock the tests
// advance, a synchronous store object over Maps, an asynchronous storage that yields between
// steps and counts its lost writes, a ring with its people, and error checks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import * as dkm from '../pkg/node.mjs';

export { dkm };

export const SEC = 1000;
export const MINUTE = 60 * SEC;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** 2030-03-17T17:46:40Z (ms): in the future, so nothing depends on the machine's clock. */
export const T0 = 1_900_000_000 * SEC;
/** After the approvers' 24 h cool-off (the default policy's approver_cooloff). */
export const T1 = T0 + DAY + HOUR;
export const RING = 'main';

export const HEX32 = /^[0-9a-f]{32}$/;
export const HEX64 = /^[0-9a-f]{64}$/;

export const PKG = fileURLToPath(new URL('../pkg/node.mjs', import.meta.url));

/** RFC 3339 text of a time in ms, as the views print it (whole seconds, `Z`). */
export function iso(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export function fromHex(h) {
  assert.equal(h.length % 2, 0, 'hex of odd length');
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b) {
  return Buffer.from(b).toString('hex');
}

export function bytesEqual(a, b) {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** A clock the tests set and advance: `clock.fn` is what `Host({clock})` reads. */
export class Clock {
  constructor(t = T0) {
    this.t = t;
    this.calls = 0;
    this.fn = () => {
      this.calls++;
      return this.t;
    };
  }
  set(t) {
    this.t = t;
  }
  advance(ms) {
    this.t += ms;
    return this.t;
  }
}

/** The `dkmsec1...` line of an identity's file text (what must never show in a message). */
export function secretLine(identity) {
  const line = identity
    .toText('x')
    .split('\n')
    .find((l) => l.startsWith('dkmsec1'));
  assert.ok(line, 'the identity text has a dkmsec1 line');
  return line;
}

/**
 * A `SyncStore` over Maps: ring bytes with a counter token, and the two line streams.
 * `commit` checks every expectation first and returns `false` when one fails. Counts calls
 * per method; `hooks` may replace any method (called with the original as last argument).
 */
export class MapSyncStore {
  constructor(location = `map-sync:${globalThis.crypto.randomUUID()}`) {
    this._location = location;
    this.rings = new Map(); // name -> {bytes, token}
    this.streams = new Map(); // `${name}\0${stream}` -> string[]
    this.serial = 0;
    this.calls = {};
    this.commits = [];
    this.hooks = {};
  }

  _count(m) {
    this.calls[m] = (this.calls[m] ?? 0) + 1;
  }

  _hooked(m, args, body) {
    this._count(m);
    const h = this.hooks[m];
    return h ? h(...args, body) : body(...args);
  }

  _stream(name, stream) {
    assert.ok(stream === 'audit' || stream === 'requests', `stream ${stream}`);
    const k = `${name}\0${stream}`;
    if (!this.streams.has(k)) this.streams.set(k, []);
    return this.streams.get(k);
  }

  ring(name) {
    return this._hooked('ring', [name], (n) => {
      const r = this.rings.get(n);
      return r ? { bytes: r.bytes.slice(), token: r.token } : null;
    });
  }

  lineCount(name, stream) {
    return this._hooked('lineCount', [name, stream], (n, s) => this._stream(n, s).length);
  }

  lastLine(name, stream) {
    return this._hooked('lastLine', [name, stream], (n, s) => {
      const l = this._stream(n, s);
      return l.length ? l[l.length - 1] : null;
    });
  }

  linesFrom(name, stream, from) {
    return this._hooked('linesFrom', [name, stream, from], (n, s, f) => this._stream(n, s).slice(f));
  }

  commit(name, commit) {
    return this._hooked('commit', [name, commit], (n, c) => this._commit(n, c));
  }

  _commit(name, c) {
    const cur = this.rings.get(name) ?? null;
    if (c.ring) {
      assert.ok(c.ring.bytes instanceof Uint8Array);
      if ((cur?.token ?? null) !== c.ring.expectedToken) return false;
    }
    for (const a of c.appends) {
      assert.ok(Array.isArray(a.lines) && a.lines.every((x) => typeof x === 'string'));
      if (this._stream(name, a.stream).length !== a.expectedCount) return false;
    }
    if (c.moveTo !== null && this.rings.has(c.moveTo)) return false;
    this.commits.push({ name, commit: c });
    if (c.ring) this.rings.set(name, { bytes: c.ring.bytes.slice(), token: `v${++this.serial}` });
    for (const a of c.appends) this._stream(name, a.stream).push(...a.lines);
    if (c.moveTo !== null) {
      this.rings.set(c.moveTo, this.rings.get(name));
      this.rings.delete(name);
      for (const s of ['audit', 'requests']) {
        const k = `${name}\0${s}`;
        if (this.streams.has(k)) {
          this.streams.set(`${c.moveTo}\0${s}`, this.streams.get(k));
          this.streams.delete(k);
        }
      }
    }
    return true;
  }

  names() {
    return this._hooked('names', [], () => [...this.rings.keys()].sort());
  }

  location() {
    return this._location;
  }
}

/**
 * An `AsyncStorage` over a `MapStorage` whose `read` and `write` each wait a random small
 * delay (so concurrent verbs interleave), counting reads, writes and lost writes.
 */
export class DelayedStorage {
  constructor(inner = new dkm.MapStorage(), { maxDelayMs = 3, seed = 1 } = {}) {
    this.inner = inner;
    this.maxDelayMs = maxDelayMs;
    this.seed = seed;
    this.reads = 0;
    this.writes = 0;
    this.lost = 0;
  }
  _rand() {
    // xorshift32: reproducible delays.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed / 2 ** 32;
  }
  async _pause() {
    const ms = Math.floor(this._rand() * (this.maxDelayMs + 1));
    if (ms === 0) await new Promise((r) => setImmediate(r));
    else await new Promise((r) => setTimeout(r, ms));
  }
  async read(names) {
    this.reads++;
    await this._pause();
    return this.inner.read(names);
  }
  async write(writeSet) {
    this.writes++;
    await this._pause();
    const ok = await this.inner.write(writeSet);
    if (!ok) this.lost++;
    return ok;
  }
}

/** Checks `e` is a `DkmError` of `kind` with the kind's code; `secrets` must not show in it. */
export function checkDkm(e, kind, secrets = []) {
  assert.ok(e instanceof dkm.DkmError, `expected a DkmError ${kind}, got ${e?.constructor?.name}: ${e?.message}`);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'DkmError');
  assert.equal(e.kind, kind, `kind (message: ${e.message})`);
  assert.equal(e.code, dkm.errorKinds().indexOf(kind) + 1);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  // No message ever carries a secret identity's text, whatever the test passes.
  assert.ok(!/dkmsec1[A-Za-z0-9_-]{8}/.test(e.message), `the message shows a secret identity: ${e.message}`);
  for (const s of secrets) {
    assert.ok(!e.message.includes(s), `the message shows a secret: ${e.message}`);
    assert.ok(!String(e.stack).includes(s), 'the stack shows a secret');
  }
  return e;
}

/** Runs `f`, which must throw a `DkmError` of `kind`; returns the error. */
export function throwsDkm(f, kind, secrets = []) {
  let thrown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `expected a DkmError ${kind}, nothing was thrown`);
  return checkDkm(thrown, kind, secrets);
}

/** `throwsDkm` for a function returning a Promise (which must reject). */
export async function rejectsDkm(f, kind, secrets = []) {
  let thrown;
  try {
    await f();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `expected a DkmError ${kind}, the promise resolved`);
  return checkDkm(thrown, kind, secrets);
}

/** Runs `f`, which must throw a `TypeError` that is not a `DkmError` (`what` names the case). */
export function throwsType(f, message, what = '') {
  let thrown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `${what}: expected a TypeError, nothing was thrown`);
  assert.ok(
    thrown instanceof TypeError,
    `${what}: expected a TypeError, got ${thrown?.constructor?.name}: ${thrown?.message}`,
  );
  assert.ok(!(thrown instanceof dkm.DkmError));
  if (message) assert.match(thrown.message, message);
  return thrown;
}

export async function rejectsType(f, message) {
  let thrown;
  try {
    await f();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, 'expected a TypeError, the promise resolved');
  assert.ok(thrown instanceof TypeError, `expected a TypeError, got ${thrown?.constructor?.name}: ${thrown?.message}`);
  if (message) assert.match(thrown.message, message);
  return thrown;
}

/**
 * Runs `body` (an async function's body using `dkm`) in a fresh Node process, so a WASM trap
 * or a crash cannot poison the module the other tests share. Returns `{status, signal,
 * result, stderr}`, where `result` is what the body returned (as JSON).
 */
export function inChild(body, { timeout = 60_000 } = {}) {
  const script = `
    const dkm = await import(${JSON.stringify(PKG)});
    const out = await (async () => { ${body} })();
    process.stdout.write('\\n@@RESULT@@' + JSON.stringify(out ?? null));
  `;
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout });
  const marker = p.stdout.lastIndexOf('@@RESULT@@');
  const result = marker >= 0 ? JSON.parse(p.stdout.slice(marker + 10)) : undefined;
  return { status: p.status, signal: p.signal, result, stderr: p.stderr };
}

/** Everyone of a ring named `RING`: an admin, a key holder, two approvers, a requester. */
export function people() {
  const [admin, svc, ops, sec, eng] = Array.from({ length: 5 }, () => dkm.Identity.generate());
  return { admin, svc, ops, sec, eng };
}

export const LEVELS = (w) => [
  { name: 'ops', quorum: 1, approvers: [w.ops.public] },
  { name: 'security', quorum: 1, approvers: [w.sec.public] },
];

/**
 * Creates ring `RING` at `T0` with a key holder and two approvers, maintained (a sync `Host`
 * on a new `MemoryStore` unless `store` is given). With `levels`, two approval levels (ops,
 * then security, quorum 1 each) carried out, and the clock moved past the cool-off (`T1`).
 */
export function makeWorld({ store = new dkm.MemoryStore(), pins = new dkm.MemoryPins(), clock = new Clock(), levels = false, policy } = {}) {
  const host = new dkm.Host(store, { pins, clock: clock.fn });
  const p = people();
  const ringId = host.createRing(RING, policy ? { as: p.admin, policy } : { as: p.admin });
  host.addMember(RING, 'service', p.svc.public, { as: p.admin });
  host.addMember(RING, 'approver', p.ops.public, { as: p.admin });
  host.addMember(RING, 'approver', p.sec.public, { as: p.admin });
  host.maintain(RING, { as: p.svc });
  const w = {
    host,
    store,
    pins,
    clock,
    ringId,
    ...p,
    seal: (data, context) => host.seal(RING, data, { as: p.svc, context }),
    open: (sealed, context) => host.unseal(RING, sealed, { as: p.svc, context }).text,
    approveAll: (request) => {
      host.approve(RING, request, 'ops', { as: p.ops });
      host.approve(RING, request, 'security', { as: p.sec });
    },
  };
  if (levels) {
    host.setApprovalLevels(RING, LEVELS(p), { as: p.admin });
    host.maintain(RING, { as: p.svc });
    clock.set(T1);
    host.maintain(RING, { as: p.svc });
  }
  return w;
}

/** The same ring on an `AsyncHost` over `storage` (a new `MapStorage` unless given). */
export async function makeAsyncWorld({ storage = new dkm.MapStorage(), pins = new dkm.MemoryPins(), clock = new Clock(), levels = false, retries } = {}) {
  const host = new dkm.AsyncHost(storage, retries ? { pins, clock: clock.fn, retries } : { pins, clock: clock.fn });
  const p = people();
  const ringId = await host.createRing(RING, { as: p.admin });
  await host.addMember(RING, 'service', p.svc.public, { as: p.admin });
  await host.addMember(RING, 'approver', p.ops.public, { as: p.admin });
  await host.addMember(RING, 'approver', p.sec.public, { as: p.admin });
  await host.maintain(RING, { as: p.svc });
  if (levels) {
    await host.setApprovalLevels(RING, LEVELS(p), { as: p.admin });
    await host.maintain(RING, { as: p.svc });
    clock.set(T1);
    await host.maintain(RING, { as: p.svc });
  }
  return { host, storage, pins, clock, ringId, ...p };
}
