// The demo's server (Node): serves the page (/demo/*) and the package (/pkg/*), and holds one
// ring, "mail", in memory, with its admin, its key holder (a "service" identity) and a
// requester. Its ring API:
//
//   GET  /api/info             {ring, ringId, location}
//   GET  /api/public           the ring's public part (bytes): what a page seals to (seal-only)
//   POST /api/sealed           body: a sealed secret (bytes or dkm1: text); the key holder opens
//                              it and answers {origin, length, sha256}, never the plaintext
//   POST /api/enroll           body: an approver's public identity (dkmpub1...); the admin adds
//                              it as "approver" and sets the approval level "ops" (quorum 1)
//   POST /api/request          {reason?, durationSecs?}: the requester logs an access request
//   POST /api/grant            {request}: the key holder grants an approved request
//   POST /api/apply            {request}: the admin signs an approved governance change
//   GET  /api/requests         the ring's requests (RequestView[])
//   GET  /api/ring             the ring's RingInfo
//   GET  /api/audit            {report: AuditReport, actions: [{seq, action, actor, request}]}
//   POST /api/storage/read     {names} -> a Snapshot (ring bytes as base64)
//   POST /api/storage/write    a WriteSet (ring bytes as base64) -> {ok}: compare-and-swap
//
// The last two are an AsyncStorage over HTTP: the page runs an AsyncHost on them and signs
// approvals in the browser. They are the same streams the server's own Host works on (one
// SharedStore: a SyncStore for the Host, snapshots and write sets for HTTP). A demo: nothing
// here authenticates a caller. What a stranger can write is still checked (ring signatures,
// request and audit chains) by every host that reads it, but a real server authenticates its
// callers and limits what they may write.
//
// Run: node demo/server.mjs [--port N] [--host 127.0.0.1], then open http://HOST:PORT/demo/
import { createServer } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DkmError, Host, Identity, PublicIdentity } from '../pkg/node.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const WASM_DIR = resolve(HERE, '..');
const RING = 'mail';
const MAX_BODY = 1 << 20;
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/**
 * Rings, request logs and audit chains in a Map, seen two ways: as a SyncStore (the server's
 * Host) and as snapshots and write sets (the HTTP AsyncStorage). One write = one check of
 * every expectation, then all of it, or nothing.
 */
export class SharedStore {
  #rings = new Map();
  #serial = 0;

  constructor(location) {
    this.where = location;
  }

  #get(name) {
    return this.#rings.get(name) ?? { ring: null, audit: [], requests: [] };
  }

  // SyncStore
  ring(name) {
    return this.#get(name).ring;
  }
  lineCount(name, stream) {
    return this.#get(name)[stream].length;
  }
  lastLine(name, stream) {
    return this.#get(name)[stream].at(-1) ?? null;
  }
  linesFrom(name, stream, from) {
    return this.#get(name)[stream].slice(from);
  }
  commit(name, commit) {
    return this.write([{ name, ...commit }]);
  }
  names() {
    return [...this.#rings.entries()].filter(([, r]) => r.ring !== null).map(([n]) => n);
  }
  location() {
    return this.where;
  }

  // Snapshots and write sets (what AsyncStorage.read and write do, here synchronously)
  read(names) {
    const rings = {};
    for (const name of names) {
      const r = this.#get(name);
      rings[name] = { ring: r.ring && { bytes: r.ring.bytes.slice(), token: r.ring.token }, audit: [...r.audit], requests: [...r.requests] };
    }
    return { location: this.where, rings };
  }

  write(writeSet) {
    for (const w of writeSet) {
      const r = this.#get(w.name);
      if (w.ring && (r.ring?.token ?? null) !== w.ring.expectedToken) return false;
      for (const a of w.appends) if (r[a.stream].length !== a.expectedCount) return false;
      if (w.moveTo !== null && w.moveTo !== undefined && this.#get(w.moveTo).ring !== null) return false;
    }
    for (const w of writeSet) {
      const r = this.#get(w.name);
      const next = {
        ring: w.ring ? { bytes: Uint8Array.from(w.ring.bytes), token: `t${++this.#serial}` } : r.ring,
        audit: [...r.audit],
        requests: [...r.requests],
      };
      for (const a of w.appends) next[a.stream].push(...a.lines);
      if (w.moveTo !== null && w.moveTo !== undefined) {
        this.#rings.delete(w.name);
        this.#rings.set(w.moveTo, next);
      } else {
        this.#rings.set(w.name, next);
      }
    }
    return true;
  }
}

const STREAMS = new Set(['audit', 'requests']);

function b64(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function bytesOf(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new BadRequest('ring bytes must be base64');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

class BadRequest extends Error {}

/** A route's answer that is not JSON. */
class Raw {
  constructor(bytes, type) {
    this.bytes = bytes;
    this.type = type;
  }
}

function stringList(x, what) {
  if (!Array.isArray(x) || x.some((l) => typeof l !== 'string')) throw new BadRequest(`${what} must be an array of strings`);
  return x;
}

function namesArg(body) {
  const names = body?.names;
  if (!Array.isArray(names) || names.length === 0 || names.length > 8 || names.some((n) => typeof n !== 'string' || !NAME.test(n))) {
    throw new BadRequest('names: 1 to 8 ring names');
  }
  return names;
}

/** A write set from its JSON form (bytes as base64), checked for shape only. */
function writeSetArg(body) {
  if (!Array.isArray(body) || body.length === 0 || body.length > 8) throw new BadRequest('a write set is an array of 1 to 8 writes');
  return body.map((w) => {
    if (w === null || typeof w !== 'object' || typeof w.name !== 'string' || !NAME.test(w.name)) throw new BadRequest('a write names its ring');
    const ring =
      w.ring === null || w.ring === undefined
        ? null
        : {
            expectedToken: w.ring.expectedToken === null ? null : String(w.ring.expectedToken),
            bytes: bytesOf(w.ring.bytes),
          };
    if (!Array.isArray(w.appends)) throw new BadRequest('appends must be an array');
    const appends = w.appends.map((a) => {
      if (a === null || typeof a !== 'object' || !STREAMS.has(a.stream) || !Number.isInteger(a.expectedCount) || a.expectedCount < 0) {
        throw new BadRequest('an append is {stream, expectedCount, lines}');
      }
      return { stream: a.stream, expectedCount: a.expectedCount, lines: stringList(a.lines, 'lines') };
    });
    const moveTo = w.moveTo === null || w.moveTo === undefined ? null : String(w.moveTo);
    if (moveTo !== null && !NAME.test(moveTo)) throw new BadRequest('moveTo must be a ring name');
    return { name: w.name, ring, appends, moveTo };
  });
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

/** The ring and its parties, made at start. */
function makeRing(location, log) {
  const store = new SharedStore(location);
  const host = new Host(store);
  const admin = Identity.generate();
  const keyHolder = Identity.generate();
  const requester = Identity.generate();
  // No approver cool-off: a demo's approver approves right after being enrolled (the default
  // makes a new approver wait 24 h before their approvals count).
  host.createRing(RING, { as: admin, policy: { approverCooloffSecs: 0, intervalSecs: 3600 } });
  host.addMember(RING, 'service', keyHolder.public, { as: admin });
  host.maintain(RING, { as: keyHolder });
  log(`ring "${RING}" ${host.ringInfo(RING).id}: admin ${admin.id}, key holder ${keyHolder.id}, requester ${requester.id}`);
  return { store, host, admin, keyHolder, requester };
}

/**
 * Starts the demo server; resolves to {url, close()}. `statics` adds URL prefixes served from
 * folders (the browser checks use it).
 */
export async function startServer({ host: bindHost = '127.0.0.1', port = 0, statics = {}, log = () => {} } = {}) {
  const roots = { '/pkg/': join(WASM_DIR, 'pkg'), '/demo/': HERE, ...statics };
  const instance = randomUUID();
  let location = null;
  let dkm = null;

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => reply(res, 500, { error: String(e?.message ?? e) }));
  });

  function reply(res, status, body, type = 'application/json') {
    const data = type === 'application/json' ? JSON.stringify(body) : body;
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(data);
  }

  async function body(req) {
    const chunks = [];
    let n = 0;
    for await (const c of req) {
      n += c.length;
      if (n > MAX_BODY) throw new BadRequest('body too large');
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }

  async function json(req) {
    const b = await body(req);
    if (b.length === 0) return {};
    try {
      return JSON.parse(b.toString('utf8'));
    } catch {
      throw new BadRequest('the body is not JSON');
    }
  }

  async function serveStatic(res, prefix, root, path) {
    let rel;
    try {
      rel = decodeURIComponent(path.slice(prefix.length)) || 'index.html';
    } catch {
      return reply(res, 400, { error: 'bad path' });
    }
    const file = resolve(root, rel);
    if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return reply(res, 403, { error: 'outside' });
    try {
      const s = await stat(file);
      if (!s.isFile()) return reply(res, 404, { error: 'not found' });
      reply(res, 200, await readFile(file), TYPES[extname(file)] ?? 'application/octet-stream');
    } catch {
      reply(res, 404, { error: 'not found' });
    }
  }

  function ensureFresh() {
    // The key holder keeps the ring fresh (a no-op when nothing is due).
    dkm.host.maintain(RING, { as: dkm.keyHolder });
  }

  const routes = {
    'GET /api/info': async () => ({ ring: RING, ringId: dkm.host.ringInfo(RING).id, location }),
    'GET /api/public': async () => {
      ensureFresh();
      return new Raw(dkm.host.exportPublic(RING), 'application/octet-stream');
    },
    'POST /api/sealed': async (req) => {
      const sealed = new Uint8Array(await body(req));
      if (sealed.length === 0) throw new BadRequest('post the sealed secret');
      const opened = dkm.host.unseal(RING, sealed, { as: dkm.keyHolder });
      try {
        const plain = opened.plaintext;
        const answer = { origin: opened.origin, length: plain.length, sha256: createHash('sha256').update(plain).digest('hex') };
        plain.fill(0);
        log(`unsealed a secret: origin ${answer.origin}, ${answer.length} bytes`);
        return answer;
      } finally {
        opened.free();
      }
    },
    'POST /api/enroll': async (req) => {
      const text = (await body(req)).toString('utf8').trim();
      const approver = PublicIdentity.fromText(text);
      try {
        const id = approver.id;
        const info = dkm.host.ringInfo(RING);
        const member = info.members.find((m) => m.id === id);
        if (member) {
          if (member.role !== 'approver') throw new BadRequest(`already a member as ${member.role}`);
          return { enrolled: true, already: true, id, levels: info.policy.levels };
        }
        const added = dkm.host.addMember(RING, 'approver', approver, { as: dkm.admin });
        if (added.outcome === 'requested') {
          // The ring has approval levels: adding a member is a change an approver approves
          // first (then POST /api/apply).
          return { enrolled: false, id, outcome: added, note: 'an "ops" approver approves this change, then POST /api/apply {request}' };
        }
        const approvers = dkm.host
          .ringInfo(RING)
          .members.filter((m) => m.role === 'approver')
          .map((m) => m.public);
        const levels = dkm.host.setApprovalLevels(RING, [{ name: 'ops', quorum: 1, approvers }], { as: dkm.admin });
        if (levels.outcome === 'requested') {
          return { enrolled: true, id, levelsOutcome: levels, note: 'the level change is a request: approve it, then POST /api/apply {request}' };
        }
        // The key holder carries the changes out (a pending ring refuses to seal).
        dkm.host.maintain(RING, { as: dkm.keyHolder });
        log(`enrolled approver ${id} at level "ops"`);
        return { enrolled: true, id, levels: dkm.host.ringInfo(RING).policy.levels };
      } finally {
        approver.free();
      }
    },
    'POST /api/request': async (req) => {
      const b = await json(req);
      const reason = typeof b.reason === 'string' && b.reason ? b.reason : 'read the mail archive for an incident';
      const duration = Number.isInteger(b.durationSecs) ? b.durationSecs : 3600;
      const id = dkm.host.requestAccess(RING, reason, duration, { as: dkm.requester });
      log(`logged request ${id}`);
      return { id, requester: dkm.requester.id };
    },
    'POST /api/grant': async (req) => {
      const { request } = await json(req);
      if (typeof request !== 'string') throw new BadRequest('{request}');
      const g = dkm.host.grant(RING, request, { as: dkm.keyHolder });
      return { id: g.id, request: g.request, requester: g.requester, not_before: g.not_before, not_after: g.not_after };
    },
    'POST /api/apply': async (req) => {
      const { request } = await json(req);
      if (typeof request !== 'string') throw new BadRequest('{request}');
      const version = dkm.host.apply(RING, request, { as: dkm.admin });
      dkm.host.maintain(RING, { as: dkm.keyHolder });
      return { version };
    },
    'GET /api/requests': async () => dkm.host.requests(RING),
    'GET /api/ring': async () => dkm.host.ringInfo(RING),
    'GET /api/audit': async () => ({
      report: dkm.host.auditVerify(RING),
      actions: dkm.host.auditRecords(RING).map((r) => ({ seq: r.seq, action: r.action, actor: r.actor ?? null, request: r.request ?? null })),
    }),
    'POST /api/storage/read': async (req) => {
      const snap = dkm.store.read(namesArg(await json(req)));
      for (const r of Object.values(snap.rings)) if (r.ring) r.ring.bytes = b64(r.ring.bytes);
      return snap;
    },
    'POST /api/storage/write': async (req) => ({ ok: dkm.store.write(writeSetArg(await json(req))) }),
  };

  async function handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if (req.method === 'GET' && (path === '/' || path === '/demo')) {
      res.writeHead(302, { location: '/demo/' });
      return res.end();
    }
    if (req.method === 'GET' && path === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    const route = routes[`${req.method} ${path}`];
    if (route) {
      try {
        const out = await route(req);
        if (out instanceof Raw) return reply(res, 200, out.bytes, out.type);
        return reply(res, 200, out);
      } catch (e) {
        if (e instanceof DkmError) return reply(res, 422, { error: e.message, kind: e.kind, code: e.code });
        if (e instanceof BadRequest || e instanceof TypeError) return reply(res, 400, { error: e.message });
        throw e;
      }
    }
    if (req.method === 'GET') {
      for (const [prefix, root] of Object.entries(roots)) {
        if (path.startsWith(prefix)) return serveStatic(res, prefix, resolve(root), path);
      }
    }
    reply(res, 404, { error: 'not found' });
  }

  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, bindHost, ok);
  });
  const url = `http://${bindHost}:${server.address().port}`;
  location = `${url}/api/storage#${instance}`;
  dkm = makeRing(location, log);
  return {
    url,
    server,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (flag, fallback) => {
    const i = process.argv.indexOf(flag);
    return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
  };
  const s = await startServer({ host: arg('--host', '127.0.0.1'), port: Number(arg('--port', '8080')), log: (m) => console.log(m) });
  console.log(`dkm demo: ${s.url}/demo/`);
  const stop = () => s.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
