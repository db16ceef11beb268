// The demo page: seals to the server's ring (seal-only), keeps an approver identity in
// IndexedDB, and approves requests through an AsyncHost over the server's HTTP storage. The
// ring's keys stay on the server; the approver's key stays in this page.
import { AsyncHost, DkmError, Identity, MemoryPins, RingPublic, init } from '/pkg/index.js';

const $ = (id) => document.getElementById(id);

// ---- small helpers ---------------------------------------------------------------------

function describe(e) {
  if (e instanceof DkmError) return `${e.kind} (${e.code}): ${e.message}`;
  return e?.message ? `${e.name ?? 'Error'}: ${e.message}` : String(e);
}

function show(el, text, ok = true) {
  el.textContent = text;
  el.className = `status ${ok ? 'ok' : 'error'}`;
}

async function api(path, { method = 'GET', body, type } = {}) {
  const headers = type ? { 'content-type': type } : {};
  const res = await fetch(path, { method, body, headers, cache: 'no-store' });
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  const out = isJson ? await res.json() : new Uint8Array(await res.arrayBuffer());
  if (!res.ok) {
    const err = new Error(isJson && out.error ? `${out.kind ? `${out.kind}: ` : ''}${out.error}` : `${path}: HTTP ${res.status}`);
    err.name = 'ServerError';
    throw err;
  }
  return out;
}

function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// ---- IndexedDB: the approver's identity and the pins of verified rings ------------------

const db = new Promise((resolve, reject) => {
  const open = indexedDB.open('dkm-demo', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('kv');
  open.onsuccess = () => resolve(open.result);
  open.onerror = () => reject(open.error);
});

async function kv(mode, op) {
  const d = await db;
  return new Promise((resolve, reject) => {
    const tx = d.transaction('kv', mode);
    const req = op(tx.objectStore('kv'));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}
const kvGet = (key) => kv('readonly', (s) => s.get(key));
const kvPut = (key, value) => kv('readwrite', (s) => s.put(value, key));
const kvDelete = (key) => kv('readwrite', (s) => s.delete(key));

// ---- the server's storage over HTTP: an AsyncStorage ------------------------------------

/** `read(names)` and `write(writeSet)` over the server's API; ring bytes travel as base64. */
class HttpStorage {
  constructor(base) {
    this.base = base;
  }

  async read(names) {
    const snap = await api(`${this.base}/read`, { method: 'POST', type: 'application/json', body: JSON.stringify({ names }) });
    for (const r of Object.values(snap.rings)) if (r.ring) r.ring.bytes = fromBase64(r.ring.bytes);
    return snap;
  }

  async write(writeSet) {
    const body = writeSet.map((w) => ({
      name: w.name,
      ring: w.ring ? { expectedToken: w.ring.expectedToken, bytes: toBase64(w.ring.bytes) } : null,
      appends: w.appends.map((a) => ({ stream: a.stream, expectedCount: a.expectedCount, lines: a.lines })),
      moveTo: w.moveTo ?? null,
    }));
    const { ok } = await api(`${this.base}/write`, { method: 'POST', type: 'application/json', body: JSON.stringify(body) });
    return ok === true; // false: the storage changed meanwhile; the AsyncHost reads again and retries
  }
}

// ---- the page ----------------------------------------------------------------------------

let ring = null; // {ring, ringId, location}
let identity = null;
let pins = null;
let host = null;

async function savePins() {
  await kvPut('pins', pins.pins());
}

function showIdentity() {
  if (identity) {
    const pub = identity.public;
    $('approver-id').textContent = identity.id;
    $('approver-public').textContent = pub.toText();
    pub.free();
  } else {
    $('approver-id').textContent = '(none yet)';
    $('approver-public').textContent = '';
  }
  $('new-identity').disabled = identity !== null;
  $('enroll').disabled = identity === null;
  $('forget-identity').disabled = identity === null;
  for (const b of document.querySelectorAll('button[data-approve]')) b.disabled = identity === null;
}

async function seal() {
  const status = $('sealed-status');
  const secret = $('secret').value;
  delete status.dataset.origin;
  if (!secret) return show(status, 'Type a secret first.', false);
  try {
    const part = new RingPublic(await api('/api/public'), undefined);
    let sealed;
    try {
      if (part.name !== ring.ring || part.ringId !== ring.ringId) throw new Error('the public part is not the ring the server named');
      sealed = part.seal(secret, undefined, undefined);
    } finally {
      part.free();
    }
    const answer = await api('/api/sealed', { method: 'POST', type: 'application/octet-stream', body: sealed });
    const mine = await sha256Hex(new TextEncoder().encode(secret));
    const match = answer.sha256 === mine;
    status.dataset.origin = answer.origin;
    status.dataset.sha256 = answer.sha256;
    status.dataset.match = String(match);
    show(
      status,
      `Sealed (${sealed.length} bytes). The server opened it: origin "${answer.origin}", ${answer.length} bytes, SHA-256 ${match ? 'matches' : 'DIFFERS'}.`,
      match,
    );
  } catch (e) {
    show(status, describe(e), false);
  }
}

async function newIdentity() {
  const status = $('enroll-status');
  try {
    const id = Identity.generate();
    await kvPut('approver', id.toText('dkm demo approver'));
    identity = id;
    showIdentity();
    show(status, 'A new approver identity, kept in this browser.');
  } catch (e) {
    show(status, describe(e), false);
  }
}

async function forgetIdentity() {
  await kvDelete('approver');
  identity?.free();
  identity = null;
  showIdentity();
  show($('enroll-status'), 'Forgotten.');
}

async function enroll() {
  const status = $('enroll-status');
  try {
    const pub = identity.public;
    const text = pub.toText();
    pub.free();
    const out = await api('/api/enroll', { method: 'POST', type: 'text/plain', body: text });
    status.dataset.enrolled = String(out.enrolled);
    if (out.enrolled) {
      const levels = (out.levels ?? []).map((l) => `"${l.name}" (quorum ${l.quorum})`).join(', ');
      show(status, out.already ? `Already enrolled: ${levels}.` : `Enrolled as an approver at ${levels}.`);
    } else {
      show(status, `Requested: ${out.note} (request ${out.outcome?.request}).`, false);
    }
    await refresh();
  } catch (e) {
    show(status, describe(e), false);
  }
}

function levelText(r) {
  return r.levels.map((l) => `${l.level} ${l.approvals}/${l.quorum}`).join(', ') || '(no levels)';
}

function renderRequests(views) {
  const pending = views.filter((r) => r.state === 'pending');
  const box = $('requests');
  box.replaceChildren();
  if (pending.length === 0) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'No pending requests.';
    box.append(p);
    return;
  }
  const table = document.createElement('table');
  table.innerHTML = '<thead><tr><th>request</th><th>what</th><th>reason</th><th>approvals</th><th></th></tr></thead>';
  const tbody = document.createElement('tbody');
  for (const r of pending) {
    const tr = document.createElement('tr');
    tr.dataset.request = r.id;
    const cells = [r.id.slice(0, 16) + '…', r.description, r.reason, levelText(r)];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    const td = document.createElement('td');
    const level = r.levels.find((l) => l.approvals < l.quorum);
    if (level) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = `Approve (${level.level})`;
      b.dataset.approve = r.id;
      b.dataset.level = level.level;
      b.disabled = identity === null;
      b.addEventListener('click', () => approve(r.id, level.level));
      td.append(b);
    }
    tr.append(td);
    tbody.append(tr);
  }
  table.append(tbody);
  box.append(table);
}

async function refresh() {
  try {
    const views = await host.requests(ring.ring);
    await savePins();
    renderRequests(views);
    $('requests').dataset.loaded = String(Date.now());
    return views;
  } catch (e) {
    show($('request-state'), describe(e), false);
    return [];
  }
}

async function approve(id, level) {
  const status = $('request-state');
  for (const b of document.querySelectorAll('button[data-approve]')) b.disabled = true;
  try {
    // Signed here, with the identity kept in this page; written with the storage's CAS.
    await host.approve(ring.ring, id, level, { as: identity });
    await savePins();
    const r = (await refresh()).find((v) => v.id === id);
    status.dataset.request = id;
    status.dataset.state = r?.state ?? 'unknown';
    show(status, `Request ${id.slice(0, 16)}…: ${r?.state ?? 'not found'} (${r ? levelText(r) : ''}).`, r !== undefined);
  } catch (e) {
    show(status, describe(e), false);
    showIdentity();
  }
}

async function main() {
  const status = $('load-status');
  try {
    await init();
    ring = await api('/api/info');
    $('ring-name').textContent = ring.ring;
    $('ring-id').textContent = ring.ringId;
    pins = new MemoryPins();
    for (const p of (await kvGet('pins')) ?? []) {
      try {
        pins.add(p);
      } catch {
        // a pin this build cannot read: dropped
      }
    }
    host = new AsyncHost(new HttpStorage('/api/storage'), { pins });
    const text = await kvGet('approver');
    identity = text ? Identity.fromText(text) : null;
    showIdentity();
    $('seal').disabled = false;
    $('refresh').disabled = false;
    $('seal').addEventListener('click', seal);
    $('secret').addEventListener('keydown', (e) => e.key === 'Enter' && seal());
    $('new-identity').addEventListener('click', newIdentity);
    $('forget-identity').addEventListener('click', forgetIdentity);
    $('enroll').addEventListener('click', enroll);
    $('refresh').addEventListener('click', refresh);
    await refresh();
    show(status, 'Ready.');
    document.body.dataset.ready = '1';
  } catch (e) {
    show(status, `Could not start: ${describe(e)}`, false);
    document.body.dataset.ready = 'error';
  }
}

main();
