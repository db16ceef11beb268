/* tslint:disable */
/* eslint-disable */

/**
 * A secret identity: signs as an admin or approver, opens keys as a key holder, or asks
 * for elevated access. Its secret stays in wasm memory and is wiped on `free()`.
 */
export class Identity {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Reads an identity's secret text: the text of an identity file (`dkm identity new`,
     * `toText`), or the bare `dkmsec1...` line.
     */
    static fromText(text: string | Uint8Array): Identity;
    /**
     * A new identity from the runtime's secure randomness.
     */
    static generate(): Identity;
    /**
     * The identity file's text under `name` (a comment line, then the secret): keep it
     * secret, as the secret identity it is.
     */
    toText(name: string): string;
    /**
     * The identity's id (hex).
     */
    readonly id: string;
    /**
     * The public identity: what an admin adds as a member.
     */
    readonly public: PublicIdentity;
}

/**
 * A pin book in memory: the pins of the rings a host has verified. Give one to several
 * hosts to share it; `pins()` lists them to keep (IndexedDB, a file) and `add` puts them
 * back.
 */
export class MemoryPins {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Adds a pin kept earlier (bytes or hex text); an older pin than the one held is
     * ignored.
     */
    add(pin: any): void;
    /**
     * An empty pin book.
     */
    constructor();
    /**
     * Every pin held, as bytes.
     */
    pins(): Uint8Array[];
}

/**
 * A store in memory: rings, request logs and audit chains of this page or process only,
 * each write atomic; lost with the object. Rings move in and out with
 * `host.exportSnapshot` and `host.importSnapshot`. Several hosts may share one.
 */
export class MemoryStore {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The names of the rings it holds.
     */
    names(): string[];
    /**
     * An empty memory store.
     */
    constructor();
}

/**
 * A host over a memory store or a synchronous JS store (the package's `Host` wraps it).
 */
export class NativeHost {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * A verb acting as `actor`.
     */
    act(verb: string, actor: Identity, args: Array<any>): any;
    /**
     * A verb that acts as no one.
     */
    call(verb: string, args: Array<any>): any;
    /**
     * The host's time now (milliseconds, as `Date.now()`; whole seconds).
     */
    now(): number;
    /**
     * A host on a memory store.
     */
    static onMemory(store: MemoryStore, pins: MemoryPins, clock: any): NativeHost;
    /**
     * A host on a synchronous JS store object.
     */
    static onObject(store: any, pins: MemoryPins, clock: any): NativeHost;
    /**
     * Hazmat for the package's `unsealAsync`: checks a key holder's secret against its
     * commitment and returns `{key, iv, aad, offset}` for WebCrypto to decrypt
     * `sealed.subarray(offset)` (ciphertext and tag; `body` holds them instead when the
     * secret was armored), or `null` for a seal-only secret (opened with `unseal`).
     */
    openParts(ring: any, actor: Identity, sealed: any, context: any): any;
    /**
     * Hazmat for the package's `sealAsync`: a seal of a `length`-byte plaintext without
     * its bulk AES-GCM, which WebCrypto does: `{prefix, key, iv, aad}`; the sealed secret
     * is `prefix ‖ AES-256-GCM(key, iv, aad, plaintext)`. The key is this message's alone;
     * the caller imports it non-extractable and wipes the array.
     */
    sealParts(ring: any, actor: Identity, length: any, context: any): any;
    /**
     * Seals to a ring's public part at the host's clock (seal-only).
     */
    sealTo(_public: RingPublic, data: any, context: any): Uint8Array;
    /**
     * `seal`, without the argument array (the hot path).
     */
    seal(ring: any, actor: Identity, data: any, context: any): any;
    /**
     * `unseal`, without the argument array (the hot path).
     */
    unseal(ring: any, actor: Identity, sealed: any, context: any, accept_seal_only: any): Unsealed;
}

/**
 * Runs verbs against snapshots of asynchronous storage (the package's `AsyncHost` reads the
 * snapshot, persists the write set with its own compare-and-swap, and retries `Conflict`).
 */
export class NativeSnapshotHost {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Runs a verb acting as `actor` against `snapshot`.
     */
    act(snapshot: any, verb: string, actor: Identity, args: Array<any>): PendingResult;
    /**
     * Runs a verb that acts as no one against `snapshot`.
     */
    call(snapshot: any, verb: string, args: Array<any>): PendingResult;
    /**
     * A snapshot host keeping pins in `pins` (advanced only when a result is confirmed).
     */
    constructor(pins: MemoryPins, clock: any);
}

/**
 * An operation's result, held until the driver persisted its write set.
 */
export class PendingResult {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The write set was persisted: advances the pins and releases the result (once).
     */
    confirm(): any;
    /**
     * What to persist, per ring name, in one transaction: `[{name, ring: {expectedToken,
     * bytes} | null, appends: [{stream, expectedCount, lines}], moveTo}]` (empty: nothing).
     */
    readonly writeSet: any;
}

/**
 * A public identity (`dkmpub1...`): what members, approvers and requesters are known by.
 */
export class PublicIdentity {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Whether `other` (a `PublicIdentity` or its text) is the same public identity; any
     * other value is not.
     */
    equals(other: PublicIdentity | string): boolean;
    /**
     * Parses a public identity's text (`dkmpub1...`).
     */
    static fromText(text: string): PublicIdentity;
    /**
     * Its text, as `String(identity)` gives it.
     */
    toString(): string;
    /**
     * Its text (`dkmpub1...`).
     */
    toText(): string;
    /**
     * Its id (hex).
     */
    readonly id: string;
}

/**
 * A ring's public part, verified: what a browser, a partner or any seal-only party needs to
 * seal secrets to a ring without being able to read them back (`host.exportPublic` makes
 * the bytes).
 */
export class RingPublic {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Loads a ring's public part, verified through `pin` when given (bytes or hex text),
     * else through the pin the part carries (which trusts whoever made the part).
     */
    constructor(data: Uint8Array, pin?: Uint8Array | string);
    /**
     * `seal`, as the text armor (`dkm1:...`).
     */
    sealArmored(data: Uint8Array | string, context?: Uint8Array | string, now?: Date | number): string;
    /**
     * Seals `data` (a `Uint8Array` or a string) to the ring, bound to `context`, at `now`
     * (a `Date` or milliseconds; `Date.now()` when absent). Only key holders can open it,
     * and their unseal reports its origin as `"seal-only"`. `Stale` when the ring's
     * published keys do not cover the time.
     */
    seal(data: Uint8Array | string, context?: Uint8Array | string, now?: Date | number): Uint8Array;
    /**
     * The ring's name.
     */
    readonly name: string;
    /**
     * The ring's id (hex).
     */
    readonly ringId: string;
}

/**
 * An opened secret: its plaintext and where it came from. The plaintext stays in wasm
 * memory until read, and is wiped on `free()`.
 */
export class Unsealed {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * `"key-holder"` (sealed with the interval's key) or `"seal-only"` (sealed by anyone
     * with the ring's public part: its origin is not authenticated).
     */
    readonly origin: string;
    /**
     * The plaintext (a new `Uint8Array` each time: the caller wipes it with `fill(0)`).
     */
    readonly plaintext: Uint8Array;
    /**
     * The plaintext as UTF-8 text (`InvalidInput` when it is not UTF-8).
     */
    readonly text: string;
}

/**
 * The error kinds' names, by code (index 0 is code 1).
 */
export function errorKinds(): string[];

/**
 * Registers the class errors are thrown as: `new cls(message, kind, code)`. The package's
 * entry modules call this once, at load, with their `DkmError`.
 */
export function setErrorClass(cls: Function): void;

/**
 * The interval of time `now` (Unix seconds) in an epoch's schedule.
 */
export function testingKeyIntervalAt(ring_id: any, epoch_no: any, start: any, interval_secs: any, root: any, now: any): number;

/**
 * The minimal cover of intervals `first`..=`last`: `[level, index]` pairs.
 */
export function testingTreeCover(first: any, last: any): Array<any>;

/**
 * The secret of node (`level`, `index`) derived from the epoch root `root`.
 */
export function testingTreeDerive(root: any, level: any, index: any): Uint8Array;

/**
 * The leaf of `interval` derived from a node set (`UnknownKey` when it cannot).
 */
export function testingTreeLeaf(nodes: any, interval: any): Uint8Array;

/**
 * The ranges `[first, last]` of intervals a node set derives.
 */
export function testingTreeRanges(nodes: any): Array<any>;

/**
 * Opens a sealed secret (either suite) with the keys of one epoch given by its root.
 */
export function testingUnsealRaw(ring_id: any, epoch_no: any, start: any, interval_secs: any, root: any, sealed: any, context: any): Uint8Array;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly __wbg_identity_free: (a: number, b: number) => void;
    readonly __wbg_memorypins_free: (a: number, b: number) => void;
    readonly __wbg_memorystore_free: (a: number, b: number) => void;
    readonly __wbg_nativehost_free: (a: number, b: number) => void;
    readonly __wbg_nativesnapshothost_free: (a: number, b: number) => void;
    readonly __wbg_pendingresult_free: (a: number, b: number) => void;
    readonly __wbg_publicidentity_free: (a: number, b: number) => void;
    readonly __wbg_ringpublic_free: (a: number, b: number) => void;
    readonly __wbg_unsealed_free: (a: number, b: number) => void;
    readonly errorKinds: () => [number, number];
    readonly identity_fromText: (a: any) => [number, number, number];
    readonly identity_generate: () => [number, number, number];
    readonly identity_id: (a: number) => [number, number];
    readonly identity_public: (a: number) => number;
    readonly identity_toText: (a: number, b: any) => [number, number, number, number];
    readonly memorypins_add: (a: number, b: any) => [number, number];
    readonly memorypins_new: () => number;
    readonly memorypins_pins: (a: number) => [number, number];
    readonly memorystore_names: (a: number) => [number, number, number, number];
    readonly memorystore_new: () => number;
    readonly nativehost_act: (a: number, b: number, c: number, d: number, e: any) => [number, number, number];
    readonly nativehost_call: (a: number, b: number, c: number, d: any) => [number, number, number];
    readonly nativehost_now: (a: number) => [number, number, number];
    readonly nativehost_onMemory: (a: number, b: number, c: any) => [number, number, number];
    readonly nativehost_onObject: (a: any, b: number, c: any) => [number, number, number];
    readonly nativehost_openParts: (a: number, b: any, c: number, d: any, e: any) => [number, number, number];
    readonly nativehost_seal: (a: number, b: any, c: number, d: any, e: any) => [number, number, number];
    readonly nativehost_sealParts: (a: number, b: any, c: number, d: any, e: any) => [number, number, number];
    readonly nativehost_sealTo: (a: number, b: number, c: any, d: any) => [number, number, number];
    readonly nativehost_unseal: (a: number, b: any, c: number, d: any, e: any, f: any) => [number, number, number];
    readonly nativesnapshothost_act: (a: number, b: any, c: number, d: number, e: number, f: any) => [number, number, number];
    readonly nativesnapshothost_call: (a: number, b: any, c: number, d: number, e: any) => [number, number, number];
    readonly nativesnapshothost_new: (a: number, b: any) => [number, number, number];
    readonly pendingresult_confirm: (a: number) => [number, number, number];
    readonly pendingresult_writeSet: (a: number) => [number, number, number];
    readonly publicidentity_equals: (a: number, b: any) => number;
    readonly publicidentity_fromText: (a: any) => [number, number, number];
    readonly publicidentity_id: (a: number) => [number, number];
    readonly publicidentity_toString: (a: number) => [number, number];
    readonly publicidentity_toText: (a: number) => [number, number];
    readonly ringpublic_name: (a: number) => [number, number];
    readonly ringpublic_new: (a: any, b: number) => [number, number, number];
    readonly ringpublic_ringId: (a: number) => [number, number];
    readonly ringpublic_seal: (a: number, b: any, c: number, d: number) => [number, number, number];
    readonly ringpublic_sealArmored: (a: number, b: any, c: number, d: number) => [number, number, number, number];
    readonly setErrorClass: (a: any) => void;
    readonly testingKeyIntervalAt: (a: any, b: any, c: any, d: any, e: any, f: any) => [number, number, number];
    readonly testingTreeCover: (a: any, b: any) => [number, number, number];
    readonly testingTreeDerive: (a: any, b: any, c: any) => [number, number, number];
    readonly testingTreeLeaf: (a: any, b: any) => [number, number, number];
    readonly testingTreeRanges: (a: any) => [number, number, number];
    readonly testingUnsealRaw: (a: any, b: any, c: any, d: any, e: any, f: any, g: any) => [number, number, number];
    readonly unsealed_origin: (a: number) => [number, number];
    readonly unsealed_plaintext: (a: number) => any;
    readonly unsealed_text: (a: number) => [number, number, number, number];
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __wbindgen_exn_store: (a: number) => void;
    readonly __externref_table_alloc: () => number;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __externref_drop_slice: (a: number, b: number) => void;
    readonly __externref_table_dealloc: (a: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
