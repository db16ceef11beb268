// Interop with the Python binding (`import dkm`): a ring made in Python moves to JS as a
// snapshot; a secret Python sealed opens in JS, and one JS sealed opens in Python, both ways
// armored too. The interpreter is $DKM_PYTHON (a Python with the dkm wheel installed:
// scripts/test-wasm.sh passes target/python/venv's after scripts/test-python.sh built it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { dkm } from './lib.mjs';

const PYTHON = process.env.DKM_PYTHON;

const MAKE = `
import sys, dkm
d = sys.argv[1]
admin, svc = dkm.Identity.generate(), dkm.Identity.generate()
host = dkm.Host(dkm.FileStore(d + "/store"), pins=dkm.MemoryPins())
host.create_ring("py-ring", as_=admin)
host.add_member("py-ring", "service", svc.public, as_=admin)
host.maintain("py-ring", as_=svc)
open(d + "/svc.txt", "w").write(svc.to_text("svc"))
open(d + "/snapshot", "wb").write(host.export_snapshot("py-ring"))
open(d + "/from-py", "wb").write(host.seal("py-ring", b"sealed in Python", b"py", as_=svc))
open(d + "/from-py.txt", "w").write(host.seal_armored("py-ring", b"armored in Python", b"py", as_=svc))
`;

const OPEN = `
import sys, dkm
d = sys.argv[1]
svc = dkm.Identity.from_text(open(d + "/svc.txt").read())
host = dkm.Host(dkm.FileStore(d + "/store"), pins=dkm.MemoryPins())
a = host.unseal("py-ring", open(d + "/from-js", "rb").read(), b"js", as_=svc)
b = host.unseal("py-ring", open(d + "/from-js.txt").read(), b"js", as_=svc)
print(a.plaintext.decode(), "|", b.plaintext.decode(), "|", a.origin)
`;

test('a ring made in Python: secrets cross between Python and JS both ways', { skip: PYTHON ? false : 'DKM_PYTHON is not set (scripts/test-all.sh runs this after the Python surface)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dkm-py-interop-'));
  try {
    execFileSync(PYTHON, ['-c', MAKE, dir]);
    const svc = dkm.Identity.fromText(readFileSync(join(dir, 'svc.txt'), 'utf8'));
    const host = new dkm.Host(new dkm.MemoryStore(), { pins: new dkm.MemoryPins() });
    assert.equal(host.importSnapshot(new Uint8Array(readFileSync(join(dir, 'snapshot')))), 'py-ring');
    assert.equal(host.auditVerify('py-ring').verified, true);

    const fromPy = host.unseal('py-ring', new Uint8Array(readFileSync(join(dir, 'from-py'))), { as: svc, context: 'py' });
    assert.equal(fromPy.text, 'sealed in Python');
    assert.equal(fromPy.origin, 'key-holder');
    const armored = host.unseal('py-ring', readFileSync(join(dir, 'from-py.txt'), 'utf8'), { as: svc, context: 'py' });
    assert.equal(armored.text, 'armored in Python');
    // The wrong context is refused the same way in JS.
    assert.throws(() => host.unseal('py-ring', new Uint8Array(readFileSync(join(dir, 'from-py'))), { as: svc, context: 'js' }), { kind: 'Tampered' });

    writeFileSync(join(dir, 'from-js'), host.seal('py-ring', 'sealed in JS', { as: svc, context: 'js' }));
    writeFileSync(join(dir, 'from-js.txt'), host.sealArmored('py-ring', 'armored in JS', { as: svc, context: 'js' }));
    const out = execFileSync(PYTHON, ['-c', OPEN, dir], { encoding: 'utf8' }).trim();
    assert.equal(out, 'sealed in JS | armored in JS | key-holder');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
