// Type-checked by the build (tsc, no output): the package's declarations describe the API the
// tests exercise, so a declaration that drifts from it fails the build.
import {
  AsyncHost,
  DkmError,
  Host,
  Identity,
  MapStorage,
  MemoryPins,
  MemoryStore,
  RingPublic,
  type ChangeOutcome,
  type KeyListing,
  type SyncStore,
} from '../pkg/index.js';

export async function story(): Promise<void> {
  const admin = Identity.generate();
  const svc = Identity.generate();
  const host = new Host(new MemoryStore(), { pins: new MemoryPins(), clock: () => Date.now() });
  const id: string = host.createRing('mail', { as: admin, policy: { intervalSecs: 3600 } });
  const added: ChangeOutcome = host.addMember('mail', 'service', svc.public, { as: admin });
  host.maintain('mail', { as: svc });
  const sealed: Uint8Array = host.seal('mail', 'hunter2', { as: svc, context: 'account:42' });
  const opened = host.unseal('mail', sealed, { as: svc, context: 'account:42' });
  const text: string = opened.text;
  const origin: string = opened.origin;
  opened.free();
  const keys: KeyListing = host.keys('mail');
  const part = new RingPublic(host.exportPublic('mail'));
  const toRing: Uint8Array = host.sealTo(part, new Uint8Array([1, 2]));
  const armored: string = part.sealArmored('x', 'account:42', Date.now());
  const sealedNow: Uint8Array = part.seal('x');
  const snap: Uint8Array = host.exportSnapshot('mail');

  const remote = new AsyncHost(new MapStorage(), { retries: 4 });
  const name: Promise<string> = remote.importSnapshot(snap);
  const again: Uint8Array = await remote.seal(await name, 'x', { as: svc });
  try {
    host.unseal('mail', again, { as: admin });
  } catch (e) {
    if (e instanceof DkmError) {
      const kind: 'NotAMember' | string = e.kind;
      const code: number = e.code;
      void kind, code;
    }
  }
  const store: SyncStore = {
    ring: () => null,
    lineCount: () => 0,
    lastLine: () => null,
    linesFrom: () => [],
    commit: () => true,
    names: () => [],
    location: () => 'here',
  };
  new Host(store).free();
  void id, added, text, origin, keys, toRing, armored, sealedNow;
}
