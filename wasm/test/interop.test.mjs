// The package and the `dkm` command on the same rings. They share no store: rings cross as
// snapshots (`dkm ring export` / `importSnapshot`, `exportSnapshot` / `dkm ring import`) and
// public parts (`dkm ring export-public` / `RingPublic`, `exportPublic` / `dkm seal-to`);
// secrets cross as files, binary and armored, both ways; views are the same JSON.
//
// The command is $DKM_BIN, else target/debug/dkm (built with `cargo build -p dkm-cli` when
// missing). Each test has a temporary directory with its own DKM_STORE and DKM_HOME.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { dkm, HOUR, bytesEqual, enc, throwsDkm } from './lib.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DKM_BIN = process.env.DKM_BIN ?? join(ROOT, 'target', 'debug', 'dkm');

const dirs = [];

before(() => {
  if (!existsSync(DKM_BIN)) {
    const b = spawnSync('cargo', ['build', '-q', '-p', 'dkm-cli'], { cwd: ROOT, encoding: 'utf8', timeout: 590_000 });
    assert.equal(b.status, 0, `cargo build -p dkm-cli failed: ${b.stderr ?? b.error}`);
  }
  assert.ok(existsSync(DKM_BIN), `the dkm command is not at ${DKM_BIN}`);
});

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** RFC 3339 (whole seconds) of a time in ms. */
const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The `dkm` command on a store and a home (pin book) of its own. */
class Cli {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'dkm-interop-'));
    dirs.push(this.dir);
    this.env = { ...process.env, DKM_STORE: join(this.dir, 'store'), DKM_HOME: join(this.dir, 'home') };
    delete this.env.DKM_NOW;
  }

  path(name) {
    return join(this.dir, name);
  }

  /** Runs `dkm ARGS`; `now` sets DKM_NOW; `store` another store directory. */
  run(args, { stdin, check = true, now, store } = {}) {
    const env = { ...this.env };
    if (now !== undefined) env.DKM_NOW = rfc3339(now);
    if (store !== undefined) env.DKM_STORE = this.path(store);
    const p = spawnSync(DKM_BIN, args, { cwd: this.dir, env, input: stdin ?? '', timeout: 60_000 });
    const out = { status: p.status, stdout: p.stdout, text: p.stdout.toString('utf8'), stderr: p.stderr.toString('utf8') };
    if (check && p.status !== 0) assert.fail(`dkm ${args.join(' ')} failed (${p.status}): ${out.stderr}`);
    return out;
  }

  /** The last line the command printed (an id it prints last). */
  last(args, opts) {
    return this.run(args, opts).text.trim().split('\n').at(-1);
  }

  json(args, opts) {
    return JSON.parse(this.run([...args, '--json'], opts).text);
  }

  /** A new identity file; returns {file, identity (the JS Identity from the file's text)}. */
  identity(name) {
    const file = this.path(`${name}.id`);
    this.run(['identity', 'new', name, '--out', file]);
    const identity = dkm.Identity.fromText(readFileSync(file, 'utf8'));
    // The command shows the same public identity.
    assert.equal(this.last(['identity', 'show', file]), identity.public.toText());
    return { file, identity, pub: identity.public.toText() };
  }

  /** Writes `data` to a file in the directory; returns its name. */
  write(name, data) {
    writeFileSync(this.path(name), data);
    return name;
  }

  read(name) {
    return readFileSync(this.path(name));
  }
}

/** A ring "mail" made by the command: an admin, a key holder, maintained. */
function cliRing() {
  const cli = new Cli();
  const admin = cli.identity('admin');
  const svc = cli.identity('svc');
  cli.run(['ring', 'create', 'mail', '--admin', admin.file]);
  cli.run(['member', 'add', 'mail', '--as', admin.file, '--role', 'service', '--identity', svc.pub]);
  cli.run(['maintain', 'mail', '--as', svc.file]);
  return { cli, admin, svc };
}

/** The command's ring as a snapshot, imported into a JS Host on a MemoryStore. */
function jsCopy(cli, options = {}) {
  const file = `snap-${Math.random().toString(36).slice(2)}.dkmsnap`;
  cli.run(['ring', 'export', 'mail', '--out', file]);
  const host = new dkm.Host(new dkm.MemoryStore(), options);
  assert.equal(host.importSnapshot(new Uint8Array(cli.read(file))), 'mail');
  return host;
}

describe('the dkm command and the package', () => {
  test('a ring made by the command: JS seals, the command unseals (binary and armored)', () => {
    const { cli, svc } = cliRing();
    const host = jsCopy(cli);
    const me = svc.identity;
    cli.write('from-js.bin', host.seal('mail', 'sealed in JS', { as: me, context: 'acct:7' }));
    assert.equal(cli.run(['unseal', 'mail', '--as', svc.file, '--context', 'acct:7', '--in', 'from-js.bin']).text, 'sealed in JS');
    cli.write('from-js.txt', host.sealArmored('mail', 'armored in JS ✓', { as: me, context: 'compte:é' }));
    assert.equal(cli.run(['unseal', 'mail', '--as', svc.file, '--context', 'compte:é', '--in', 'from-js.txt']).text, 'armored in JS ✓');
    // Binary plaintext crosses byte for byte; the output file holds it.
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
    cli.write('bytes.bin', host.seal('mail', bytes, { as: me }));
    cli.run(['unseal', 'mail', '--as', svc.file, '--in', 'bytes.bin', '--out', 'bytes.out']);
    assert.ok(bytesEqual(cli.read('bytes.out'), bytes));
    // A wrong context: Tampered in the command.
    const p = cli.run(['unseal', 'mail', '--as', svc.file, '--context', 'acct:1', '--in', 'from-js.bin'], { check: false });
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /Tampered/);
    assert.ok(!p.stderr.includes('sealed in JS'));
    // The key holder only: the command refuses the admin.
    const q = cli.run(['unseal', 'mail', '--as', cli.path('admin.id'), '--context', 'acct:7', '--in', 'from-js.bin'], { check: false });
    assert.notEqual(q.status, 0);
    assert.match(q.stderr, /NotAMember/);
  });

  test('the command seals, JS unseals (binary and armored); a wrong context is Tampered in JS', () => {
    const { cli, svc } = cliRing();
    const sealed = cli.run(['seal', 'mail', '--as', svc.file, '--context', 'acct:9'], { stdin: 'sealed by the command' }).stdout;
    const armored = cli.run(['seal', 'mail', '--as', svc.file, '--armor'], { stdin: Buffer.from([0, 1, 2, 255]) }).text;
    assert.ok(armored.startsWith('dkm1:'));
    const host = jsCopy(cli);
    const u = host.unseal('mail', new Uint8Array(sealed), { as: svc.identity, context: 'acct:9' });
    assert.equal(u.text, 'sealed by the command');
    assert.equal(u.origin, 'key-holder');
    assert.deepEqual([...host.unseal('mail', armored, { as: svc.identity }).plaintext], [0, 1, 2, 255]);
    assert.deepEqual([...host.unseal('mail', armored.trim(), { as: svc.identity }).plaintext], [0, 1, 2, 255]);
    throwsDkm(() => host.unseal('mail', new Uint8Array(sealed), { as: svc.identity, context: 'acct:10' }), 'Tampered');
    // On an AsyncHost too.
    return (async () => {
      const ah = new dkm.AsyncHost(new dkm.MapStorage());
      assert.equal(await ah.importSnapshot(host.exportSnapshot('mail')), 'mail');
      assert.equal((await ah.unseal('mail', new Uint8Array(sealed), { as: svc.identity, context: 'acct:9' })).text, 'sealed by the command');
    })();
  });

  test('seal-only: the command\'s public part seals in JS; the command unseals, or refuses with --key-holders-only', () => {
    const { cli, svc } = cliRing();
    cli.run(['ring', 'export-public', 'mail', '--out', 'mail.pub']);
    const part = new dkm.RingPublic(new Uint8Array(cli.read('mail.pub')));
    assert.equal(part.name, 'mail');
    assert.equal(part.ringId, cli.json(['ring', 'show', 'mail']).id);
    cli.write('so.bin', part.seal('from a browser', 'acct:11'));
    cli.write('so.txt', part.sealArmored('armored from a browser', 'acct:12'));
    const viaHost = new dkm.Host(new dkm.MemoryStore());
    cli.write('so2.bin', viaHost.sealTo(part, 'via a host', { context: 'acct:13' }));
    assert.equal(cli.run(['unseal', 'mail', '--as', svc.file, '--context', 'acct:11', '--in', 'so.bin']).text, 'from a browser');
    assert.equal(cli.run(['unseal', 'mail', '--as', svc.file, '--context', 'acct:12', '--in', 'so.txt']).text, 'armored from a browser');
    assert.equal(cli.run(['unseal', 'mail', '--as', svc.file, '--context', 'acct:13', '--in', 'so2.bin']).text, 'via a host');
    const p = cli.run(['unseal', 'mail', '--as', svc.file, '--context', 'acct:11', '--key-holders-only', '--in', 'so.bin'], { check: false });
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /InvalidInput/);
    // Through the pin the command's pin book holds (the ring's pin file, hex).
    const [pin] = jsCopy(cli).pins.pins();
    assert.equal(new dkm.RingPublic(new Uint8Array(cli.read('mail.pub')), pin).ringId, part.ringId);
  });

  test('seal-only the other way: JS\'s public part, `dkm seal-to`, JS unseals (origin seal-only)', () => {
    const { cli, svc } = cliRing();
    const host = jsCopy(cli);
    cli.write('js.pub', host.exportPublic('mail'));
    const sealed = cli.run(['seal-to', 'js.pub', '--context', 'k'], { stdin: 'sealed to the public part' }).stdout;
    const u = host.unseal('mail', new Uint8Array(sealed), { as: svc.identity, context: 'k' });
    assert.equal(u.text, 'sealed to the public part');
    assert.equal(u.origin, 'seal-only');
    throwsDkm(() => host.unseal('mail', new Uint8Array(sealed), { as: svc.identity, context: 'k', acceptSealOnly: false }), 'InvalidInput');
    const armored = cli.run(['seal-to', 'js.pub', '--armor'], { stdin: 'armored' }).text;
    assert.equal(host.unseal('mail', armored, { as: svc.identity }).text, 'armored');
  });

  test('the views are the same JSON as the command\'s --json', () => {
    const { cli } = cliRing();
    const now = Date.now() + HOUR;
    const host = jsCopy(cli, { clock: now });
    assert.deepEqual(host.ringInfo('mail'), cli.json(['ring', 'show', 'mail'], { now }));
    assert.deepEqual(host.keys('mail'), cli.json(['keys', 'mail'], { now }));
    assert.deepEqual(host.requests('mail'), cli.json(['requests', 'mail'], { now }));
    assert.deepEqual(host.auditVerify('mail'), cli.json(['audit', 'verify', 'mail'], { now }));
  });

  test('a ring made in JS is imported by the command, which seals, unseals and verifies it', () => {
    const cli = new Cli();
    const admin = cli.identity('admin');
    const svc = cli.identity('svc');
    const host = new dkm.Host(new dkm.MemoryStore());
    host.createRing('tokens', { as: admin.identity, policy: { intervalSecs: 3600 } });
    host.addMember('tokens', 'service', svc.pub, { as: admin.identity });
    host.rollEpoch('tokens', { as: svc.identity });
    const fromJs = host.sealArmored('tokens', 'oauth refresh token', { as: svc.identity, context: 'user:1' });
    cli.write('tokens.snap', host.exportSnapshot('tokens'));
    assert.match(cli.run(['ring', 'import', 'tokens.snap']).text + cli.run(['ring', 'show', 'tokens']).text, /tokens/);
    cli.write('from-js.txt', fromJs);
    assert.equal(cli.run(['unseal', 'tokens', '--as', svc.file, '--context', 'user:1', '--in', 'from-js.txt']).text, 'oauth refresh token');
    const sealed = cli.run(['seal', 'tokens', '--as', svc.file, '--armor'], { stdin: 'from the command' }).text;
    assert.equal(host.unseal('tokens', sealed, { as: svc.identity }).text, 'from the command');
    cli.run(['audit', 'verify', 'tokens']);
    const shown = cli.json(['ring', 'show', 'tokens']);
    assert.equal(shown.policy.interval_secs, 3600);
    assert.equal(shown.id, host.ringInfo('tokens').id);
    assert.equal(cli.json(['keys', 'tokens']).epochs.length, host.keys('tokens').epochs.length);
  });

  test('governance in JS on the command\'s ring, back to the command through a snapshot', () => {
    const { cli, admin, svc } = cliRing();
    const svc2 = cli.identity('svc2');
    const host = jsCopy(cli);
    host.addMember('mail', 'service', svc2.identity.public, { as: admin.identity });
    host.maintain('mail', { as: svc.identity });
    cli.write('back.snap', host.exportSnapshot('mail'));
    // Another store, the same pin book: the newer ring is accepted.
    cli.run(['ring', 'import', 'back.snap'], { store: 'store2' });
    const shown = cli.json(['ring', 'show', 'mail'], { store: 'store2' });
    assert.ok(shown.members.some((m) => m.id === svc2.identity.id && m.role === 'service'));
    cli.write('for-svc2.bin', host.seal('mail', 'for the new key holder', { as: svc.identity }));
    assert.equal(
      cli.run(['unseal', 'mail', '--as', svc2.file, '--in', 'for-svc2.bin'], { store: 'store2' }).text,
      'for the new key holder',
    );
    // The original store still has the older ring: the pin book now refuses it (a rollback).
    const p = cli.run(['ring', 'show', 'mail'], { check: false });
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /Rollback/);
  });

  test('elevated access: a grant issued by the command opens in JS, and one issued in JS opens in the command', () => {
    const { cli, admin, svc } = cliRing();
    const ops = cli.identity('ops');
    const eng = cli.identity('eng');
    cli.run(['member', 'add', 'mail', '--as', admin.file, '--role', 'approver', '--identity', ops.pub]);
    cli.run(['maintain', 'mail', '--as', svc.file]);
    cli.run(['policy', 'approvals', 'mail', '--as', admin.file, '--level', `ops:1:${ops.pub}`]);
    cli.run(['maintain', 'mail', '--as', svc.file]);
    // Past the approvers' cool-off (24 h): the command's clock and JS's, both set.
    const later = Math.floor((Date.now() + 25 * HOUR) / 1000) * 1000;
    const since = rfc3339(Date.now() - HOUR);
    cli.write('kept.bin', cli.run(['seal', 'mail', '--as', svc.file, '--context', 'g'], { stdin: 'kept secret', now: later }).stdout);
    const request = cli.last(['access', 'request', 'mail', '--as', eng.file, '--reason', 'incident', '--duration', '1h', '--since', since], { now: later });
    assert.match(request, /^[0-9a-f]{64}$/);
    cli.run(['approve', 'mail', request, '--as', ops.file, '--level', 'ops'], { now: later });
    const grant = cli.last(['access', 'grant', 'mail', request, '--as', svc.file], { now: later });
    assert.match(grant, /^[0-9a-f]{32}$/);
    // JS: the grant opens inside its window only.
    const clock = { t: later };
    const host = jsCopy(cli, { clock: () => clock.t });
    const view = host.requests('mail').find((r) => r.id === request);
    assert.equal(view.state, 'granted');
    const kept = new Uint8Array(cli.read('kept.bin'));
    assert.equal(host.unsealWithGrant('mail', grant, kept, { as: eng.identity, context: 'g' }).text, 'kept secret');
    clock.t = later + 2 * HOUR;
    throwsDkm(() => host.unsealWithGrant('mail', grant, kept, { as: eng.identity, context: 'g' }), 'GrantExpired');
    clock.t = later + 60_000;
    // The other way: requested, approved and granted in JS; the command opens with it.
    const req2 = host.requestAccess('mail', 'second look', 1800, { as: eng.identity, since: Date.now() - HOUR });
    host.approve('mail', req2, 'ops', { as: ops.identity });
    const g2 = host.grant('mail', req2, { as: svc.identity });
    cli.write('granted.snap', host.exportSnapshot('mail'));
    cli.run(['ring', 'import', 'granted.snap'], { store: 'store2' });
    const out = cli.run(['unseal', 'mail', '--as', eng.file, '--grant', g2.id, '--context', 'g', '--in', 'kept.bin'], {
      store: 'store2',
      now: later + 120_000,
    });
    assert.equal(out.text, 'kept secret');
    const states = cli.json(['requests', 'mail'], { store: 'store2', now: later + 120_000 }).map((r) => [r.id, r.state]);
    assert.deepEqual(states, [
      [request, 'granted'],
      [req2, 'granted'],
    ]);
    cli.run(['audit', 'verify', 'mail'], { store: 'store2' });
  });
});

describe('identity files', () => {
  test('a file written by the command reads in JS, and JS\'s text reads in the command', () => {
    const cli = new Cli();
    const made = cli.identity('made by the command');
    const text = readFileSync(made.file, 'utf8');
    assert.equal(dkm.Identity.fromText(enc.encode(text)).id, made.identity.id);
    const js = dkm.Identity.generate();
    writeFileSync(cli.path('js.id'), js.toText('made in JS'), { mode: 0o600 });
    assert.equal(cli.last(['identity', 'show', cli.path('js.id')]), js.public.toText());
  });
});
