// Two AsyncHosts (two processes, each with its own pin book) racing on one asynchronous
// storage whose reads and writes each wait a small random delay: writes lose their
// compare-and-swap and are retried from a fresh snapshot, and nothing is lost: every request
// is logged, every approval counted, every grant issued once, every secret opens, and the
// audit chain verifies. And a storage that always loses: Conflict after `retries` attempts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { dkm, Clock, DelayedStorage, LEVELS, RING, T0, T1, people, rejectsDkm } from './lib.mjs';

const RETRIES = 200; // many contenders: each round of a race has one winner

function twoHosts(seed, maxDelayMs = 3) {
  const clock = new Clock();
  const storage = new DelayedStorage(new dkm.MapStorage(), { maxDelayMs, seed });
  const A = new dkm.AsyncHost(storage, { clock: clock.fn, retries: RETRIES });
  const B = new dkm.AsyncHost(storage, { clock: clock.fn, retries: RETRIES });
  assert.notEqual(A.pins, B.pins);
  return { clock, storage, A, B };
}

/** The audit chain is whole: seq 1..n, each record linking to the one before, verified. */
async function checkAudit(host) {
  const records = await host.auditRecords(RING);
  assert.deepEqual(
    records.map((r) => r.seq),
    records.map((_, i) => i + 1),
  );
  for (let i = 1; i < records.length; i++) assert.equal(records[i].prev, records[i - 1].hash);
  const report = await host.auditVerify(RING);
  assert.equal(report.verified, true);
  assert.equal(report.problem, null);
  assert.equal(report.records, records.length);
  assert.deepEqual(report.head, { seq: records.length, hash: records.at(-1).hash });
  return records;
}

const count = (records, action) => records.filter((r) => r.action === action).length;

describe('two AsyncHosts on one storage', () => {
  test('governance, seals and maintain race: every change is applied, every secret opens', async () => {
    const { storage, A, B } = twoHosts(42);
    const p = people();
    await A.createRing(RING, { as: p.admin });
    await B.addMember(RING, 'service', p.svc.public, { as: p.admin });
    await A.maintain(RING, { as: p.svc });
    const lostBefore = storage.lost;

    const approvers = Array.from({ length: 6 }, () => dkm.Identity.generate());
    const holders = Array.from({ length: 2 }, () => dkm.Identity.generate());
    const texts = Array.from({ length: 10 }, (_, i) => `secret ${i} sealed in a race`);
    const [added, held, sealed] = await Promise.all([
      Promise.all(approvers.map((x, i) => (i % 2 ? A : B).addMember(RING, 'approver', x.public, { as: p.admin }))),
      Promise.all(holders.map((x, i) => (i % 2 ? B : A).addMember(RING, 'service', x.public, { as: p.admin }))),
      Promise.all(texts.map((t, i) => (i % 2 ? A : B).seal(RING, t, { as: p.svc, context: `c${i}` }))),
      A.maintain(RING, { as: p.svc }),
      B.maintain(RING, { as: p.svc }),
    ]);
    assert.ok(storage.lost > lostBefore, `no write lost its compare-and-swap (${storage.writes} writes)`);

    // Each change got its own governance version: 3 (the service member) + 8, in some order.
    const outcomes = [...added, ...held];
    assert.ok(outcomes.every((o) => o.outcome === 'applied'));
    assert.deepEqual(
      outcomes.map((o) => o.version).sort((x, y) => x - y),
      Array.from({ length: 8 }, (_, i) => i + 3),
    );
    await B.maintain(RING, { as: p.svc });
    for (const host of [A, B]) {
      const info = await host.ringInfo(RING);
      assert.equal(info.governance_version, 10);
      assert.equal(info.applied_version, 10);
      assert.equal(info.pending, false);
      const ids = new Set(info.members.map((m) => m.id));
      for (const x of [...approvers, ...holders, p.admin, p.svc]) assert.ok(ids.has(x.id));
      assert.equal(info.members.length, 10);
    }
    // Every secret opens, on either host, for every key holder.
    for (let i = 0; i < texts.length; i++) {
      for (const [host, holder] of [
        [A, p.svc],
        [B, holders[0]],
        [A, holders[1]],
      ]) {
        const u = await host.unseal(RING, sealed[i], { as: holder, context: `c${i}` });
        assert.equal(u.text, texts[i]);
      }
    }
    const records = await checkAudit(A);
    assert.deepEqual(await B.auditRecords(RING), records);
    assert.equal(count(records, 'governance-signed'), 10);
    assert.equal(count(records, 'governance-applied'), 10);
  });

  test('requests, approvals, grants and seals race: nothing is lost', async () => {
    const { clock, storage, A, B } = twoHosts(7, 2);
    const p = people();
    await A.createRing(RING, { as: p.admin });
    await B.addMember(RING, 'service', p.svc.public, { as: p.admin });
    await A.addMember(RING, 'approver', p.ops.public, { as: p.admin });
    await B.addMember(RING, 'approver', p.sec.public, { as: p.admin });
    await A.maintain(RING, { as: p.svc });
    await B.setApprovalLevels(RING, LEVELS(p), { as: p.admin });
    await A.maintain(RING, { as: p.svc });
    clock.set(T1);
    const kept = await A.seal(RING, 'kept from the start', { as: p.svc, context: 'k' });
    const lostBefore = storage.lost;

    const engs = Array.from({ length: 4 }, () => dkm.Identity.generate());
    const N = 12;
    const texts = Array.from({ length: 8 }, (_, i) => `raced secret ${i}`);
    const [ids, sealed] = await Promise.all([
      Promise.all(
        Array.from({ length: N }, (_, i) =>
          (i % 2 ? A : B).requestAccess(RING, `request ${i}`, 3600, { as: engs[i % engs.length], since: T0 }),
        ),
      ),
      Promise.all(texts.map((t, i) => (i % 2 ? B : A).seal(RING, t, { as: p.svc }))),
      A.maintain(RING, { as: p.svc }),
      B.rollEpoch(RING, { as: p.svc }),
    ]);
    assert.equal(new Set(ids).size, N);
    // Every request is logged, seen alike from both hosts.
    for (const host of [A, B]) {
      const views = await host.requests(RING);
      assert.equal(views.length, N);
      assert.deepEqual(new Set(views.map((r) => r.id)), new Set(ids));
      assert.ok(views.every((r) => r.state === 'pending'));
    }
    // Approvals race, level by level; then the grants.
    await Promise.all(ids.map((id, i) => (i % 2 ? A : B).approve(RING, id, 'ops', { as: p.ops })));
    await Promise.all(ids.map((id, i) => (i % 2 ? B : A).approve(RING, id, 'security', { as: p.sec })));
    assert.ok((await A.requests(RING)).every((r) => r.state === 'approved'));
    const grants = await Promise.all(ids.map((id, i) => (i % 3 ? A : B).grant(RING, id, { as: p.svc })));
    assert.equal(new Set(grants.map((g) => g.id)).size, N);
    assert.deepEqual(grants.map((g) => g.request), ids);
    // Each grant opens for its requester, concurrently.
    const opened = await Promise.all(
      grants.map((g, i) =>
        (i % 2 ? B : A).unsealWithGrant(RING, g.id, kept, { as: engs[i % engs.length], context: 'k' }),
      ),
    );
    assert.ok(opened.every((u) => u.text === 'kept from the start'));
    assert.ok(storage.lost > lostBefore, `no write lost its compare-and-swap (${storage.writes} writes)`);

    for (const host of [A, B]) {
      const views = await host.requests(RING);
      assert.deepEqual(new Set(views.map((r) => r.id)), new Set(ids));
      assert.ok(views.every((r) => r.state === 'granted'));
    }
    for (let i = 0; i < texts.length; i++) {
      assert.equal((await B.unseal(RING, sealed[i], { as: p.svc })).text, texts[i]);
    }
    const records = await checkAudit(B);
    assert.equal(count(records, 'request-logged'), N);
    assert.equal(count(records, 'approved'), 2 * N);
    assert.equal(count(records, 'grant-issued'), N);
    assert.equal(count(records, 'grant-unseal'), N);
  });

  test('a sync Host on a snapshot of the raced storage sees the same ring', async () => {
    const { A, B } = twoHosts(3, 1);
    const p = people();
    await A.createRing(RING, { as: p.admin });
    await A.addMember(RING, 'service', p.svc.public, { as: p.admin });
    const sealed = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? A : B).seal(RING, `s${i}`, { as: p.svc })));
    const host = new dkm.Host(new dkm.MemoryStore());
    assert.equal(host.importSnapshot(await B.exportSnapshot(RING)), RING);
    for (let i = 0; i < sealed.length; i++) assert.equal(host.unseal(RING, sealed[i], { as: p.svc }).text, `s${i}`);
    assert.deepEqual(host.auditRecords(RING), await A.auditRecords(RING));
  });
});

describe('a storage that always loses the race', () => {
  for (const retries of [1, 3, undefined]) {
    test(`write always false: DkmError Conflict after ${retries ?? 'the default 8'} attempts`, async () => {
      const inner = new dkm.MapStorage();
      const setup = new dkm.AsyncHost(inner, { clock: T0 });
      const p = people();
      await setup.createRing(RING, { as: p.admin });
      await setup.addMember(RING, 'service', p.svc.public, { as: p.admin });
      await setup.maintain(RING, { as: p.svc });
      const before = await inner.read([RING]);
      let reads = 0;
      let writes = 0;
      const losing = {
        read: async (names) => {
          reads++;
          return inner.read(names);
        },
        write: async () => {
          writes++;
          return false;
        },
      };
      const host = new dkm.AsyncHost(losing, retries ? { clock: T0, retries } : { clock: T0 });
      const expected = retries ?? 8;
      assert.equal(host.retries, expected);
      const e = await rejectsDkm(() => host.rollEpoch(RING, { as: p.svc }), 'Conflict');
      assert.match(e.message, new RegExp(`${expected} attempts`));
      assert.equal(writes, expected);
      assert.equal(reads, expected);
      // Nothing was written; a verb that writes nothing succeeds.
      const after = await inner.read([RING]);
      assert.equal(after.rings[RING].ring.token, before.rings[RING].ring.token);
      assert.equal((await host.keys(RING)).current.epoch, 1);
      assert.equal(writes, expected);
    });
  }

  test('a write that loses k < retries times succeeds at attempt k + 1', async () => {
    const inner = new dkm.MapStorage();
    const p = people();
    const setup = new dkm.AsyncHost(inner, { clock: T0 });
    await setup.createRing(RING, { as: p.admin });
    await setup.addMember(RING, 'service', p.svc.public, { as: p.admin });
    let writes = 0;
    const flaky = {
      read: (names) => inner.read(names),
      write: async (ws) => {
        writes++;
        if (writes <= 2) return false;
        if (writes === 3) throw new dkm.DkmError('lost, thrown', 'Conflict', 14);
        return inner.write(ws);
      },
    };
    const host = new dkm.AsyncHost(flaky, { clock: T0, retries: 4 });
    const events = await host.maintain(RING, { as: p.svc });
    assert.ok(events.some((e) => e.action === 'epoch-created' && e.epoch === 1));
    assert.equal(writes, 4);
    assert.equal((await setup.keys(RING)).current.epoch, 1);
    // With one attempt fewer it gives up.
    writes = 0;
    const short = new dkm.AsyncHost(flaky, { clock: T0, retries: 3 });
    await rejectsDkm(() => short.rollEpoch(RING, { as: p.svc }), 'Conflict');
    assert.equal(writes, 3);
    assert.equal((await setup.keys(RING)).current.epoch, 1);
  });
});
