// The package's core checks in a real browser (run by browser/run.mjs): each check throws on
// a failure; the results go to window.__results ({done, results: [{name, ok, detail}]}).
import {
  AsyncHost,
  DkmError,
  Host,
  Identity,
  MapStorage,
  MemoryPins,
  MemoryStore,
  PublicIdentity,
  RingPublic,
  errorKinds,
  init,
} from '/pkg/index.js';

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

function assert(cond, what) {
  if (!cond) throw new Error(`assertion failed: ${what}`);
}
function eq(a, b, what) {
  if (a !== b) throw new Error(`${what}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}
function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Runs `fn` and returns the DkmError it throws, checked against `kind` and its code. */
function dkmError(kind, fn, what) {
  let e = null;
  try {
    fn();
  } catch (x) {
    e = x;
  }
  return checkDkmError(kind, e, what);
}
async function dkmErrorAsync(kind, fn, what) {
  let e = null;
  try {
    await fn();
  } catch (x) {
    e = x;
  }
  return checkDkmError(kind, e, what);
}
function checkDkmError(kind, e, what) {
  if (e === null) throw new Error(`${what}: expected DkmError ${kind}, nothing thrown`);
  if (!(e instanceof DkmError)) throw new Error(`${what}: expected DkmError ${kind}, got ${e?.name}: ${e?.message}`);
  if (e.kind !== kind) throw new Error(`${what}: expected ${kind}, got ${e.kind}: ${e.message}`);
  assert(e instanceof Error, `${what}: a DkmError is an Error`);
  eq(e.name, 'DkmError', `${what}: name`);
  eq(e.code, errorKinds().indexOf(kind) + 1, `${what}: code of ${kind}`);
  assert(typeof e.message === 'string' && e.message.length > 0, `${what}: a message`);
  return e;
}
function typeError(fn, what) {
  try {
    fn();
  } catch (e) {
    if (e instanceof TypeError) return e;
    throw new Error(`${what}: expected TypeError, got ${e?.name}: ${e?.message}`);
  }
  throw new Error(`${what}: expected TypeError, nothing thrown`);
}
async function typeErrorAsync(fn, what) {
  let p;
  try {
    p = fn();
  } catch (e) {
    throw new Error(`${what}: an async verb threw synchronously (${e?.name}) instead of rejecting`);
  }
  try {
    await p;
  } catch (e) {
    if (e instanceof TypeError) return e;
    throw new Error(`${what}: expected a TypeError rejection, got ${e?.name}: ${e?.message}`);
  }
  throw new Error(`${what}: expected a TypeError rejection, it resolved`);
}

/** A ring "mail" on a Host: admin, a key holder, maintained. */
function memoryRing(options) {
  const host = new Host(new MemoryStore(), options);
  const admin = Identity.generate();
  const svc = Identity.generate();
  host.createRing('mail', { as: admin, policy: { approverCooloffSecs: 0 } });
  host.addMember('mail', 'service', svc.public, { as: admin });
  host.maintain('mail', { as: svc });
  return { host, admin, svc };
}

/** A synchronous store object over a Map (the SyncStore contract). */
function mapSyncStore(location) {
  const rings = new Map();
  let serial = 0;
  const get = (n) => rings.get(n) ?? { ring: null, audit: [], requests: [] };
  return {
    rings,
    ring: (n) => get(n).ring,
    lineCount: (n, s) => get(n)[s].length,
    lastLine: (n, s) => get(n)[s].at(-1) ?? null,
    linesFrom: (n, s, from) => get(n)[s].slice(from),
    commit(n, c) {
      const r = get(n);
      if (c.ring && (r.ring?.token ?? null) !== c.ring.expectedToken) return false;
      for (const a of c.appends) if (r[a.stream].length !== a.expectedCount) return false;
      if (c.moveTo !== null && get(c.moveTo).ring !== null) return false;
      const next = {
        ring: c.ring ? { bytes: c.ring.bytes.slice(), token: `t${++serial}` } : r.ring,
        audit: [...r.audit, ...c.appends.filter((a) => a.stream === 'audit').flatMap((a) => a.lines)],
        requests: [...r.requests, ...c.appends.filter((a) => a.stream === 'requests').flatMap((a) => a.lines)],
      };
      if (c.moveTo !== null) rings.delete(n);
      rings.set(c.moveTo ?? n, next);
      return true;
    },
    names: () => [...rings.keys()].filter((n) => rings.get(n).ring !== null),
    location: () => location,
  };
}

// ---- the checks --------------------------------------------------------------------------

check('module: init (twice) and the 18 error kinds', async () => {
  await init();
  await init();
  const kinds = errorKinds();
  eq(kinds.length, 18, 'error kinds');
  eq(kinds[0], 'Malformed', 'code 1');
  eq(kinds[4], 'Tampered', 'code 5');
  eq(kinds[10], 'NotAMember', 'code 11');
  eq(kinds[17], 'Internal', 'code 18');
  return `${kinds.length} kinds`;
});

check('identities: generate, ids, public text, secret text round trip', () => {
  const a = Identity.generate();
  const b = Identity.generate();
  assert(/^[0-9a-f]{32}$/.test(a.id), `an id is 32 hex digits: ${a.id}`);
  assert(a.id !== b.id, 'two identities differ');
  const pub = a.public;
  const text = pub.toText();
  assert(text.startsWith('dkmpub1'), 'public text starts with dkmpub1');
  eq(String(pub), text, 'String(public)');
  eq(pub.id, a.id, 'the public identity has the same id');
  const parsed = PublicIdentity.fromText(text);
  assert(parsed.equals(pub), 'fromText(toText()) equals');
  assert(!parsed.equals(b.public), 'another identity is not equal');
  const secret = a.toText('alice');
  assert(secret.includes('dkmsec1'), 'the secret text holds dkmsec1');
  assert(!secret.includes(text), 'the secret text is not the public text');
  const again = Identity.fromText(secret);
  eq(again.id, a.id, 'Identity.fromText(toText()) id');
  dkmError('Malformed', () => Identity.fromText('not an identity'), 'Identity.fromText(garbage)');
  dkmError('Malformed', () => PublicIdentity.fromText('dkmpub1xyz'), 'PublicIdentity.fromText(short)');
  const id = a.id;
  for (const x of [a, b, pub, parsed, again]) x.free();
  let used = null;
  try {
    void a.id;
  } catch (e) {
    used = e;
  }
  assert(used instanceof Error, 'a freed identity refuses use (an Error, no crash)');
  return id;
});

check('ring on a MemoryStore: create, add a key holder, maintain, views', () => {
  const store = new MemoryStore();
  const host = new Host(store);
  const admin = Identity.generate();
  const svc = Identity.generate();
  const id = host.createRing('mail', { as: admin, policy: { intervalSecs: 3600 } });
  assert(/^[0-9a-f]{32}$/.test(id), 'a ring id');
  const added = host.addMember('mail', 'service', svc.public, { as: admin });
  eq(added.outcome, 'applied', 'addMember in bootstrap');
  assert(added.pending === true, 'a key holder still has to carry the change out');
  const early = new RingPublic(host.exportPublic('mail'), undefined);
  dkmError('Stale', () => early.seal('x', undefined, undefined), 'sealing to a ring with no keys yet');
  early.free();
  const events = host.maintain('mail', { as: svc });
  assert(events.some((e) => e.action === 'epoch-created'), 'maintain created the first epoch');
  const info = host.ringInfo('mail');
  eq(info.id, id, 'ringInfo id');
  eq(info.name, 'mail', 'ringInfo name');
  eq(info.pending, false, 'pending after maintain');
  eq(info.policy.interval_secs, 3600, 'policy interval');
  const roles = info.members.map((m) => `${m.role}:${m.id}`).sort();
  eq(JSON.stringify(roles), JSON.stringify([`admin:${admin.id}`, `service:${svc.id}`].sort()), 'members');
  const keys = host.keys('mail');
  assert(keys.current !== null && keys.current.epoch === 1, 'a current epoch');
  eq(keys.stale, false, 'fresh');
  eq(JSON.stringify(store.names()), '["mail"]', 'store.names()');
  dkmError('InvalidInput', () => host.createRing('mail', { as: admin }), 'a second ring "mail"');
  dkmError('InvalidInput', () => host.createRing('bad/name', { as: admin }), 'an invalid ring name');
  // A key holder's seal runs maintain first when the ring needs it.
  host.createRing('second', { as: admin });
  host.addMember('second', 'service', svc.public, { as: admin });
  eq(host.ringInfo('second').pending, true, 'pending before the first seal');
  host.seal('second', 'x', { as: svc });
  eq(host.ringInfo('second').pending, false, "the key holder's seal carried the change out");
  return `${events.length} events`;
});

check('seal/unseal: bytes and strings, context, origin', () => {
  const { host, svc } = memoryRing();
  const bytes = new Uint8Array(256).map((_, i) => i);
  const s1 = host.seal('mail', bytes, { as: svc });
  assert(s1 instanceof Uint8Array && s1.length > bytes.length, 'sealed bytes');
  const u1 = host.unseal('mail', s1, { as: svc });
  assert(sameBytes(u1.plaintext, bytes), 'bytes round trip');
  eq(u1.origin, 'key-holder', 'origin');
  u1.free();
  const text = 'héllo wörld 🔑';
  const s2 = host.seal('mail', text, { as: svc, context: 'account:42' });
  const u2 = host.unseal('mail', s2, { as: svc, context: 'account:42' });
  eq(u2.text, text, 'string round trip (UTF-8)');
  assert(sameBytes(u2.plaintext, new TextEncoder().encode(text)), 'a string is sealed as its UTF-8 bytes');
  u2.free();
  const u3 = host.unseal('mail', s2, { as: svc, context: new TextEncoder().encode('account:42') });
  eq(u3.text, text, 'a context as bytes equals the same text');
  u3.free();
  dkmError('Tampered', () => host.unseal('mail', s2, { as: svc, context: 'account:43' }), 'another context');
  dkmError('Tampered', () => host.unseal('mail', s2, { as: svc }), 'no context');
  const empty = host.unseal('mail', host.seal('mail', new Uint8Array(0), { as: svc }), { as: svc });
  eq(empty.plaintext.length, 0, 'empty plaintext');
  const big = new Uint8Array(200_000).map((_, i) => (i * 31) & 255);
  const u4 = host.unseal('mail', host.seal('mail', big, { as: svc }), { as: svc });
  assert(sameBytes(u4.plaintext, big), '200 kB round trip');
  return `${s1.length} bytes sealed for 256`;
});

check('armored: sealArmored, unseal of the text, corrupted armor', () => {
  const { host, svc } = memoryRing();
  const text = host.sealArmored('mail', 'armored secret', { as: svc, context: 'c' });
  assert(typeof text === 'string' && text.startsWith('dkm1:'), 'armor starts with dkm1:');
  eq(host.unseal('mail', text, { as: svc, context: 'c' }).text, 'armored secret', 'armored round trip');
  eq(host.unseal('mail', `${text}\n`, { as: svc, context: 'c' }).text, 'armored secret', 'a trailing newline is ignored');
  dkmError('Malformed', () => host.unseal('mail', `${text.slice(0, -3)}!!!`, { as: svc, context: 'c' }), 'armor with non-base64url');
  const body = text.slice(5);
  const i = body.length - 4;
  const flipped = `dkm1:${body.slice(0, i)}${body[i] === 'A' ? 'B' : 'A'}${body.slice(i + 1)}`;
  dkmError('Tampered', () => host.unseal('mail', flipped, { as: svc, context: 'c' }), 'an altered ciphertext character');
  return `${text.length} characters`;
});

check('RingPublic: seal-only parties, origin "seal-only", refusal when asked', () => {
  const { host, admin, svc } = memoryRing();
  const part = host.exportPublic('mail');
  assert(part instanceof Uint8Array && part.length > 0, 'public part bytes');
  const rp = new RingPublic(part, undefined);
  eq(rp.name, 'mail', 'RingPublic name');
  eq(rp.ringId, host.ringInfo('mail').id, 'RingPublic ringId');
  const s1 = rp.seal('from a browser', undefined, undefined);
  const u1 = host.unseal('mail', s1, { as: svc });
  eq(u1.text, 'from a browser', 'seal-only round trip');
  eq(u1.origin, 'seal-only', 'origin');
  const a = rp.sealArmored('armored, seal-only', 'ctx', Date.now());
  assert(a.startsWith('dkm1:'), 'seal-only armor');
  const u2 = host.unseal('mail', a, { as: svc, context: 'ctx' });
  eq(u2.text, 'armored, seal-only', 'armored seal-only round trip');
  eq(u2.origin, 'seal-only', 'armored origin');
  const s3 = host.sealTo(rp, new Uint8Array([1, 2, 3]));
  eq(host.unseal('mail', s3, { as: svc }).origin, 'seal-only', 'host.sealTo origin');
  dkmError('InvalidInput', () => host.unseal('mail', s1, { as: svc, acceptSealOnly: false }), 'acceptSealOnly: false');
  dkmError('NotAMember', () => host.unseal('mail', s1, { as: admin }), 'an admin holds no keys');
  dkmError('Malformed', () => new RingPublic(new Uint8Array([1, 2, 3]), undefined), 'RingPublic of garbage');
  // Another ring's part with this ring's pin: refused.
  const other = memoryRing();
  let refused = null;
  try {
    const pin = host.pins.pins()[0];
    new RingPublic(other.host.exportPublic('mail'), pin);
  } catch (e) {
    refused = e;
  }
  assert(refused instanceof DkmError, `another ring's part under this ring's pin is refused (${refused?.kind})`);
  typeError(() => host.sealTo(part, 'x'), 'sealTo with bytes, not a RingPublic');
  rp.free();
  return `part ${part.length} bytes; wrong pin: ${refused.kind}`;
});

check('DkmError kinds and codes: Tampered, NotAMember, InvalidInput, UnknownKey, Malformed', () => {
  const { host, admin, svc } = memoryRing();
  const sealed = host.seal('mail', 'secret value 123', { as: svc });
  const t = sealed.slice();
  t[t.length - 1] ^= 1;
  const e1 = dkmError('Tampered', () => host.unseal('mail', t, { as: svc }), 'a flipped tag bit');
  assert(!e1.message.includes('secret value'), 'no plaintext in the message');
  dkmError('NotAMember', () => host.seal('mail', 'x', { as: admin }), 'an admin seals');
  dkmError('NotAMember', () => host.addMember('mail', 'service', Identity.generate().public, { as: svc }), 'a key holder governs');
  dkmError('InvalidInput', () => host.addMember('mail', 'service', svc.public, { as: admin }), 'a member added twice');
  dkmError('InvalidInput', () => host.ringInfo('nope'), 'an unknown ring');
  const other = memoryRing();
  dkmError('UnknownKey', () => host.unseal('mail', other.host.seal('mail', 'x', { as: other.svc }), { as: svc }), "another ring's secret");
  dkmError('Unsupported', () => host.unseal('mail', 'not sealed at all', { as: svc }), 'a string that is no sealed secret');
  return errorKinds()
    .map((k, i) => `${i + 1}=${k}`)
    .slice(0, 3)
    .join(' ');
});

check('TypeError for wrong types (sync throws, async rejects)', async () => {
  const { host, admin, svc } = memoryRing();
  typeError(() => host.seal('mail', 'x'), 'seal without {as}');
  typeError(() => host.seal('mail', 'x', { as: 'svc' }), 'as: a string');
  typeError(() => host.seal('mail', 42, { as: svc }), 'data: a number');
  typeError(() => host.addMember('mail', 'service', 42, { as: admin }), 'member: a number');
  typeError(() => host.setApprovalLevels('mail', 'ops', { as: admin }), 'levels: a string');
  typeError(() => host.ringInfo(), 'ringInfo without the ring');
  typeError(() => new Host(new MemoryStore(), { pins: {} }), 'pins: a plain object');
  typeError(() => new Host(new MemoryStore(), { clock: 'now' }), 'clock: a string');
  typeError(() => new AsyncHost({}), 'AsyncHost over an object without read/write');
  typeError(() => new AsyncHost(new MapStorage(), { retries: 0 }), 'retries: 0');
  const ah = new AsyncHost(new MapStorage());
  await typeErrorAsync(() => ah.seal('mail', 'x'), 'AsyncHost.seal without {as}');
  await typeErrorAsync(() => ah.requests(), 'AsyncHost.requests without the ring');
  return 'ok';
});

check('Host over a SyncStore object (a Map)', () => {
  const store = mapSyncStore('map:checks');
  const host = new Host(store);
  const admin = Identity.generate();
  const svc = Identity.generate();
  host.createRing('mail', { as: admin });
  host.addMember('mail', 'service', svc.public, { as: admin });
  host.maintain('mail', { as: svc });
  const s = host.seal('mail', 'on a sync store', { as: svc });
  eq(host.unseal('mail', s, { as: svc }).text, 'on a sync store', 'round trip');
  eq(JSON.stringify(store.names()), '["mail"]', 'names');
  const r = store.rings.get('mail');
  assert(r.ring.bytes instanceof Uint8Array && r.ring.bytes.length > 0, 'the ring bytes are in the Map');
  assert(r.audit.length >= 3, 'audit lines are in the Map');
  // A second host on the same store sees the ring (its own pins: trust on first use).
  const other = new Host(store);
  eq(other.unseal('mail', s, { as: svc }).text, 'on a sync store', 'a second host on the same store');
  const report = host.auditVerify('mail');
  eq(report.verified, true, 'audit verifies');
  eq(report.records, r.audit.length, 'records = audit lines');
  return `${r.audit.length} audit lines`;
});

check('AsyncHost over MapStorage: govern, seal, request, approve, grant, unseal with the grant, audit', async () => {
  const storage = new MapStorage('map:story');
  let writes = 0;
  let lost = 0;
  const counted = {
    read: (names) => storage.read(names),
    write: async (ws) => {
      writes++;
      const ok = await storage.write(ws);
      if (!ok) lost++;
      return ok;
    },
  };
  const host = new AsyncHost(counted);
  const admin = Identity.generate();
  const svc = Identity.generate();
  const approver = Identity.generate();
  const requester = Identity.generate();
  await host.createRing('mail', { as: admin, policy: { approverCooloffSecs: 0 } });
  eq((await host.addMember('mail', 'service', svc.public, { as: admin })).outcome, 'applied', 'add key holder');
  await host.maintain('mail', { as: svc });
  eq((await host.addMember('mail', 'approver', approver.public, { as: admin })).outcome, 'applied', 'add approver');
  const lv = await host.setApprovalLevels('mail', [{ name: 'ops', quorum: 1, approvers: [approver.public] }], { as: admin });
  eq(lv.outcome, 'applied', 'setApprovalLevels in bootstrap');
  await host.maintain('mail', { as: svc });
  eq((await host.ringInfo('mail')).pending, false, 'carried out');
  // Out of bootstrap: a change is now a request.
  const change = await host.addMember('mail', 'service', Identity.generate().public, { as: admin });
  eq(change.outcome, 'requested', 'a change after levels is requested');

  const sealed = await host.seal('mail', 'async secret', { as: svc, context: 'ctx' });
  const opened = await host.unseal('mail', sealed, { as: svc, context: 'ctx' });
  eq(opened.text, 'async secret', 'async round trip');

  const req = await host.requestAccess('mail', 'incident 7', 600, { as: requester });
  assert(/^[0-9a-f]{64}$/.test(req), 'a request id');
  const later = await host.seal('mail', 'in scope', { as: svc });
  let view = (await host.requests('mail')).find((r) => r.id === req);
  eq(view.state, 'pending', 'requested');
  eq(view.duration_secs, 600, 'duration');
  await dkmErrorAsync('InvalidInput', () => host.approve('mail', req, 'nope', { as: approver }), 'an unknown level');
  await host.approve('mail', req, 'ops', { as: approver });
  view = (await host.requests('mail')).find((r) => r.id === req);
  eq(view.state, 'approved', 'approved');
  eq(JSON.stringify(view.levels), JSON.stringify([{ approvals: 1, level: 'ops', quorum: 1 }]), 'levels');
  const g = await host.grant('mail', req, { as: svc });
  eq(g.request, req, 'grant for the request');
  eq(g.requester, requester.id, 'grant requester');
  const viaGrant = await host.unsealWithGrant('mail', g.id, later, { as: requester });
  eq(viaGrant.text, 'in scope', 'unsealWithGrant');
  eq((await host.requests('mail')).find((r) => r.id === req).state, 'granted', 'granted');
  // The approved change: the admin applies it, the key holder carries it out.
  await host.approve('mail', change.request, 'ops', { as: approver });
  const version = await host.apply('mail', change.request, { as: admin });
  assert(Number.isInteger(version) && version > 0, 'apply returns the governance version');

  // Two hosts racing on the same storage: compare-and-swap and retries.
  const h2 = new AsyncHost(counted);
  const [r1, r2] = await Promise.all([
    host.requestAccess('mail', 'race 1', 60, { as: requester }),
    h2.requestAccess('mail', 'race 2', 60, { as: Identity.generate() }),
  ]);
  const ids = (await host.requests('mail')).map((r) => r.id);
  assert(ids.includes(r1) && ids.includes(r2), 'both racing requests are logged');

  const report = await host.auditVerify('mail');
  eq(report.verified, true, 'audit verifies');
  eq(report.problem, null, 'no audit problem');
  const actions = (await host.auditRecords('mail')).map((r) => r.action);
  for (const a of ['request-logged', 'approved', 'grant-issued']) assert(actions.includes(a), `audit has ${a} (${actions.join(',')})`);
  eq(JSON.stringify(storage.names()), '["mail"]', 'MapStorage names');
  return `${report.records} audit records, ${writes} writes, ${lost} lost races retried`;
});

check('exportSnapshot / importSnapshot: MemoryStore to MemoryStore and to MapStorage', async () => {
  const { host, svc } = memoryRing();
  const sealed = host.seal('mail', 'travels', { as: svc });
  const snap = host.exportSnapshot('mail');
  assert(snap instanceof Uint8Array && snap.length > 0, 'snapshot bytes');
  const h2 = new Host(new MemoryStore());
  eq(h2.importSnapshot(snap), 'mail', 'import returns the name');
  eq(h2.unseal('mail', sealed, { as: svc }).text, 'travels', 'unseal after import');
  eq(h2.ringInfo('mail').id, host.ringInfo('mail').id, 'same ring id');
  dkmError('InvalidInput', () => h2.importSnapshot(snap), 'importing over an existing name');
  const bad = snap.slice();
  bad[bad.length - 10] ^= 1;
  const e = (() => {
    try {
      new Host(new MemoryStore()).importSnapshot(bad);
    } catch (x) {
      return x;
    }
    return null;
  })();
  assert(e instanceof DkmError && ['Tampered', 'Malformed', 'BadChecksum'].includes(e.kind), `a damaged snapshot is refused (${e?.kind})`);
  const ah = new AsyncHost(new MapStorage());
  eq(await ah.importSnapshot(snap), 'mail', 'AsyncHost import');
  eq((await ah.unseal('mail', sealed, { as: svc })).text, 'travels', 'AsyncHost unseal after import');
  eq((await ah.auditVerify('mail')).verified, true, 'imported audit verifies');
  return `${snap.length} bytes; damaged: ${e.kind}`;
});

check('pins and clock: MemoryPins round trip, fixed clock flagged in audit', () => {
  const t = Date.UTC(2030, 0, 1, 0, 0, 0, 500);
  const { host } = memoryRing({ clock: t });
  eq(host.now().toISOString(), '2030-01-01T00:00:00.000Z', 'now() in whole seconds');
  const recs = host.auditRecords('mail');
  assert(recs.length > 0 && recs.every((r) => r.clock_override === true), 'a fixed clock is flagged');
  const pins = host.pins.pins();
  assert(pins.length === 1 && pins[0] instanceof Uint8Array, 'one pin');
  const copy = new MemoryPins();
  copy.add(pins[0]);
  eq(copy.pins().length, 1, 'pins added back');
  const { host: live } = memoryRing({ clock: () => Date.now() });
  assert(live.auditRecords('mail').every((r) => r.clock_override === false), 'a clock function is not flagged');
  return `${recs.length} records`;
});

check('sealAsync / unsealAsync (WebCrypto bulk path) agree with seal / unseal', async () => {
  const { host, svc } = memoryRing();
  const big = new Uint8Array(100_000).map((_, i) => (i * 7) & 255);
  const a = await host.sealAsync('mail', big, { as: svc, context: 'bulk' });
  assert(sameBytes(host.unseal('mail', a, { as: svc, context: 'bulk' }).plaintext, big), 'sealAsync -> unseal');
  const b = host.seal('mail', big, { as: svc, context: 'bulk' });
  const o = await host.unsealAsync('mail', b, { as: svc, context: 'bulk' });
  assert(sameBytes(o.plaintext, big), 'seal -> unsealAsync');
  eq(o.origin, 'key-holder', 'origin');
  o.free();
  assert(o.plaintext.every((x) => x === 0), 'free() wipes the plaintext');
  const small = await host.unsealAsync('mail', await host.sealAsync('mail', 'small', { as: svc }), { as: svc });
  eq(small.text, 'small', 'small secrets (module path)');
  const t = a.slice();
  t[t.length - 1] ^= 1;
  await dkmErrorAsync('Tampered', () => host.unsealAsync('mail', t, { as: svc, context: 'bulk' }), 'bulk tampered');
  await dkmErrorAsync('Tampered', () => host.unsealAsync('mail', a, { as: svc, context: 'other' }), 'bulk wrong context');
  return `${a.length} bytes`;
});

check('the module file: served as application/wasm, valid, of a sane size', async () => {
  const res = await fetch('/pkg/dkm_wasm_bg.wasm', { cache: 'no-store' });
  eq(res.status, 200, 'HTTP status');
  eq(res.headers.get('content-type'), 'application/wasm', 'content type');
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert(sameBytes(bytes.subarray(0, 4), new Uint8Array([0, 0x61, 0x73, 0x6d])), 'the \\0asm magic');
  assert(WebAssembly.validate(bytes), 'WebAssembly.validate');
  const kib = bytes.length / 1024;
  assert(kib > 100 && kib < 2048, `between 100 KiB and 2 MiB: ${kib.toFixed(0)} KiB`);
  return `${kib.toFixed(0)} KiB`;
});

// ---- run -----------------------------------------------------------------------------------

async function run() {
  const results = [];
  const list = document.getElementById('results');
  for (const { name, fn } of checks) {
    const t0 = performance.now();
    let r;
    try {
      const detail = await fn();
      r = { name, ok: true, detail: detail === undefined ? '' : String(detail) };
    } catch (e) {
      const at = String(e?.stack ?? '')
        .split('\n')
        .find((l) => l.includes('checks.js'))
        ?.trim();
      r = { name, ok: false, detail: `${e?.name ?? 'Error'}${e?.kind ? ` ${e.kind}` : ''}: ${e?.message ?? e}${at ? ` (${at})` : ''}` };
    }
    r.ms = Math.round(performance.now() - t0);
    results.push(r);
    const li = document.createElement('li');
    li.className = r.ok ? 'pass' : 'fail';
    li.textContent = `${r.ok ? 'PASS' : 'FAIL'} ${name} `;
    const small = document.createElement('small');
    small.textContent = `${r.detail} (${r.ms} ms)`;
    li.append(small);
    list.append(li);
  }
  const failed = results.filter((r) => !r.ok).length;
  document.getElementById('summary').textContent = `${results.length - failed}/${results.length} passed`;
  window.__results = { done: true, results, userAgent: navigator.userAgent };
}

run().catch((e) => {
  window.__results = { done: true, results: [{ name: 'the check runner', ok: false, detail: String(e?.stack ?? e) }] };
});
