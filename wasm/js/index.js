// The dkm package for browsers, bundlers, Deno and edge runtimes. Instantiate the module once
// before use: `await init()` (fetches dkm_wasm_bg.wasm beside this file), or
// `initSync({ module })` with a compiled `WebAssembly.Module` (a Worker importing the .wasm).
import wbgInit, { initSync as wbgInitSync } from './dkm_wasm.js';
import { registerErrors } from './api.js';

export * from './api.js';

let ready = null;

/** Instantiates the module (once); `input` as wasm-bindgen's `init`: a URL, a Response, bytes or a Module. */
export function init(input) {
  ready ??= wbgInit(input === undefined ? undefined : { module_or_path: input }).then(() => registerErrors());
  return ready;
}

/** Instantiates the module synchronously from a `WebAssembly.Module` or its bytes. */
export function initSync({ module }) {
  if (ready === null) {
    wbgInitSync({ module });
    registerErrors();
    ready = Promise.resolve();
  }
}
