// The package in a real browser: starts the demo server (demo/server.mjs) on 127.0.0.1,
// launches headless Chromium (Debian's, through playwright-core) with a fresh profile, runs
// browser/checks.html (the core checks; every one must pass), then clicks the demo through
// and checks the outcome on the server. Exits non-zero on any failure; never skips.
//
//   node browser/run.mjs            (from wasm/; CHROMIUM=/path overrides /usr/bin/chromium)
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const DEADLINE_MS = 90_000;

const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
const log = (line) => console.log(line);

class Failure extends Error {}
function fail(message) {
  throw new Failure(message);
}
function expect(cond, message) {
  if (!cond) fail(message);
}

/** Chromium processes started with our profile folder (ours alone: the folder is new). */
function chromiumPids(profile) {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(`--user-data-dir=${profile}`)) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s`)), ms);
    }),
  ]);
}

async function getJson(url, init) {
  const res = await fetch(url, init);
  const body = await res.json();
  if (!res.ok) fail(`${init?.method ?? 'GET'} ${url}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The core checks page: every check must pass. */
async function runChecks(page, base) {
  await page.goto(`${base}/browser/checks.html`);
  await page.waitForFunction(() => window.__results?.done === true, null, { timeout: 40_000 });
  const { results, userAgent } = await page.evaluate(() => window.__results);
  log(`browser: ${userAgent.match(/(Headless)?Chrome\/[\d.]+/)?.[0] ?? userAgent}`);
  log('core checks (browser/checks.html):');
  for (const r of results) log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.detail ? ` — ${r.detail}` : ''} (${r.ms ?? 0} ms)`);
  const failed = results.filter((r) => !r.ok);
  expect(results.length > 0, 'the checks page reported no results');
  return { total: results.length, failed };
}

/** The demo, clicked through; each step is checked in the page and on the server. */
async function runDemo(page, base) {
  const steps = [];
  const step = (name, detail = '') => {
    steps.push(name);
    log(`  ok   ${name}${detail ? ` — ${detail}` : ''}`);
  };
  log('demo (demo/index.html):');
  const ready = async () => {
    await page.waitForSelector('body[data-ready]');
    const state = await page.getAttribute('body', 'data-ready');
    if (state !== '1') fail(`the demo page did not start: ${await page.textContent('#load-status')}`);
  };

  await page.goto(`${base}/demo/`);
  await ready();
  step('page loaded (module initialised, ring info read)');

  // (a) Seal a secret to the ring's public part; the server (key holder) opens it.
  const secret = `attack at dawn ${Date.now()}`;
  await page.fill('#secret', secret);
  await page.click('#seal');
  await page.waitForSelector('#sealed-status[data-origin], #sealed-status.error');
  const sealed = await page.$eval('#sealed-status', (el) => ({ ...el.dataset, text: el.textContent }));
  expect(sealed.origin === 'seal-only', `seal: the server should report origin "seal-only": ${JSON.stringify(sealed)}`);
  const hash = createHash('sha256').update(secret, 'utf8').digest('hex');
  expect(sealed.sha256 === hash && sealed.match === 'true', `seal: the server's SHA-256 ${sealed.sha256} is not the secret's ${hash}`);
  step('sealed in the page (seal-only), opened by the server', `origin ${sealed.origin}, SHA-256 matches`);

  // (b) An approver identity, kept in IndexedDB across a reload.
  expect((await page.textContent('#approver-id')) === '(none yet)', 'a fresh profile should hold no approver identity');
  await page.click('#new-identity');
  await page.waitForFunction(() => /^[0-9a-f]{32}$/.test(document.getElementById('approver-id').textContent));
  const approverId = await page.textContent('#approver-id');
  const approverPublic = await page.textContent('#approver-public');
  expect(approverPublic.startsWith('dkmpub1'), `the public identity shown: ${approverPublic}`);
  step('approver identity created in the page', approverId);
  await page.reload();
  await ready();
  const afterReload = await page.textContent('#approver-id');
  expect(afterReload === approverId, `after a reload the identity should be the same (IndexedDB): ${afterReload} != ${approverId}`);
  expect(await page.isDisabled('#new-identity'), 'after a reload, "create" should be disabled');
  step('identity kept across a reload (IndexedDB)', 'same id');

  await page.click('#enroll');
  await page.waitForSelector('#enroll-status[data-enrolled], #enroll-status.error');
  const enrolled = await page.$eval('#enroll-status', (el) => ({ enrolled: el.dataset.enrolled, text: el.textContent }));
  expect(enrolled.enrolled === 'true', `enroll: ${enrolled.text}`);
  const info = await getJson(`${base}/api/ring`);
  const member = info.members.find((m) => m.id === approverId);
  expect(member?.role === 'approver', `the server's ring should list ${approverId} as an approver: ${JSON.stringify(info.members)}`);
  expect(member.public === approverPublic, 'the enrolled public identity is the page\'s');
  const ops = info.policy.levels.find((l) => l.name === 'ops');
  expect(ops?.quorum === 1 && ops.approvers.includes(approverId), `level "ops" (quorum 1) with the approver: ${JSON.stringify(info.policy.levels)}`);
  expect(info.pending === false, 'the key holder carried the changes out');
  step('enrolled: approver at level "ops" (quorum 1)', `governance version ${info.governance_version}`);

  // (c) The server logs a request; the page lists it and approves it.
  const { id: request } = await getJson(`${base}/api/request`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'browser test: read the archive', durationSecs: 900 }),
  });
  expect(/^[0-9a-f]{64}$/.test(request), `a request id: ${request}`);
  step('server logged an access request', `${request.slice(0, 16)}…`);
  await page.click('#refresh');
  const button = `button[data-approve="${request}"]`;
  await page.waitForSelector(button);
  expect((await page.getAttribute(button, 'data-level')) === 'ops', 'the approve button is for level "ops"');
  step('page lists the pending request (AsyncHost over the HTTP storage)');
  // A racing writer: the page's first compare-and-swap write is held back until the server has
  // logged another request (its streams moved on), so that write must be refused ({ok:false})
  // and the page's AsyncHost must read again and write again.
  const writes = [];
  let interloper = null;
  await page.route('**/api/storage/write', async (route) => {
    if (writes.length === 0) {
      interloper = (
        await getJson(`${base}/api/request`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'browser test: a racing request' }),
        })
      ).id;
    }
    const response = await route.fetch();
    const body = await response.json();
    writes.push(body.ok);
    await route.fulfill({ response, json: body });
  });
  await page.click(button);
  await page.waitForSelector(`#request-state[data-request="${request}"], #request-state.error`);
  await page.unroute('**/api/storage/write');
  const shown = await page.$eval('#request-state', (el) => ({ state: el.dataset.state, text: el.textContent }));
  expect(shown.state === 'approved', `the page should show the request approved: ${shown.text}`);
  expect((await page.$(button)) === null, 'an approved request is no longer listed as pending');
  expect(
    JSON.stringify(writes) === '[false,true]',
    `the racing write should be refused once, then the retry stored: writes answered ${JSON.stringify(writes)}`,
  );
  step('approved in the page (signed there, compare-and-swap lost a race, retried, stored)', shown.text);

  const views = await getJson(`${base}/api/requests`);
  const view = views.find((r) => r.id === request);
  expect(view?.state === 'approved', `the server should see the request approved: ${JSON.stringify(view)}`);
  expect(
    JSON.stringify(view.levels) === JSON.stringify([{ approvals: 1, level: 'ops', quorum: 1 }]),
    `approved at level "ops": ${JSON.stringify(view.levels)}`,
  );
  let audit = await getJson(`${base}/api/audit`);
  expect(audit.report.verified === true && audit.report.problem === null, `the audit chain should verify: ${JSON.stringify(audit.report)}`);
  const approval = audit.actions.find((a) => a.action === 'approved' && a.request === request);
  expect(approval?.actor === approverId, `an audit record of the approval by ${approverId}: ${JSON.stringify(audit.actions.slice(-3))}`);
  const other = views.find((r) => r.id === interloper);
  expect(other?.state === 'pending', `the racing request is kept, pending: ${JSON.stringify(other)}`);
  step('server: request approved at "ops", racing request kept, audit chain verifies', `${audit.report.records} records`);

  // The key holder grants it.
  const grant = await getJson(`${base}/api/grant`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ request }),
  });
  const granted = (await getJson(`${base}/api/requests`)).find((r) => r.id === request);
  expect(granted?.state === 'granted', `after the grant: ${JSON.stringify(granted)}`);
  audit = await getJson(`${base}/api/audit`);
  expect(audit.report.verified === true, 'the audit chain verifies after the grant');
  expect(audit.actions.some((a) => a.action === 'grant-issued'), 'an audit record of the grant');
  step('server: key holder granted it, audit chain verifies', `grant ${grant.id.slice(0, 16)}…, ${audit.report.records} records`);
  return steps.length;
}

async function main() {
  let server = null;
  let context = null;
  const profile = mkdtempSync(join(tmpdir(), 'dkm-chromium-'));
  const pageErrors = [];
  const watchdog = setTimeout(() => {
    console.error(`FAIL: the browser run took over ${DEADLINE_MS / 1000} s`);
    for (const pid of chromiumPids(profile)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    process.exit(1);
  }, DEADLINE_MS);
  try {
    let startServer, chromium;
    try {
      ({ startServer } = await import('../demo/server.mjs'));
    } catch (e) {
      fail(`cannot load the demo server or the package (is wasm/pkg built?): ${e.message}`);
    }
    try {
      ({ chromium } = await import('playwright-core'));
    } catch (e) {
      fail(`cannot load playwright-core (npm ci in wasm/): ${e.message}`);
    }
    server = await startServer({ host: '127.0.0.1', port: 0, statics: { '/browser/': HERE } });
    log(`server: ${server.url}`);
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ARGS,
        timeout: 20_000,
      });
    } catch (e) {
      fail(`Chromium (${CHROMIUM}) could not start: ${e.message.split('\n')[0]}`);
    }
    context.setDefaultTimeout(15_000);
    context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(e.message)));
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // A failed load is reported below, with its address.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) pageErrors.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    page.on('requestfailed', (r) => pageErrors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));

    let checks;
    try {
      checks = await runChecks(page, server.url);
    } catch (e) {
      if (e instanceof Failure) throw e;
      fail(`the checks page did not finish: ${e.message.split('\n')[0]}${pageErrors.length ? `; page errors: ${pageErrors.join(' | ')}` : ''}`);
    }
    let steps;
    try {
      steps = await runDemo(page, server.url);
    } catch (e) {
      if (e instanceof Failure) throw e;
      fail(`the demo failed: ${e.message.split('\n')[0]}${pageErrors.length ? `; page errors: ${pageErrors.join(' | ')}` : ''}`);
    }
    if (checks.failed.length > 0) {
      fail(`${checks.failed.length} of ${checks.total} core checks failed: ${checks.failed.map((r) => `${r.name}: ${r.detail}`).join('; ')}`);
    }
    expect(pageErrors.length === 0, `errors in the pages: ${pageErrors.join(' | ')}`);
    log(`PASS: ${checks.total}/${checks.total} core checks, ${steps} demo steps, in ${secs()} s`);
    return 0;
  } catch (e) {
    console.error(`FAIL: ${e instanceof Failure ? e.message : e?.stack ?? e} (after ${secs()} s)`);
    return 1;
  } finally {
    if (context) await withTimeout(context.close(), 10_000, 'closing Chromium').catch((e) => console.error(e.message));
    for (const pid of chromiumPids(profile)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (server) await withTimeout(server.close(), 5_000, 'stopping the server').catch((e) => console.error(e.message));
    rmSync(profile, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
}

process.exitCode = await main();
