// The dkm package for Node: the module is instantiated on import, from the file beside this
// one, so everything is ready to use.
import { readFileSync } from 'node:fs';
import { initSync as wbgInitSync } from './dkm_wasm.js';
import { registerErrors } from './api.js';

export * from './api.js';

wbgInitSync({ module: readFileSync(new URL('./dkm_wasm_bg.wasm', import.meta.url)) });
registerErrors();

/** Already done on import (here for code shared with browsers). */
export function init() {
  return Promise.resolve();
}

/** Already done on import. */
export function initSync() {}
