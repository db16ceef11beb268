// DkmError: every kind that can be provoked through the package, each with its kind and code
// and a message that never shows a secret; wrong JS types are TypeErrors; malformed input of
// every sort is a typed DkmError, never a crash. Bugs found while writing these tests are in
// the last section, marked BUG: those tests fail until the package is fixed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import util from 'node:util';

import {
  dkm,
  Clock,
  DAY,
  HOUR,
  MapSyncStore,
  RING,
  SEC,
  T0,
  T1,
  checkDkm,
  enc,
  inChild,
  makeAsyncWorld,
  makeWorld,
  people,
  rejectsDkm,
  rejectsType,
  secretLine,
  throwsDkm,
  throwsType,
} from './lib.mjs';

/** `text` with the character at `i` replaced by another of the same alphabet. */
function changeChar(text, i) {
  return text.slice(0, i) + (text[i] === 'a' ? 'b' : 'a') + text.slice(i + 1);
}

/** A reproducible byte source (xorshift32). */
function prng(seed) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    int: (n) => next() % n,
    bytes: (n) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}

/** Runs `f`, which must throw a DkmError (any kind in `kinds`, or any kind at all). */
function throwsSomeDkm(f, kinds, what) {
  let thrown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `${what}: accepted`);
  assert.ok(thrown instanceof dkm.DkmError, `${what}: ${thrown?.constructor?.name}: ${thrown?.message}`);
  if (kinds) assert.ok(kinds.includes(thrown.kind), `${what}: ${thrown.kind}: ${thrown.message}`);
  checkDkm(thrown, thrown.kind);
  return thrown;
}

// ---- every kind ----

describe('each error kind', () => {
  test('the codes are errorKinds() index + 1; Internal is never expected', () => {
    const kinds = dkm.errorKinds();
    assert.equal(kinds.length, 18);
    assert.equal(new Set(kinds).size, 18);
    assert.equal(kinds.indexOf('Internal') + 1, 18);
    assert.equal(kinds.indexOf('Malformed') + 1, 1);
  });

  test('Malformed', () => {
    const w = makeWorld();
    const sealed = w.seal('x');
    for (const bad of [sealed.slice(0, 10), new Uint8Array(0), new Uint8Array([1])]) {
      const e = throwsDkm(() => w.open(bad), 'Malformed');
      assert.equal(e.code, 1);
    }
    throwsDkm(() => w.open('dkm1:!!!!'), 'Malformed');
    throwsDkm(() => dkm.Identity.fromText('hello'), 'Malformed');
    throwsDkm(() => dkm.PublicIdentity.fromText('dkmpub1'), 'Malformed');
    throwsDkm(() => dkm.PublicIdentity.fromText(''), 'Malformed');
    throwsDkm(() => w.host.importSnapshot(enc.encode('not a snapshot')), 'Malformed');
    throwsDkm(() => new dkm.RingPublic(enc.encode('junk')), 'Malformed');
    throwsDkm(() => new dkm.MemoryPins().add('zz'), 'Malformed');
    throwsDkm(() => new dkm.MemoryPins().add(new Uint8Array(0)), 'Malformed');
  });

  test('Unsupported', () => {
    const w = makeWorld();
    const sealed = w.seal('x');
    assert.equal(sealed[0], 1);
    const v2 = sealed.slice();
    v2[0] = 2;
    const e = throwsDkm(() => w.open(v2), 'Unsupported');
    assert.equal(e.code, 2);
    assert.match(e.message, /version/);
    throwsDkm(() => w.open(enc.encode('garbage that is not a sealed secret at all')), 'Unsupported');
    const snap = w.host.exportSnapshot(RING);
    const snapV = snap.slice();
    snapV[4] ^= 0x7f; // the snapshot's format version
    throwsDkm(() => new dkm.Host(new dkm.MemoryStore()).importSnapshot(snapV), 'Unsupported');
    throwsDkm(() => new dkm.MemoryPins().add(new Uint8Array(5)), 'Unsupported');
  });

  test('TooLarge', () => {
    const w = makeWorld();
    const nine = Array.from({ length: 9 }, (_, i) => ({ name: `l${i}`, quorum: 1, approvers: [w.ops.public] }));
    const e = throwsDkm(() => w.host.setApprovalLevels(RING, nine, { as: w.admin }), 'TooLarge');
    assert.equal(e.code, 3);
    // A snapshot whose ring claims 4 GiB.
    const snap = w.host.exportSnapshot(RING);
    const huge = snap.slice();
    huge.set([0xff, 0xff, 0xff, 0xff], 5);
    throwsDkm(() => new dkm.Host(new dkm.MemoryStore()).importSnapshot(huge), 'TooLarge');
  });

  test('BadChecksum', () => {
    const me = dkm.Identity.generate();
    const text = me.public.toText();
    const e = throwsDkm(() => dkm.PublicIdentity.fromText(changeChar(text, text.length - 3)), 'BadChecksum');
    assert.equal(e.code, 4);
    const secret = secretLine(me);
    const e2 = throwsDkm(() => dkm.Identity.fromText(changeChar(secret, 20)), 'BadChecksum', [secret, secret.slice(7, 40)]);
    assert.equal(e2.code, 4);
  });

  test('Tampered', () => {
    const w = makeWorld();
    const secrets = ['secret-plaintext', 'ctx-value', secretLine(w.svc)];
    const sealed = w.seal('secret-plaintext', 'ctx-value');
    const e = throwsDkm(() => w.open(sealed, 'other'), 'Tampered', secrets);
    assert.equal(e.code, 5);
    for (const at of [sealed.length - 1, Math.floor(sealed.length / 2), 30]) {
      const flipped = sealed.slice();
      flipped[at] ^= 0x80;
      throwsDkm(() => w.open(flipped, 'ctx-value'), 'Tampered', secrets);
    }
    const armored = w.host.sealArmored(RING, 'a', { as: w.svc });
    throwsDkm(() => w.open(changeChar(armored, armored.length - 2)), 'Tampered');
    const other = makeWorld();
    throwsDkm(() => new dkm.RingPublic(w.host.exportPublic(RING), other.pins.pins()[0]), 'Tampered');
    const snap = w.host.exportSnapshot(RING);
    snap[Math.floor(snap.length / 3)] ^= 1;
    throwsDkm(() => new dkm.Host(new dkm.MemoryStore()).importSnapshot(snap), 'Tampered');
  });

  test('UnknownKey', () => {
    const w = makeWorld();
    const w2 = makeWorld();
    const other = w2.seal("another ring's");
    w.host.addMember(RING, 'service', w2.svc.public, { as: w.admin });
    w.host.maintain(RING, { as: w.svc });
    const e = throwsDkm(() => w.host.unseal(RING, other, { as: w2.svc }), 'UnknownKey', ["another ring's"]);
    assert.equal(e.code, 6);
  });

  test('KeyRevoked', () => {
    const w = makeWorld();
    const old = w.seal('old', 'c');
    w.host.rollEpoch(RING, { as: w.svc });
    w.host.revokeEpoch(RING, 1, { as: w.admin });
    w.host.maintain(RING, { as: w.svc });
    const e = throwsDkm(() => w.open(old, 'c'), 'KeyRevoked');
    assert.equal(e.code, 7);
  });

  test('KeyDestroyed', () => {
    const w = makeWorld();
    const day0 = w.seal('day 0');
    w.clock.set(T0 + 5 * DAY);
    w.host.shredBefore(RING, T0 + 2 * DAY, { as: w.admin });
    w.host.maintain(RING, { as: w.svc });
    const e = throwsDkm(() => w.open(day0), 'KeyDestroyed');
    assert.equal(e.code, 8);
  });

  test('OutOfRange', () => {
    // With 1 s intervals an epoch lasts 65536 s: a key holder whose clock is more than that
    // behind the admin's shredding cutoff would create an epoch that is shredded whole.
    const clock = new Clock();
    const host = new dkm.Host(new dkm.MemoryStore(), { clock: clock.fn });
    const { admin, svc } = people();
    host.createRing('fast', { as: admin, policy: { intervalSecs: 1, freshnessIntervals: 64 } });
    host.addMember('fast', 'service', svc.public, { as: admin });
    clock.set(T0 + 100_000 * SEC);
    host.shredBefore('fast', T0 + 99_999 * SEC, { as: admin });
    clock.set(T0);
    const e = throwsDkm(() => host.maintain('fast', { as: svc }), 'OutOfRange');
    assert.equal(e.code, 9);
    clock.set(T0 + 100_000 * SEC);
    assert.ok(host.maintain('fast', { as: svc }).length > 0);
    // Times before 1970 or past Date's range.
    throwsDkm(() => new dkm.Host(new dkm.MemoryStore(), { clock: -5 }).now(), 'OutOfRange');
    throwsDkm(() => new dkm.Host(new dkm.MemoryStore(), { clock: NaN }).now(), 'OutOfRange');
    throwsDkm(() => new dkm.Host(new dkm.MemoryStore(), { clock: () => 9e15 }).now(), 'OutOfRange');
    throwsDkm(() => host.shredBefore('fast', -5, { as: admin }), 'OutOfRange');
    const rp = new dkm.RingPublic(host.exportPublic('fast'));
    throwsDkm(() => rp.seal('x', undefined, -1), 'OutOfRange');
  });

  test('InvalidInput', () => {
    const w = makeWorld();
    const e = throwsDkm(() => w.host.addMember(RING, 'superuser', w.eng.public, { as: w.admin }), 'InvalidInput');
    assert.equal(e.code, 10);
    assert.match(e.message, /role/);
    assert.match(throwsDkm(() => w.host.addMember(RING, 'service', w.svc.public, { as: w.admin }), 'InvalidInput').message, /already/);
    throwsDkm(() => w.host.keys('no-such-ring'), 'InvalidInput');
    throwsDkm(() => w.host.requestAccess(RING, 'r', -1, { as: w.eng }), 'InvalidInput');
    throwsDkm(() => w.host.requestAccess(RING, 'r', 0.5, { as: w.eng }), 'InvalidInput');
    throwsDkm(() => w.host.approve(RING, 'not a request id', 'ops', { as: w.ops }), 'InvalidInput');
    throwsDkm(() => w.host.unsealWithGrant(RING, 'zz', w.seal('x'), { as: w.eng }), 'InvalidInput');
    throwsDkm(() => dkm.Identity.fromText(w.admin.public.toText()), 'InvalidInput');
    throwsDkm(() => w.host.revokeEpoch(RING, 0, { as: w.admin }), 'InvalidInput');
    throwsDkm(() => w.host.createRing('p', { as: w.admin, policy: { nope: 1 } }), 'InvalidInput');
    throwsDkm(() => w.host.unseal(RING, w.host.unseal(RING, w.seal(new Uint8Array([0xff])), { as: w.svc }).text, { as: w.svc }), 'InvalidInput');
    throwsDkm(() => w.host.unseal(RING, w.seal(new Uint8Array([0xc3])), { as: w.svc }).text, 'InvalidInput');
  });

  test('a secret identity in place of a public one is never echoed', () => {
    const w = makeWorld();
    const secret = secretLine(w.eng);
    const hide = [secret, secret.slice(7, 23), secret.slice(-20)];
    throwsDkm(() => dkm.PublicIdentity.fromText(secret), 'InvalidInput', hide);
    throwsDkm(() => w.host.addMember(RING, 'approver', secret, { as: w.admin }), 'InvalidInput', hide);
    throwsDkm(() => w.host.removeMember(RING, secret, { as: w.admin }), 'InvalidInput', hide);
    throwsDkm(
      () => w.host.setApprovalLevels(RING, [{ name: 'x', quorum: 1, approvers: [secret] }], { as: w.admin }),
      'InvalidInput',
      hide,
    );
    throwsDkm(() => w.host.addMember(RING, 'approver', `${secret}\n`, { as: w.admin }), 'InvalidInput', hide);
  });

  test('NotAMember', () => {
    const w = makeWorld();
    const e = throwsDkm(() => w.host.seal(RING, 'x', { as: w.eng }), 'NotAMember');
    assert.equal(e.code, 11);
    throwsDkm(() => w.host.seal(RING, 'x', { as: w.admin }), 'NotAMember'); // an admin holds no keys
    throwsDkm(() => w.host.unseal(RING, w.seal('x'), { as: w.ops }), 'NotAMember');
    throwsDkm(() => w.host.maintain(RING, { as: w.eng }), 'NotAMember');
    throwsDkm(() => w.host.addMember(RING, 'admin', w.eng.public, { as: w.svc }), 'NotAMember');
    throwsDkm(() => w.host.sealArmored(RING, 'x', { as: w.ops }), 'NotAMember');
  });

  test('GrantExpired', () => {
    const w = makeWorld({ levels: true });
    const kept = w.seal('kept', 'c');
    const req = w.host.requestAccess(RING, 'brief look', 3600, { as: w.eng, since: T0 });
    w.approveAll(req);
    const g = w.host.grant(RING, req, { as: w.svc });
    assert.equal(w.host.unsealWithGrant(RING, g.id, kept, { as: w.eng, context: 'c' }).text, 'kept');
    w.clock.advance(HOUR + SEC);
    const e = throwsDkm(() => w.host.unsealWithGrant(RING, g.id, kept, { as: w.eng, context: 'c' }), 'GrantExpired', ['kept']);
    assert.equal(e.code, 12);
    throwsDkm(() => w.host.unsealWithGrant(RING, '0'.repeat(32), kept, { as: w.eng, context: 'c' }), 'GrantExpired');
  });

  test('PolicyUnsatisfied', () => {
    const w = makeWorld({ levels: true });
    const req = w.host.requestAccess(RING, 'r', 3600, { as: w.eng });
    const e = throwsDkm(() => w.host.grant(RING, req, { as: w.svc }), 'PolicyUnsatisfied');
    assert.equal(e.code, 13);
    w.host.approve(RING, req, 'ops', { as: w.ops });
    throwsDkm(() => w.host.grant(RING, req, { as: w.svc }), 'PolicyUnsatisfied'); // a level missing
    const change = w.host.addMember(RING, 'admin', w.eng.public, { as: w.admin });
    throwsDkm(() => w.host.apply(RING, change.request, { as: w.admin }), 'PolicyUnsatisfied');
  });

  test('PolicyUnsatisfied: approvals inside the approvers\' cool-off do not count', () => {
    const w = makeWorld();
    w.host.setApprovalLevels(RING, [{ name: 'ops', quorum: 1, approvers: [w.ops.public] }], { as: w.admin });
    w.host.maintain(RING, { as: w.svc });
    w.clock.set(T0 + HOUR); // inside the 24 h cool-off
    const req = w.host.requestAccess(RING, 'early', 3600, { as: w.eng });
    w.host.approve(RING, req, 'ops', { as: w.ops }); // logged ...
    const [r] = w.host.requests(RING);
    assert.equal(r.state, 'pending');
    assert.equal(r.levels[0].approvals, 0); // ... not counted
    throwsDkm(() => w.host.grant(RING, req, { as: w.svc }), 'PolicyUnsatisfied');
  });

  test('Conflict: a sync store and an async storage that always lose the race', async () => {
    const store = new MapSyncStore();
    const w = makeWorld({ store });
    store.hooks.commit = () => false;
    const e = throwsDkm(() => w.host.rollEpoch(RING, { as: w.svc }), 'Conflict');
    assert.equal(e.code, 14);
    const aw = await makeAsyncWorld();
    const lost = { read: (n) => aw.storage.read(n), write: async () => false };
    const h = new dkm.AsyncHost(lost, { clock: aw.clock.fn, retries: 2 });
    await rejectsDkm(() => h.rollEpoch(RING, { as: aw.svc }), 'Conflict');
  });

  test('StoreUnavailable', () => {
    const store = new MapSyncStore();
    const w = makeWorld({ store });
    store.hooks.ring = () => {
      throw new Error('the database is down');
    };
    const e = throwsDkm(() => w.host.ringInfo(RING), 'StoreUnavailable');
    assert.equal(e.code, 15);
    // A store's Conflict from a read is no lost race: StoreUnavailable, not retried.
    let calls = 0;
    store.hooks.ring = () => {
      calls++;
      throw new dkm.DkmError('a read cannot conflict', 'Conflict', 14);
    };
    throwsDkm(() => w.host.rollEpoch(RING, { as: w.svc }), 'StoreUnavailable');
    assert.equal(calls, 1);
  });

  test('Stale', () => {
    const h = new dkm.Host(new dkm.MemoryStore(), { clock: T0 });
    const { admin, svc, eng } = people();
    h.createRing('new', { as: admin });
    h.addMember('new', 'service', svc.public, { as: admin });
    let rp = new dkm.RingPublic(h.exportPublic('new'));
    assert.match(throwsDkm(() => h.sealTo(rp, 'x'), 'Stale').message, /no keys yet/);
    throwsDkm(() => rp.seal('x', undefined, T0), 'Stale');
    const w = makeWorld();
    rp = new dkm.RingPublic(w.host.exportPublic(RING));
    assert.match(throwsDkm(() => rp.seal('x', undefined, T0 + 30 * DAY), 'Stale').message, /freshness/);
    w.clock.set(T0 + 30 * DAY);
    const e = throwsDkm(() => w.host.sealTo(rp, 'x'), 'Stale');
    assert.equal(e.code, 16);
    // A governance change no key holder has carried out yet.
    w.host.maintain(RING, { as: w.svc });
    w.host.addMember(RING, 'approver', eng.public, { as: w.admin });
    rp = new dkm.RingPublic(w.host.exportPublic(RING));
    assert.match(throwsDkm(() => w.host.sealTo(rp, 'x'), 'Stale').message, /governance/);
  });

  test('Rollback', () => {
    const store = new MapSyncStore();
    const w = makeWorld({ store });
    const old = store.rings.get(RING);
    w.host.rollEpoch(RING, { as: w.svc });
    store.rings.set(RING, old);
    const e = throwsDkm(() => w.host.ringInfo(RING), 'Rollback');
    assert.equal(e.code, 17);
    throwsDkm(() => w.seal('x'), 'Rollback');
  });
});

// ---- no secret in messages, stacks or inspection ----

describe('secrets stay out of errors and inspection', () => {
  test('an Unsealed, an Identity: inspect, String and JSON show no plaintext or secret', () => {
    const w = makeWorld();
    const u = w.host.unseal(RING, w.seal('hunter2-very-secret'), { as: w.svc });
    const secret = secretLine(w.svc);
    for (const shown of [util.inspect(u), String(u), JSON.stringify(u), util.inspect(w.svc), String(w.svc), JSON.stringify(w.svc)]) {
      assert.ok(!shown.includes('hunter2'), shown);
      assert.ok(!shown.includes(secret) && !shown.includes(secret.slice(7, 30)), shown);
    }
  });

  test('refusals name no plaintext, context or secret identity', () => {
    const w = makeWorld();
    const hide = ['plain-text-42', 'context-77', secretLine(w.svc), secretLine(w.eng)];
    const sealed = w.seal('plain-text-42', 'context-77');
    throwsDkm(() => w.open(sealed, 'context-78'), 'Tampered', hide);
    throwsDkm(() => w.host.unseal(RING, sealed, { as: w.eng, context: 'context-77' }), 'NotAMember', hide);
    throwsDkm(() => w.host.unseal('nope', sealed, { as: w.svc, context: 'context-77' }), 'InvalidInput', hide);
    throwsDkm(() => w.host.seal(RING, 'plain-text-42', { as: w.eng, context: 'context-77' }), 'NotAMember', hide);
    throwsDkm(() => w.host.unsealWithGrant(RING, '0'.repeat(32), sealed, { as: w.eng, context: 'context-77' }), 'GrantExpired', hide);
    throwsDkm(() => w.host.unseal(RING, w.seal(new Uint8Array([0xff, 0x80])), { as: w.svc }).text, 'InvalidInput', hide);
  });
});

// ---- wrong JS types ----

describe('wrong JS types are TypeErrors', () => {
  test('sync Host, classes and constructors', () => {
    const w = makeWorld();
    const h = w.host;
    const { svc, admin, eng, ops } = w;
    const sealed = w.seal('x', 'c');
    const part = h.exportPublic(RING);
    const cases = [
      ['a number as data', () => h.seal(RING, 5, { as: svc })],
      ['an object as data', () => h.seal(RING, { bytes: [1] }, { as: svc })],
      ['null as data', () => h.seal(RING, null, { as: svc })],
      ['an ArrayBuffer as data', () => h.seal(RING, new ArrayBuffer(2), { as: svc })],
      ['a Uint16Array as data', () => h.seal(RING, new Uint16Array(2), { as: svc })],
      ['an array as armored data', () => h.sealArmored(RING, [1, 2], { as: svc })],
      ['a number as context', () => h.seal(RING, 'x', { as: svc, context: 7 })],
      ['a number as the sealed secret', () => h.unseal(RING, 12345, { as: svc })],
      ['an object as the context of unseal', () => h.unseal(RING, sealed, { as: svc, context: {} })],
      ['a PublicIdentity acting', () => h.seal(RING, 'x', { as: svc.public })],
      ['a string acting', () => h.seal(RING, 'x', { as: 'svc' })],
      ['{as} missing', () => h.seal(RING, 'x', {})],
      ['options missing', () => h.seal(RING, 'x')],
      ['options missing (acting verb)', () => h.maintain(RING)],
      ['too many arguments', () => h.keys(RING, 'extra')],
      ['an Identity for a public identity', () => h.addMember(RING, 'approver', eng, { as: admin })],
      ['a number as the role', () => h.addMember(RING, 1, eng.public, { as: admin })],
      ['an Identity to remove', () => h.removeMember(RING, ops, { as: admin })],
      ['a string as the epoch', () => h.revokeEpoch(RING, '1', { as: admin })],
      ['a bool as the epoch', () => h.revokeEpoch(RING, true, { as: admin })],
      ['a string as the cutoff', () => h.shredBefore(RING, '2030-01-01', { as: admin })],
      ['a number as the grant id', () => h.revokeGrant(RING, 5, { as: admin })],
      ['a number as the new name', () => h.renameRing(RING, 5, { as: admin })],
      ['a number as the ring name', () => h.createRing(5, { as: admin })],
      ['a number as a view\'s ring name', () => h.keys(5)],
      ['a string as the duration', () => h.requestAccess(RING, 'r', '3600', { as: eng })],
      ['a number as the reason', () => h.requestAccess(RING, 5, 3600, { as: eng })],
      ['a string as epochs', () => h.requestAccess(RING, 'r', 3600, { as: eng, epochs: '1' })],
      ['a bool in epochs', () => h.requestAccess(RING, 'r', 3600, { as: eng, epochs: [true] })],
      ['a string as since', () => h.requestAccess(RING, 'r', 3600, { as: eng, since: 'yesterday' })],
      ['a number as the request id', () => h.approve(RING, 5, 'ops', { as: ops })],
      ['bytes as the request id', () => h.grant(RING, new Uint8Array(32), { as: svc })],
      ['a string as levels', () => h.setApprovalLevels(RING, 'ops', { as: admin })],
      ['a tuple as a level', () => h.setApprovalLevels(RING, [['ops', 1, [ops.public]]], { as: admin })],
      ['an Identity as an approver', () => h.setApprovalLevels(RING, [{ name: 'ops', quorum: 1, approvers: [ops] }], { as: admin })],
      ['a string as the quorum', () => h.setApprovalLevels(RING, [{ name: 'ops', quorum: '1', approvers: [ops.public] }], { as: admin })],
      ['a string as a policy', () => h.createRing('p', { as: admin, policy: 'strict' })],
      ['a string in a policy', () => h.createRing('p', { as: admin, policy: { intervalSecs: '60' } })],
      ['bytes to sealTo', () => h.sealTo(part, 'x')],
      ['a string as a snapshot', () => h.importSnapshot('a str')],
      ['a string as a public part', () => new dkm.RingPublic('a str')],
      ['a number as a pin', () => new dkm.RingPublic(part, 5)],
      ['a string as now', () => new dkm.RingPublic(part).seal('x', undefined, 'now')],
      ['a number as identity text', () => dkm.Identity.fromText(5)],
      ['a number as a pin to add', () => new dkm.MemoryPins().add(5)],
      ['a number as a store', () => new dkm.Host(5)],
      ['null as a store', () => new dkm.Host(null)],
      ['an empty object as a store', () => new dkm.Host({})],
      ['a number as pins', () => new dkm.Host(new dkm.MemoryStore(), { pins: 5 })],
      ['a string as a clock', () => new dkm.Host(new dkm.MemoryStore(), { clock: 'now' })],
      ['a clock returning a string', () => new dkm.Host(new dkm.MemoryStore(), { clock: () => 'now' }).now()],
      ['a storage without read/write', () => new dkm.AsyncHost({})],
      ['zero retries', () => new dkm.AsyncHost(new dkm.MapStorage(), { retries: 0 })],
      ['fractional retries', () => new dkm.AsyncHost(new dkm.MapStorage(), { retries: 1.5 })],
    ];
    for (const [what, f] of cases) throwsType(f, undefined, what);
    assert.ok(cases.length >= 50);
    // The host still works.
    assert.equal(w.open(sealed, 'c'), 'x');
    assert.deepEqual(w.store.names(), [RING]);
  });

  test('AsyncHost: wrong types reject the promise (never a synchronous throw)', async () => {
    const w = await makeAsyncWorld();
    const h = w.host;
    const cases = [
      () => h.seal(RING, 5, { as: w.svc }),
      () => h.seal(RING, 'x', { as: w.svc.public }),
      () => h.seal(RING, 'x'),
      () => h.unseal(RING, 12345, { as: w.svc }),
      () => h.addMember(RING, 'approver', w.eng, { as: w.admin }),
      () => h.revokeEpoch(RING, '1', { as: w.admin }),
      () => h.requestAccess(RING, 'r', '3600', { as: w.eng }),
      () => h.keys(5),
      () => h.keys(),
      () => h.importSnapshot('x'),
      () => h.sealTo(new Uint8Array(3), 'x'),
      () => h.createRing('p', { as: w.admin, policy: 'x' }),
    ];
    for (const f of cases) {
      let p;
      assert.doesNotThrow(() => {
        p = f();
      });
      assert.ok(p instanceof Promise);
      await rejectsType(() => p);
    }
    assert.equal((await h.ringInfo(RING)).name, RING);
  });
});

// ---- malformed input: a typed DkmError, never a crash ----

describe('malformed input', () => {
  test('random bytes as a sealed secret, binary or armored', () => {
    const w = makeWorld();
    const r = prng(7);
    for (let i = 0; i < 300; i++) {
      const b = r.bytes(r.int(200));
      if (i % 3 === 0 && b.length > 0) b[0] = 1; // the version byte: parsed further
      throwsSomeDkm(() => w.open(b), null, `random ${i}`);
      throwsSomeDkm(() => w.open(`dkm1:${Buffer.from(b).toString('base64url')}`), null, `armored random ${i}`);
    }
  });

  test('a sealed secret truncated at every length, or extended', () => {
    const w = makeWorld();
    const sealed = w.seal('truncate me', 'c');
    for (let n = 0; n < sealed.length; n++) {
      throwsSomeDkm(() => w.open(sealed.subarray(0, n), 'c'), ['Malformed', 'Tampered', 'Unsupported'], `length ${n}`);
    }
    const longer = new Uint8Array(sealed.length + 1);
    longer.set(sealed);
    throwsSomeDkm(() => w.open(longer, 'c'), ['Tampered', 'Malformed'], 'a trailing byte');
    // Every single-byte flip.
    for (let i = 0; i < sealed.length; i++) {
      const f = sealed.slice();
      f[i] ^= 1;
      throwsSomeDkm(() => w.open(f, 'c'), null, `flip ${i}`);
    }
  });

  test('bad armor', () => {
    const w = makeWorld();
    const armored = w.host.sealArmored(RING, 'armored', { as: w.svc });
    for (const bad of [
      'dkm1:',
      'dkm1:!!!!',
      'dkm1:====',
      'dkm2:' + armored.slice(5),
      armored.slice(0, -1),
      armored.slice(0, 20),
      armored + 'A',
      armored.replace('dkm1:', 'dkm1: '),
      armored.slice(0, 30) + '\u00e9' + armored.slice(31),
      armored.slice(0, 30) + '+/' + armored.slice(32),
      'x'.repeat(10_000),
    ]) {
      throwsSomeDkm(() => w.open(bad), null, JSON.stringify(bad.slice(0, 40)));
    }
    for (let i = 5; i < armored.length; i += 7) {
      throwsSomeDkm(() => w.open(changeChar(armored, i)), null, `armor char ${i}`);
    }
  });

  test('bad snapshots', () => {
    const w = makeWorld();
    const snap = w.host.exportSnapshot(RING);
    const h = new dkm.Host(new dkm.MemoryStore(), { clock: w.clock.fn });
    const step = Math.max(1, Math.floor(snap.length / 150));
    for (let n = 0; n < snap.length; n += step) {
      throwsSomeDkm(() => h.importSnapshot(snap.subarray(0, n)), null, `snapshot cut at ${n}`);
    }
    const r = prng(11);
    for (let i = 0; i < 100; i++) {
      throwsSomeDkm(() => h.importSnapshot(r.bytes(r.int(300))), null, `random snapshot ${i}`);
      const f = snap.slice();
      f[r.int(f.length)] ^= 1 << r.int(8);
      throwsSomeDkm(() => h.importSnapshot(f), null, `flipped snapshot ${i}`);
    }
    assert.deepEqual(h.store.names(), []);
  });

  test('bad public parts and pins', () => {
    const w = makeWorld();
    const part = w.host.exportPublic(RING);
    const [pin] = w.pins.pins();
    const r = prng(13);
    for (let n = 0; n < part.length; n += Math.max(1, Math.floor(part.length / 100))) {
      throwsSomeDkm(() => new dkm.RingPublic(part.subarray(0, n)), null, `part cut at ${n}`);
    }
    // "DKMP" 0x01, the pin's length (u32), the pin, then the ring: a flip in the ring is
    // refused. (Within the pin, the admins are ignored once it names a governance hash, and
    // a lower version is merely an older pin: such flips may load.)
    const ringAt = 9 + Buffer.from(part).readUInt32BE(5);
    assert.ok(ringAt > 100 && ringAt < part.length - 100);
    for (let i = 0; i < 100; i++) {
      throwsSomeDkm(() => new dkm.RingPublic(r.bytes(r.int(400))), null, `random part ${i}`);
      const f = part.slice();
      const at = ringAt + r.int(f.length - ringAt);
      f[at] ^= 1 << r.int(8);
      throwsSomeDkm(() => new dkm.RingPublic(f), null, `part flipped at ${at}`);
    }
    // The pin's ring id and its hashes are checked.
    for (const at of [10, 17, 25, 101, 120, 132, 142, 160, 173]) {
      const f = part.slice();
      f[at] ^= 0x10;
      throwsSomeDkm(() => new dkm.RingPublic(f), null, `part's pin flipped at ${at}`);
    }
    for (let n = 0; n < pin.length; n++) {
      throwsSomeDkm(() => new dkm.MemoryPins().add(pin.subarray(0, n)), null, `pin cut at ${n}`);
      throwsSomeDkm(() => new dkm.RingPublic(part, pin.subarray(0, n)), null, `part with pin cut at ${n}`);
    }
    for (const bad of ['', 'zz', '0', '01', Buffer.from(pin).toString('hex') + '00', 'g'.repeat(40)]) {
      throwsSomeDkm(() => new dkm.MemoryPins().add(bad), null, `pin text ${bad.slice(0, 10)}`);
    }
    for (let i = 0; i < 50; i++) throwsSomeDkm(() => new dkm.MemoryPins().add(r.bytes(r.int(200))), null, `random pin ${i}`);
  });

  test('bad identity texts', () => {
    const me = dkm.Identity.generate();
    const pub = me.public.toText();
    const sec = secretLine(me);
    const r = prng(17);
    for (let n = 0; n < pub.length; n += 3) throwsSomeDkm(() => dkm.PublicIdentity.fromText(pub.slice(0, n)), null, `public cut at ${n}`);
    for (let n = 0; n < sec.length; n += 3) throwsSomeDkm(() => dkm.Identity.fromText(sec.slice(0, n)), null, `secret cut at ${n}`, );
    for (let i = 0; i < 100; i++) {
      const junk = Buffer.from(r.bytes(r.int(120))).toString('latin1');
      throwsSomeDkm(() => dkm.PublicIdentity.fromText(junk), null, `random public ${i}`);
      throwsSomeDkm(() => dkm.Identity.fromText(junk), null, `random secret ${i}`);
      throwsSomeDkm(() => dkm.Identity.fromText(r.bytes(r.int(120))), null, `random secret bytes ${i}`);
    }
    for (let i = 7; i < pub.length; i += 5) {
      throwsSomeDkm(() => dkm.PublicIdentity.fromText(changeChar(pub, i)), ['BadChecksum', 'Malformed'], `public char ${i}`);
    }
    for (let i = 7; i < sec.length; i += 5) {
      throwsSomeDkm(() => dkm.Identity.fromText(changeChar(sec, i)), ['BadChecksum', 'Malformed'], `secret char ${i}`);
    }
  });

  test('a sync store serving garbage ring bytes or audit lines', () => {
    const store = new MapSyncStore();
    const w = makeWorld({ store });
    const good = store.rings.get(RING);
    const r = prng(19);
    for (let i = 0; i < 30; i++) {
      store.rings.set(RING, { bytes: r.bytes(r.int(500)), token: `junk${i}` });
      throwsSomeDkm(() => new dkm.Host(store, { clock: w.clock.fn }).ringInfo(RING), null, `garbage ring ${i}`);
    }
    store.rings.set(RING, good);
    const lines = store.streams.get(`${RING}\0audit`);
    lines.push('{"not": "a record"}');
    const report = w.host.auditVerify(RING);
    assert.equal(report.verified, false);
    assert.equal(report.problem.index, lines.length - 1);
    lines.pop();
    lines.push('not json at all');
    assert.equal(w.host.auditVerify(RING).verified, false);
    lines.pop();
    assert.equal(w.host.auditVerify(RING).verified, true);
  });
});

// ---- async storage failures ----

describe('asynchronous storage failures', () => {
  test('a storage whose read or write throws: the verb rejects with that failure, nothing is written', async () => {
    const w = await makeAsyncWorld();
    const before = await w.storage.read([RING]);
    const boom = new Error('the network is down');
    const isTheFailure = (e) =>
      e === boom || (e instanceof dkm.DkmError && e.kind === 'StoreUnavailable' && (e.cause === boom || e.message.includes(boom.message)));
    const readFails = { read: async () => Promise.reject(boom), write: (ws) => w.storage.write(ws) };
    await assert.rejects(() => new dkm.AsyncHost(readFails, { clock: w.clock.fn }).ringInfo(RING), isTheFailure);
    const writeFails = { read: (n) => w.storage.read(n), write: async () => Promise.reject(boom) };
    await assert.rejects(() => new dkm.AsyncHost(writeFails, { clock: w.clock.fn }).rollEpoch(RING, { as: w.svc }), isTheFailure);
    const after = await w.storage.read([RING]);
    assert.equal(after.rings[RING].ring.token, before.rings[RING].ring.token);
    assert.deepEqual(after.rings[RING].audit, before.rings[RING].audit);
    // A Conflict thrown by write is a lost race: retried.
    let n = 0;
    const conflictOnce = {
      read: (x) => w.storage.read(x),
      write: async (ws) => {
        if (n++ === 0) throw new dkm.DkmError('lost', 'Conflict', 14);
        return w.storage.write(ws);
      },
    };
    const events = await new dkm.AsyncHost(conflictOnce, { clock: w.clock.fn }).rollEpoch(RING, { as: w.svc });
    assert.ok(events.some((e) => e.epoch === 2));
    assert.equal(n, 2);
  });

  test('a snapshot that leaves out a name the verb touches: InvalidInput', async () => {
    const w = await makeAsyncWorld();
    const empty = { read: async () => ({ location: 'x', rings: {} }), write: async () => true };
    await rejectsDkm(() => new dkm.AsyncHost(empty).ringInfo(RING), 'InvalidInput');
    await rejectsDkm(() => new dkm.AsyncHost(empty).seal(RING, 'x', { as: w.svc }), 'InvalidInput');
  });
});

// ---- BUGs: these fail until the package is fixed ----

describe('regressions: bugs found while writing these tests (fixed)', () => {
  // BUG 1: a non-string where the module takes `&str` (the ring of Host.seal, Host.unseal,
  // Host.sealAsync, Host.unsealAsync; PublicIdentity.fromText; Identity.toText) reaches
  // wasm-bindgen's passStringToWasm0 unchecked: a number traps the module ("RuntimeError:
  // memory access out of bounds") instead of a TypeError, and after such a trap the process
  // can die with SIGSEGV. Run in a child process so the trap cannot poison this one.
  const setup = `
    const a = dkm.Identity.generate(), svc = dkm.Identity.generate();
    const host = new dkm.Host(new dkm.MemoryStore(), { clock: 1_900_000_000_000 });
    host.createRing('main', { as: a });
    host.addMember('main', 'service', svc.public, { as: a });
    host.maintain('main', { as: svc });
    const sealed = host.seal('main', 'x', { as: svc });
    const big = new Uint8Array(20000);
    const outcome = async (f) => {
      try { await f(); return 'no error'; } catch (e) { return e?.constructor?.name + ': ' + e?.message; }
    };
  `;
  for (const [call, code] of [
    ['PublicIdentity.fromText(5)', 'dkm.PublicIdentity.fromText(5)'],
    ['PublicIdentity.fromText({})', 'dkm.PublicIdentity.fromText({})'],
    ['identity.toText(5)', 'a.toText(5)'],
    ['host.seal(5, ...)', "host.seal(5, 'x', { as: svc })"],
    ['host.unseal(5, ...)', 'host.unseal(5, sealed, { as: svc })'],
    ['host.sealAsync(5, 20 KB)', 'host.sealAsync(5, big, { as: svc })'],
    ['host.unsealAsync(5, 20 KB)', "host.unsealAsync(5, host.seal('main', big, { as: svc }), { as: svc })"],
  ]) {
    test(`BUG 1: ${call} is a TypeError, not a WASM trap`, () => {
      const out = inChild(`${setup} return await outcome(() => ${code});`);
      assert.equal(out.signal, null, `killed by ${out.signal}`);
      assert.equal(out.status, 0, out.stderr.slice(-500));
      assert.match(out.result, /^TypeError: /);
    });
  }

  test('BUG 1: after such a trap, the process does not crash (it did: SIGSEGV)', () => {
    const out = inChild(`${setup}
      const steps = [];
      steps.push(await outcome(() => dkm.PublicIdentity.fromText(5)));
      steps.push(await outcome(() => host.unseal('main', host.seal('main', 'y'.repeat(100000), { as: svc }), { as: svc }).text));
      steps.push(await outcome(() => a.toText(5)));
      steps.push(await outcome(() => host.ringInfo('main')));
      return steps;
    `);
    assert.equal(out.signal, null, `killed by ${out.signal}`);
    assert.equal(out.status, 0, out.stderr.slice(-500));
    assert.match(out.result[0], /^TypeError: /);
    assert.equal(out.result[1], 'no error');
    assert.match(out.result[2], /^TypeError: /);
    assert.equal(out.result[3], 'no error');
  });

  // BUG 2: acceptSealOnly is not checked: Host.unseal hands it to the module as `+value`
  // ('no' and 'yes' become NaN, so 0: refuse; 1 accepts), while AsyncHost.unseal and
  // Host.unsealWithGrant go through the dispatcher's `as_bool().unwrap_or(true)` ('no' and 0
  // accept). The same call accepts a seal-only secret on one host and refuses it on the other.
  test('BUG 2: a non-boolean acceptSealOnly is a TypeError on Host and AsyncHost alike', async () => {
    const w = makeWorld();
    const so = new dkm.RingPublic(w.host.exportPublic(RING)).seal('from anyone', 'c', T0 + HOUR);
    const aw = new dkm.AsyncHost(new dkm.MapStorage(), { clock: w.clock.fn });
    await aw.importSnapshot(w.host.exportSnapshot(RING));
    for (const v of ['no', 0, 'yes', 1]) {
      throwsType(() => w.host.unseal(RING, so, { as: w.svc, context: 'c', acceptSealOnly: v }), undefined, `Host ${v}`);
      await rejectsType(() => aw.unseal(RING, so, { as: w.svc, context: 'c', acceptSealOnly: v }));
    }
  });

  // BUG 3: PublicIdentity.equals with anything but a PublicIdentity throws wasm-bindgen's
  // plain `Error("expected instance of PublicIdentity")`: neither false nor a TypeError.
  test('BUG 3: PublicIdentity.equals(non-PublicIdentity) is false or a TypeError', () => {
    const pub = dkm.Identity.generate().public;
    // Its own text is the same identity (documented); another's text is not.
    assert.equal(pub.equals(pub.toText()), true);
    assert.equal(pub.equals(dkm.Identity.generate().public.toText()), false);
    for (const other of [null, {}, 'dkmpub1-not-one', 5, dkm.Identity.generate()]) {
      let result;
      try {
        result = pub.equals(other);
      } catch (e) {
        assert.ok(e instanceof TypeError, `equals(${typeof other}) threw ${e.constructor.name}: ${e.message}`);
        continue;
      }
      assert.equal(result, false);
    }
  });

  // BUG 4: wasm/src/host.rs policy_arg converts every value with integer() before matching
  // its key, so `policy: {levels: [...]}` (the natural mistake) is a TypeError
  // "policy.levels must be a number", and the branch with the helpful InvalidInput ("a ring is
  // created without approval levels: set them with setApprovalLevels") is reachable only
  // with a number.
  test('BUG 4: policy.levels at createRing is the InvalidInput that says to use setApprovalLevels', () => {
    const { admin, ops } = people();
    const host = new dkm.Host(new dkm.MemoryStore(), { clock: T1 });
    const e = throwsDkm(
      () => host.createRing('q', { as: admin, policy: { levels: [{ name: 'ops', quorum: 1, approvers: [ops.public] }] } }),
      'InvalidInput',
    );
    assert.match(e.message, /setApprovalLevels/);
  });
});
