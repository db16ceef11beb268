// The dkm package's API over the WASM module: `Host` (a memory store or a synchronous store
// object), `AsyncHost` (asynchronous storage: IndexedDB, an edge KV, a server), `DkmError`,
// and the module's classes. Every verb converts its arguments and calls the host's verb of the
// same name in the module; no rule of the ring is here.
import {
  Identity,
  MemoryPins,
  MemoryStore,
  NativeHost,
  NativeSnapshotHost,
  PublicIdentity,
  RingPublic,
  Unsealed,
  errorKinds,
  setErrorClass,
  testingKeyIntervalAt,
  testingTreeCover,
  testingTreeDerive,
  testingTreeLeaf,
  testingTreeRanges,
  testingUnsealRaw,
} from './dkm_wasm.js';

export { Identity, MemoryPins, MemoryStore, PublicIdentity, RingPublic, Unsealed, errorKinds };

/** What every dkm failure is thrown as: `kind` is the error kind's name, `code` its number. */
export class DkmError extends Error {
  constructor(message, kind, code) {
    super(message);
    this.name = 'DkmError';
    this.kind = kind;
    this.code = code;
  }
}

/**
 * Entry points for replaying the raw-key test vectors (`testvectors/v1/sealed.json`,
 * `seal_only.json`, `tree.json`). Not the API: they take and return key material.
 */
export const testing = Object.freeze({
  treeDerive: testingTreeDerive,
  treeCover: testingTreeCover,
  treeRanges: testingTreeRanges,
  treeLeaf: testingTreeLeaf,
  keyIntervalAt: testingKeyIntervalAt,
  unsealRaw: testingUnsealRaw,
});

/** Called by the entry modules once the module is instantiated. */
export function registerErrors() {
  setErrorClass(DkmError);
}

function publicText(x, what) {
  if (typeof x === 'string') return x;
  if (x instanceof PublicIdentity) return x.toText();
  throw new TypeError(`${what} must be a PublicIdentity or its text (dkmpub1...)`);
}

function levelsArg(levels) {
  if (!Array.isArray(levels)) throw new TypeError('levels must be an array of {name, quorum, approvers}');
  return levels.map((l) => {
    if (l === null || typeof l !== 'object' || !Array.isArray(l.approvers)) {
      throw new TypeError('a level must be {name, quorum, approvers: PublicIdentity[]}');
    }
    return { name: l.name, quorum: l.quorum, approvers: l.approvers.map((a) => publicText(a, 'an approver')) };
  });
}

// Verbs that act as someone: how many positional arguments come before the options object
// (which holds `as`, the acting identity), and the native arguments they make.
const ACTING = {
  createRing: [1, ([name], o) => [name, o.policy]],
  addMember: [3, ([ring, role, member]) => [ring, role, publicText(member, 'the member')]],
  removeMember: [2, ([ring, member]) => [ring, publicText(member, 'the member')]],
  setApprovalLevels: [2, ([ring, levels]) => [ring, levelsArg(levels)]],
  revokeEpoch: [2, (p) => p],
  shredBefore: [2, (p) => p],
  revokeGrant: [2, (p) => p],
  renameRing: [2, (p) => p],
  apply: [2, (p) => p],
  maintain: [1, (p) => p],
  rollEpoch: [1, (p) => p],
  seal: [2, ([ring, data], o) => [ring, data, o.context]],
  sealArmored: [2, ([ring, data], o) => [ring, data, o.context]],
  unseal: [2, ([ring, sealed], o) => [ring, sealed, o.context, o.acceptSealOnly]],
  unsealWithGrant: [3, ([ring, grant, sealed], o) => [ring, grant, sealed, o.context, o.acceptSealOnly]],
  requestAccess: [3, ([ring, reason, durationSecs], o) => [ring, reason, durationSecs, o.since, o.epochs]],
  approve: [3, (p) => p],
  deny: [3, (p) => p],
  grant: [2, (p) => p],
};

// Verbs that act as no one: their positional arguments.
const VIEWING = {
  exportPublic: 1,
  requests: 1,
  keys: 1,
  ringInfo: 1,
  auditRecords: 1,
  auditVerify: 1,
  exportSnapshot: 1,
  importSnapshot: 1,
};

function actor(o, verb) {
  if (o === null || typeof o !== 'object' || !(o.as instanceof Identity)) {
    throw new TypeError(`${verb} acts as someone: pass the identity as the last argument, {as: identity}`);
  }
  return o.as;
}

function acting(verb, n, build) {
  return function (...params) {
    if (params.length !== n + 1) {
      throw new TypeError(`${verb} takes ${n} argument(s) and then {as: identity, ...}`);
    }
    const o = params[n];
    const me = actor(o, verb);
    return this._act(verb, me, build(params.slice(0, n), o));
  };
}

function viewing(verb, n) {
  return function (...params) {
    if (params.length !== n) throw new TypeError(`${verb} takes ${n} argument(s)`);
    return this._call(verb, params);
  };
}

function pinsArg(pins) {
  if (pins === undefined) return new MemoryPins();
  if (!(pins instanceof MemoryPins)) throw new TypeError('pins must be a MemoryPins');
  return pins;
}

function clockArg(clock) {
  if (clock === undefined || clock === null) return undefined;
  if (typeof clock === 'function' || typeof clock === 'number' || clock instanceof Date) return clock;
  throw new TypeError('clock must be a function returning a Date or milliseconds, a Date, or milliseconds');
}

/** From this many bytes `sealAsync` and `unsealAsync` hand the bulk AES-GCM to WebCrypto. */
export const BULK_MIN = 16 * 1024;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Imports one message's AES-256-GCM key non-extractable and wipes the array it came in. */
async function importGcmKey(subtle, raw, use) {
  try {
    return await subtle.importKey('raw', raw, 'AES-GCM', false, [use]);
  } finally {
    raw.fill(0);
  }
}

/** A secret opened by `unsealAsync`: its plaintext (wipe it with `free()`) and origin. */
export class OpenedSecret {
  constructor(plaintext, origin) {
    this.plaintext = plaintext;
    this.origin = origin;
  }

  /** The plaintext as UTF-8 text (`InvalidInput` when it is not UTF-8). */
  get text() {
    try {
      return textDecoder.decode(this.plaintext);
    } catch {
      throw new DkmError('the plaintext is not UTF-8 text: read .plaintext', 'InvalidInput', 10);
    }
  }

  /** Overwrites the plaintext with zeros. */
  free() {
    this.plaintext.fill(0);
  }

  [Symbol.dispose ?? Symbol.for('Symbol.dispose')]() {
    this.free();
  }
}

/**
 * The verbs of dkm on the rings of one synchronous store: a `MemoryStore` or an object with
 * the store methods (`SyncStore`). `pins` is a `MemoryPins` (a new one when absent); `clock`
 * is absent (`Date.now()`, read at each operation), a function returning a `Date` or
 * milliseconds (read at each operation), or a fixed `Date` or milliseconds (audit records
 * carry the clock-override flag).
 */
export class Host {
  #native;

  constructor(store, { pins, clock } = {}) {
    if (store === null || typeof store !== 'object') {
      throw new TypeError('a Host takes a MemoryStore or a store object (SyncStore)');
    }
    const p = pinsArg(pins);
    const c = clockArg(clock);
    this.#native =
      store instanceof MemoryStore ? NativeHost.onMemory(store, p, c) : NativeHost.onObject(store, p, c);
    this.store = store;
    this.pins = p;
  }

  _act(verb, me, args) {
    return this.#native.act(verb, me, args);
  }

  _call(verb, args) {
    return this.#native.call(verb, args);
  }

  seal(ring, data, o) {
    if (arguments.length !== 3) throw new TypeError('seal takes the ring, the data and {as: identity, context}');
    return this.#native.seal(ring, actor(o, 'seal'), data, o.context);
  }

  unseal(ring, sealed, o) {
    if (arguments.length !== 3) throw new TypeError('unseal takes the ring, the sealed secret and {as: identity, context}');
    return this.#native.unseal(ring, actor(o, 'unseal'), sealed, o.context, o.acceptSealOnly);
  }

  /**
   * `seal` for any size, as a Promise: from `BULK_MIN` bytes (when the runtime has WebCrypto)
   * the message's key is derived in the module and the bulk AES-256-GCM runs in WebCrypto
   * (the key imported non-extractable, the module's copy wiped): the same bytes as `seal`,
   * at WebCrypto's speed.
   */
  async sealAsync(ring, data, o) {
    const me = actor(o, 'sealAsync');
    const bytes = typeof data === 'string' ? textEncoder.encode(data) : data;
    const subtle = globalThis.crypto?.subtle;
    if (!(bytes instanceof Uint8Array) || bytes.length < BULK_MIN || !subtle) {
      return this.#native.seal(ring, me, data, o.context);
    }
    const p = this.#native.sealParts(ring, me, bytes.length, o.context);
    const key = await importGcmKey(subtle, p.key, 'encrypt');
    const body = new Uint8Array(
      await subtle.encrypt({ name: 'AES-GCM', iv: p.iv, additionalData: p.aad, tagLength: 128 }, key, bytes),
    );
    const out = new Uint8Array(p.prefix.length + body.length);
    out.set(p.prefix);
    out.set(body, p.prefix.length);
    return out;
  }

  /**
   * `unseal` for any size, as a Promise of an `OpenedSecret` (`plaintext`, `origin`, `text`):
   * a key holder's secret of `BULK_MIN` bytes or more is checked against its commitment in
   * the module and decrypted by WebCrypto; smaller and seal-only secrets open in the module.
   */
  async unsealAsync(ring, sealed, o) {
    const me = actor(o, 'unsealAsync');
    const subtle = globalThis.crypto?.subtle;
    const size = typeof sealed === 'string' ? sealed.length : sealed?.length;
    const p = subtle && size >= BULK_MIN ? this.#native.openParts(ring, me, sealed, o.context) : null;
    if (p === null) {
      const u = this.#native.unseal(ring, me, sealed, o.context, o.acceptSealOnly);
      try {
        return new OpenedSecret(u.plaintext, u.origin);
      } finally {
        u.free();
      }
    }
    const key = await importGcmKey(subtle, p.key, 'decrypt');
    let plain;
    try {
      const body = p.body ?? sealed.subarray(p.offset);
      plain = await subtle.decrypt({ name: 'AES-GCM', iv: p.iv, additionalData: p.aad, tagLength: 128 }, key, body);
    } catch {
      throw new DkmError(
        'authentication failed: the data was modified, or the key or context is not the one it was sealed with',
        'Tampered',
        5,
      );
    }
    return new OpenedSecret(new Uint8Array(plain), 'key-holder');
  }

  /** Seals to a ring's public part (`RingPublic`) at the host's clock: seal-only. */
  sealTo(ringPublic, data, { context } = {}) {
    if (!(ringPublic instanceof RingPublic)) throw new TypeError('sealTo takes a RingPublic');
    return this.#native.sealTo(ringPublic, data, context);
  }

  /** The host's time now (its clock), whole seconds. */
  now() {
    return new Date(this.#native.now());
  }

  /** Releases the host's WASM memory (its cached rings and opened keys, wiped). */
  free() {
    this.#native.free();
  }

  [Symbol.dispose ?? Symbol.for('Symbol.dispose')]() {
    this.free();
  }
}

/**
 * An in-memory `AsyncStorage`: the reference of the contract (and a template for IndexedDB,
 * an edge KV or a server): `read` returns a snapshot of the names asked for, `write` checks
 * every expectation of a write set and then applies all of it, or nothing and returns `false`.
 */
export class MapStorage {
  #rings = new Map();
  #serial = 0;

  constructor(location = `map-storage:${globalThis.crypto.randomUUID()}`) {
    this.location = location;
  }

  async read(names) {
    const rings = {};
    for (const name of names) {
      const r = this.#rings.get(name);
      rings[name] = r
        ? { ring: r.ring && { bytes: r.ring.bytes.slice(), token: r.ring.token }, audit: [...r.audit], requests: [...r.requests] }
        : { ring: null, audit: [], requests: [] };
    }
    return { location: this.location, rings };
  }

  async write(writeSet) {
    const cur = (name) => this.#rings.get(name) ?? { ring: null, audit: [], requests: [] };
    for (const w of writeSet) {
      const r = cur(w.name);
      if (w.ring && (r.ring?.token ?? null) !== w.ring.expectedToken) return false;
      for (const a of w.appends) if (r[a.stream].length !== a.expectedCount) return false;
      if (w.moveTo !== null && cur(w.moveTo).ring !== null) return false;
    }
    for (const w of writeSet) {
      const r = cur(w.name);
      const next = {
        ring: w.ring ? { bytes: w.ring.bytes.slice(), token: `t${++this.#serial}` } : r.ring,
        audit: [...r.audit],
        requests: [...r.requests],
      };
      for (const a of w.appends) next[a.stream].push(...a.lines);
      if (w.moveTo !== null) {
        this.#rings.delete(w.name);
        this.#rings.set(w.moveTo, next);
      } else {
        this.#rings.set(w.name, next);
      }
    }
    return true;
  }

  /** The names of the rings it holds. */
  names() {
    return [...this.#rings.entries()].filter(([, r]) => r.ring !== null).map(([n]) => n);
  }
}

/**
 * Calls the storage: what it throws becomes a `StoreUnavailable` (its `cause` the original),
 * except a `DkmError` of kind `Conflict`, which is a lost race.
 */
async function storageCall(f, method) {
  try {
    return await f();
  } catch (e) {
    if (isConflict(e)) throw e;
    const why = e instanceof Error ? e.message : String(e);
    const err = new DkmError(`the storage's ${method} failed: ${why}`, 'StoreUnavailable', 15);
    err.cause = e;
    throw err;
  }
}

function isConflict(e) {
  return e instanceof DkmError && e.kind === 'Conflict';
}

/**
 * The verbs of dkm on asynchronous storage (`AsyncStorage`: `read(names)` and
 * `write(writeSet)`): each verb reads a snapshot of the rings it touches, runs against it in
 * the module, persists the write set with the storage's own compare-and-swap, and on a lost
 * race (`write` returns `false` or throws a `Conflict`) reads again and runs again, up to
 * `retries` times. A result (a grant's plaintext too) is released only once its writes are
 * durable. Every verb returns a Promise.
 */
export class AsyncHost {
  #native;
  #storage;
  #clock;

  constructor(storage, { pins, clock, retries = 8 } = {}) {
    if (storage === null || typeof storage !== 'object' || typeof storage.read !== 'function' || typeof storage.write !== 'function') {
      throw new TypeError('an AsyncHost takes a storage with read(names) and write(writeSet)');
    }
    if (!Number.isInteger(retries) || retries < 1) throw new TypeError('retries must be a whole number from 1');
    const p = pinsArg(pins);
    this.#clock = clockArg(clock);
    this.#native = new NativeSnapshotHost(p, this.#clock);
    this.#storage = storage;
    this.pins = p;
    this.retries = retries;
  }

  async _act(verb, me, args) {
    return this.#run(verb, me, args);
  }

  async _call(verb, args) {
    return this.#run(verb, null, args);
  }

  async #names(verb, args) {
    if (verb === 'renameRing') return [args[0], args[1]];
    if (verb === 'importSnapshot') {
      const p = this.#native.call({ location: '', rings: {} }, 'snapshotRingName', args);
      try {
        return [p.confirm()];
      } finally {
        p.free();
      }
    }
    return [args[0]];
  }

  async #run(verb, me, args) {
    const names = await this.#names(verb, args);
    for (let attempt = 1; ; attempt++) {
      const again = attempt < this.retries;
      const snapshot = await storageCall(() => this.#storage.read(names), 'read');
      let pending;
      try {
        pending = me ? this.#native.act(snapshot, verb, me, args) : this.#native.call(snapshot, verb, args);
      } catch (e) {
        if (isConflict(e) && again) continue;
        throw e;
      }
      try {
        const writeSet = pending.writeSet;
        if (writeSet.length > 0) {
          let stored;
          try {
            stored = (await storageCall(() => this.#storage.write(writeSet), 'write')) !== false;
          } catch (e) {
            if (!isConflict(e)) throw e;
            stored = false;
          }
          if (!stored) {
            if (again) continue;
            throw new DkmError(`${verb}: the storage changed under ${this.retries} attempts in a row: retry later`, 'Conflict', 14);
          }
        }
        return pending.confirm();
      } finally {
        pending.free();
      }
    }
  }

  /** Seals to a ring's public part (`RingPublic`) at the host's clock: seal-only (no storage). */
  async sealTo(ringPublic, data, { context } = {}) {
    if (!(ringPublic instanceof RingPublic)) throw new TypeError('sealTo takes a RingPublic');
    const c = this.#clock;
    return ringPublic.seal(data, context, typeof c === 'function' ? c() : c);
  }

  /** Releases the host's WASM memory. */
  free() {
    this.#native.free();
  }

  [Symbol.dispose ?? Symbol.for('Symbol.dispose')]() {
    this.free();
  }
}

for (const [verb, [n, build]] of Object.entries(ACTING)) {
  if (!Object.hasOwn(Host.prototype, verb)) Host.prototype[verb] = acting(verb, n, build);
  const sync = acting(verb, n, build);
  // Asynchronous: a wrong argument rejects the Promise too.
  AsyncHost.prototype[verb] = async function (...params) {
    return sync.apply(this, params);
  };
}
for (const [verb, n] of Object.entries(VIEWING)) {
  const sync = viewing(verb, n);
  Host.prototype[verb] = sync;
  AsyncHost.prototype[verb] = async function (...params) {
    return sync.apply(this, params);
  };
}
