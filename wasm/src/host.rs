//! The host's verbs for JS: one dispatcher converts a verb's JS arguments and calls the
//! host's verb of the same name, on a host over a memory or JS store (`NativeHost`) or on a
//! snapshot of asynchronous storage (`NativeSnapshotHost`, whose result waits in a
//! `PendingResult` until the driver persisted the write set). The package's `Host` and
//! `AsyncHost` classes give each verb its camelCase method.

use std::cell::Cell;
use std::sync::Arc;

use dkm_core::access::RequestId;
use dkm_core::ring::Role;
use dkm_core::{ErrorKind, GrantId, Policy};
use dkm_host::{
    Clock, ForeignAdapter, Host as HostOf, LevelSpec, Pending, SealOnly, SnapshotHost, Store,
    access_scope, text,
};
use js_sys::{Array, Date, Function, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::convert::{
    self, JsResult, absent, data, get, integer, invalid, js, opt_data, public_data, time,
    type_error,
};
use crate::entropy;
use crate::identity::{Identity, MemoryPins, RingPublic, Unsealed};
use crate::store::{JsStore, MemoryStore, snapshot_arg, write_set_js};

type AnyStore = dkm_host::SharedStore;

thread_local! {
    /// The time of the operation running now (Unix seconds), read from the JS clock when it
    /// began: the host's clock reads it.
    static NOW: Cell<Option<u64>> = const { Cell::new(None) };
    /// Each seal's output buffer, reused (a nested seal, from a store method, takes an empty
    /// one).
    static SEALED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The largest sealed-bytes buffer kept between seals.
const KEEP_BUFFER: usize = 4 << 20;

/// The JS clock: fixed, a function, or `Date.now`.
enum JsClock {
    Fixed(u64),
    Function(Function),
    DateNow,
}

impl JsClock {
    fn of(v: &JsValue) -> JsResult<JsClock> {
        if absent(v) {
            return Ok(JsClock::DateNow);
        }
        if let Some(f) = v.dyn_ref::<Function>() {
            return Ok(JsClock::Function(f.clone()));
        }
        Ok(JsClock::Fixed(time(v, "the clock")?))
    }

    /// The host's clock: a fixed time is flagged as an override in audit records; a JS
    /// clock is read when each operation begins.
    fn host_clock(&self) -> Clock {
        match self {
            JsClock::Fixed(t) => Clock::fixed(*t),
            JsClock::Function(_) | JsClock::DateNow => Clock::try_from_fn(|| {
                NOW.with(Cell::get).ok_or_else(|| {
                    dkm_host::HostError::new(
                        ErrorKind::Internal,
                        "the clock was read outside an operation",
                    )
                })
            }),
        }
    }

    /// Runs `f` with the operation's time read from the JS clock.
    fn during<T>(&self, f: impl FnOnce() -> JsResult<T>) -> JsResult<T> {
        let now = match self {
            JsClock::Fixed(_) => return f(),
            JsClock::DateNow => time(&Date::now().into(), "Date.now()")?,
            JsClock::Function(c) => {
                let t = c.call0(&JsValue::UNDEFINED)?;
                time(&t, "the clock's time")?
            }
        };
        let before = NOW.replace(Some(now));
        let r = f();
        NOW.set(before);
        r
    }
}

/// A verb's positional arguments.
struct Args(Array);

impl Args {
    fn at(&self, i: u32) -> JsValue {
        self.0.get(i)
    }
    fn text(&self, i: u32, what: &str) -> JsResult<String> {
        convert::text(&self.at(i), what)
    }
    fn ring(&self) -> JsResult<String> {
        self.text(0, "the ring's name")
    }
    fn accept_seal_only(&self, i: u32) -> JsResult<SealOnly> {
        seal_only_arg(&self.at(i))
    }
}

fn request_arg(v: &JsValue) -> JsResult<RequestId> {
    let t = convert::text(v, "the request id")?;
    js(RequestId::from_hex(t.trim()).map_err(Into::into))
}

fn grant_arg(v: &JsValue) -> JsResult<GrantId> {
    let t = convert::text(v, "the grant id")?;
    js(GrantId::from_hex(t.trim()).map_err(Into::into))
}

fn role_arg(v: &JsValue) -> JsResult<Role> {
    let name = convert::text(v, "the role")?;
    Role::parse(&name).map_err(|_| {
        invalid(format!(
            "{name:?} is not a role: \"admin\", \"service\" (a key holder) or \"approver\""
        ))
    })
}

fn public_arg(v: &JsValue, what: &str) -> JsResult<dkm_core::PublicIdentity> {
    let t = convert::text(v, what)?;
    js(text::parse_public_identity(&t))
}

/// `acceptSealOnly`: a boolean, `true` when absent.
fn seal_only_arg(v: &JsValue) -> JsResult<SealOnly> {
    if absent(v) {
        return Ok(SealOnly::Accept);
    }
    match v.as_bool() {
        Some(true) => Ok(SealOnly::Accept),
        Some(false) => Ok(SealOnly::Refuse),
        None => Err(type_error("acceptSealOnly must be a boolean")),
    }
}

/// A policy: an object with any of `intervalSecs`, `maxGrantSecs`, `maxLookbackSecs`,
/// `requestLifetimeSecs`, `freshnessIntervals`, `approverCooloffSecs` (the others keep their
/// defaults); any other key is refused.
fn policy_arg(v: &JsValue) -> JsResult<Policy> {
    let mut p = Policy::default();
    if absent(v) {
        return Ok(p);
    }
    let o = v
        .dyn_ref::<Object>()
        .ok_or_else(|| type_error("a policy must be an object"))?;
    for key in Object::keys(o).iter() {
        let k = key.as_string().unwrap_or_default();
        if k == "levels" {
            return Err(invalid(
                "a ring is created without approval levels: set them with setApprovalLevels once its approvers are members",
            ));
        }
        let value = get(v, &k)?;
        let n = integer(&value, &format!("policy.{k}"))?;
        match k.as_str() {
            "intervalSecs" => p.interval_secs = n,
            "maxGrantSecs" => p.max_grant_secs = n,
            "maxLookbackSecs" => p.max_lookback_secs = n,
            "requestLifetimeSecs" => p.request_lifetime_secs = n,
            "approverCooloffSecs" => p.approver_cooloff_secs = n,
            "freshnessIntervals" => {
                p.freshness_intervals = u32::try_from(n)
                    .map_err(|_| invalid("policy.freshnessIntervals is too large"))?;
            }
            _ => return Err(invalid(format!("a policy has no setting {k:?}"))),
        }
    }
    Ok(p)
}

/// Approval levels: `[{name, quorum, approvers: [public identity text]}]`.
fn levels_arg(v: &JsValue) -> JsResult<Vec<LevelSpec>> {
    let a = v
        .dyn_ref::<Array>()
        .ok_or_else(|| type_error("levels must be an array of {name, quorum, approvers}"))?;
    let mut out = Vec::new();
    for l in a.iter() {
        let name = convert::text(&get(&l, "name")?, "a level's name")?;
        let q = integer(&get(&l, "quorum")?, "a level's quorum")?;
        let quorum = u8::try_from(q).map_err(|_| invalid(format!("quorum {q} is not 1 to 32")))?;
        let list = get(&l, "approvers")?;
        let list = list
            .dyn_ref::<Array>()
            .ok_or_else(|| type_error("a level's approvers must be an array"))?;
        let approvers = list
            .iter()
            .map(|x| public_arg(&x, "an approver"))
            .collect::<JsResult<Vec<_>>>()?;
        out.push(LevelSpec {
            name,
            quorum,
            approvers,
        });
    }
    Ok(out)
}

fn epoch_arg(v: &JsValue) -> JsResult<u32> {
    let n = integer(v, "the epoch")?;
    u32::try_from(n).ok().filter(|e| *e != 0).ok_or_else(|| {
        invalid(format!(
            "epoch {n} does not exist: epoch numbers are 1 to 2^31"
        ))
    })
}

fn events(es: &[dkm_core::Event]) -> JsResult<JsValue> {
    convert::views(es)
}

/// Seals into this thread's reused buffer and copies out.
fn seal_with<S: Store>(
    h: &HostOf<S>,
    ring: &str,
    holder: &dkm_core::Identity,
    pt: &[u8],
    ctx: &[u8],
) -> JsResult<JsValue> {
    let mut out = SEALED.take();
    let r = js(h.seal_into(ring, holder, pt, ctx, &mut out)).map(|()| convert::to_array(&out));
    if out.capacity() <= KEEP_BUFFER {
        SEALED.set(out);
    }
    r
}

/// Runs verb `verb` as `actor` (when the verb acts as someone) with arguments `a`.
fn dispatch<S: Store>(
    h: &HostOf<S>,
    verb: &str,
    actor: Option<&dkm_core::Identity>,
    a: &Args,
) -> JsResult<JsValue> {
    // Verbs that act as someone.
    if let Some(me) = actor {
        return match verb {
            "createRing" => {
                let (name, policy) = (a.ring()?, policy_arg(&a.at(1))?);
                Ok(js(h.create_ring(&name, me, policy))?.to_string().into())
            }
            "addMember" => {
                let (ring, role) = (a.ring()?, role_arg(&a.at(1))?);
                let member = public_arg(&a.at(2), "the member")?;
                convert::view(&js(h.add_member(&ring, me, role, &member))?)
            }
            "removeMember" => {
                let (ring, member) = (a.ring()?, public_arg(&a.at(1), "the member")?);
                convert::view(&js(h.remove_member(&ring, me, &member))?)
            }
            "setApprovalLevels" => {
                let (ring, levels) = (a.ring()?, levels_arg(&a.at(1))?);
                convert::view(&js(h.set_approval_levels(&ring, me, &levels))?)
            }
            "revokeEpoch" => {
                let (ring, epoch) = (a.ring()?, epoch_arg(&a.at(1))?);
                convert::view(&js(h.revoke_epoch(&ring, me, epoch))?)
            }
            "shredBefore" => {
                let (ring, cutoff) = (a.ring()?, time(&a.at(1), "the cutoff")?);
                convert::view(&js(h.shred_before(&ring, me, cutoff))?)
            }
            "revokeGrant" => {
                let (ring, grant) = (a.ring()?, grant_arg(&a.at(1))?);
                convert::view(&js(h.revoke_grant(&ring, me, grant))?)
            }
            "renameRing" => {
                let (ring, to) = (a.ring()?, a.text(1, "the new name")?);
                convert::view(&js(h.rename_ring(&ring, &to, me))?)
            }
            "apply" => {
                let (ring, request) = (a.ring()?, request_arg(&a.at(1))?);
                // Governance versions stay far below 2^53.
                Ok(JsValue::from(js(h.apply(&ring, request, me))? as f64))
            }
            "maintain" => events(&js(h.maintain(&a.ring()?, me))?),
            "rollEpoch" => events(&js(h.roll_epoch(&a.ring()?, me))?),
            "seal" => {
                let (ring, pt) = (a.ring()?, data(&a.at(1), "the data")?);
                let ctx = opt_data(&a.at(2), "the context")?;
                seal_with(h, &ring, me, &pt, &ctx)
            }
            "sealArmored" => {
                let (ring, pt) = (a.ring()?, data(&a.at(1), "the data")?);
                let ctx = opt_data(&a.at(2), "the context")?;
                Ok(js(h.seal_armored(&ring, me, &pt, &ctx))?.into())
            }
            "unseal" => {
                let (ring, sealed) = (a.ring()?, public_data(&a.at(1), "the sealed secret")?);
                let ctx = opt_data(&a.at(2), "the context")?;
                let mode = a.accept_seal_only(3)?;
                Ok(Unsealed::new(js(h.unseal(&ring, me, &sealed, &ctx, mode))?).into())
            }
            "unsealWithGrant" => {
                let (ring, grant) = (a.ring()?, grant_arg(&a.at(1))?);
                let sealed = public_data(&a.at(2), "the sealed secret")?;
                let ctx = opt_data(&a.at(3), "the context")?;
                let mode = a.accept_seal_only(4)?;
                let u = js(h.unseal_with_grant(&ring, me, grant, &sealed, &ctx, mode))?;
                Ok(Unsealed::new(u).into())
            }
            "requestAccess" => {
                let (ring, reason) = (a.ring()?, a.text(1, "the reason")?);
                let secs = integer(&a.at(2), "the duration (seconds)")?;
                let since = a.at(3);
                let since = if absent(&since) {
                    None
                } else {
                    Some(time(&since, "since")?)
                };
                let epochs = a.at(4);
                let epochs: Vec<u32> = if absent(&epochs) {
                    Vec::new()
                } else {
                    epochs
                        .dyn_ref::<Array>()
                        .ok_or_else(|| type_error("epochs must be an array of numbers"))?
                        .iter()
                        .map(|e| epoch_arg(&e))
                        .collect::<JsResult<_>>()?
                };
                let scope = js(access_scope(since, &epochs))?;
                let id = js(h.request_access(&ring, me, &reason, secs, scope))?;
                Ok(id.to_string().into())
            }
            "approve" | "deny" => {
                let (ring, request) = (a.ring()?, request_arg(&a.at(1))?);
                let level = a.text(2, "the level")?;
                if verb == "approve" {
                    js(h.approve(&ring, request, &level, me))?;
                } else {
                    js(h.deny(&ring, request, &level, me))?;
                }
                Ok(JsValue::UNDEFINED)
            }
            "grant" => {
                let (ring, request) = (a.ring()?, request_arg(&a.at(1))?);
                convert::view(&js(h.grant(&ring, request, me))?)
            }
            _ => Err(type_error(format!("no verb {verb:?} acts as someone"))),
        };
    }
    match verb {
        "exportPublic" => Ok(convert::to_array(&js(h.export_public(&a.ring()?))?)),
        "requests" => convert::views(&js(h.requests(&a.ring()?))?),
        "keys" => convert::view(&js(h.keys(&a.ring()?))?),
        "ringInfo" => convert::view(&js(h.ring_info(&a.ring()?))?),
        "auditRecords" => convert::views(&js(h.audit_records(&a.ring()?))?),
        "auditVerify" => convert::view(&js(h.audit_verify(&a.ring()?))?),
        "exportSnapshot" => Ok(convert::to_array(&js(h.export_snapshot(&a.ring()?))?)),
        "importSnapshot" => {
            let b = convert::bytes(&a.at(0), "the snapshot")?;
            Ok(js(h.import_snapshot(&b))?.into())
        }
        "snapshotRingName" => {
            let b = convert::bytes(&a.at(0), "the snapshot")?;
            Ok(js(h.read_snapshot(&b))?.name.into())
        }
        "sealTo" => Err(type_error(
            "sealTo takes a RingPublic: call the host's sealTo",
        )),
        _ => Err(type_error(format!("no verb {verb:?}"))),
    }
}

/// GCM inputs as JS: `{prefix, key, iv, aad}`.
fn gcm_parts(p: &dkm_core::GcmParts) -> JsResult<JsValue> {
    convert::object(&[
        ("prefix", convert::to_array(&p.prefix)),
        ("key", convert::to_array(&*p.key)),
        ("iv", convert::to_array(&p.iv)),
        ("aad", convert::to_array(&p.aad)),
    ])
}

/// A host over a memory store or a synchronous JS store (the package's `Host` wraps it).
#[wasm_bindgen]
pub struct NativeHost {
    host: HostOf<AnyStore>,
    clock: JsClock,
}

impl NativeHost {
    fn build(store: AnyStore, pins: &MemoryPins, clock: &JsValue) -> JsResult<NativeHost> {
        entropy::ready()?;
        let clock = JsClock::of(clock)?;
        let host = HostOf::with_entropy(
            store,
            Arc::clone(&pins.inner),
            clock.host_clock(),
            entropy::source(),
        )
        // One thread: a lost race is retried at once.
        .with_pause(Box::new(|_| {}));
        Ok(NativeHost { host, clock })
    }
}

#[wasm_bindgen]
impl NativeHost {
    /// A host on a memory store.
    #[wasm_bindgen(js_name = "onMemory")]
    pub fn on_memory(
        store: &MemoryStore,
        pins: &MemoryPins,
        clock: &JsValue,
    ) -> JsResult<NativeHost> {
        NativeHost::build(Arc::clone(&store.inner) as AnyStore, pins, clock)
    }

    /// A host on a synchronous JS store object.
    #[wasm_bindgen(js_name = "onObject")]
    pub fn on_object(store: JsValue, pins: &MemoryPins, clock: &JsValue) -> JsResult<NativeHost> {
        let s: AnyStore = Arc::new(ForeignAdapter::new(JsStore::new(store)?));
        NativeHost::build(s, pins, clock)
    }

    /// A verb that acts as no one.
    pub fn call(&self, verb: &str, args: Array) -> JsResult<JsValue> {
        self.clock
            .during(|| dispatch(&self.host, verb, None, &Args(args)))
    }

    /// A verb acting as `actor`.
    pub fn act(&self, verb: &str, actor: &Identity, args: Array) -> JsResult<JsValue> {
        let me = Arc::clone(&actor.inner);
        self.clock
            .during(|| dispatch(&self.host, verb, Some(&me), &Args(args)))
    }

    /// `seal`, without the argument array (the hot path).
    pub fn seal(
        &self,
        ring: &JsValue,
        actor: &Identity,
        data: &JsValue,
        context: &JsValue,
    ) -> JsResult<JsValue> {
        let ring = convert::text(ring, "the ring's name")?;
        let (pt, ctx) = (
            convert::data(data, "the data")?,
            opt_data(context, "the context")?,
        );
        self.clock
            .during(|| seal_with(&self.host, &ring, &actor.inner, &pt, &ctx))
    }

    /// `unseal`, without the argument array (the hot path).
    pub fn unseal(
        &self,
        ring: &JsValue,
        actor: &Identity,
        sealed: &JsValue,
        context: &JsValue,
        accept_seal_only: &JsValue,
    ) -> JsResult<Unsealed> {
        let ring = convert::text(ring, "the ring's name")?;
        let (b, ctx) = (
            public_data(sealed, "the sealed secret")?,
            opt_data(context, "the context")?,
        );
        let mode = seal_only_arg(accept_seal_only)?;
        self.clock.during(|| {
            Ok(Unsealed::new(js(self.host.unseal(
                &ring,
                &actor.inner,
                &b,
                &ctx,
                mode,
            ))?))
        })
    }

    /// Hazmat for the package's `sealAsync`: a seal of a `length`-byte plaintext without
    /// its bulk AES-GCM, which WebCrypto does: `{prefix, key, iv, aad}`; the sealed secret
    /// is `prefix ‖ AES-256-GCM(key, iv, aad, plaintext)`. The key is this message's alone;
    /// the caller imports it non-extractable and wipes the array.
    #[wasm_bindgen(js_name = "sealParts")]
    pub fn seal_parts(
        &self,
        ring: &JsValue,
        actor: &Identity,
        length: &JsValue,
        context: &JsValue,
    ) -> JsResult<JsValue> {
        let ring = convert::text(ring, "the ring's name")?;
        let len = usize::try_from(integer(length, "the length")?)
            .map_err(|_| convert::error(ErrorKind::TooLarge, "the plaintext is too long"))?;
        let ctx = opt_data(context, "the context")?;
        let p = self
            .clock
            .during(|| js(self.host.seal_parts(&ring, &actor.inner, len, &ctx)))?;
        gcm_parts(&p)
    }

    /// Hazmat for the package's `unsealAsync`: checks a key holder's secret against its
    /// commitment and returns `{key, iv, aad, offset}` for WebCrypto to decrypt
    /// `sealed.subarray(offset)` (ciphertext and tag; `body` holds them instead when the
    /// secret was armored), or `null` for a seal-only secret (opened with `unseal`).
    #[wasm_bindgen(js_name = "openParts")]
    pub fn open_parts(
        &self,
        ring: &JsValue,
        actor: &Identity,
        sealed: &JsValue,
        context: &JsValue,
    ) -> JsResult<JsValue> {
        let ring = convert::text(ring, "the ring's name")?;
        let b = convert::public_data(sealed, "the sealed secret")?;
        let ctx = opt_data(context, "the context")?;
        let bytes = js(dkm_core::decode_any(dkm_host::input::trim_armor(&b)).map_err(Into::into))?;
        if js(dkm_core::SealedSecret::parse(&bytes).map_err(Into::into))?.suite()
            != dkm_core::Suite::Xaes256GcmCommit
        {
            return Ok(JsValue::NULL);
        }
        let (p, start) = self
            .clock
            .during(|| js(self.host.open_parts(&ring, &actor.inner, &bytes, &ctx)))?;
        let out = gcm_parts(&p)?;
        let binary =
            matches!(bytes, std::borrow::Cow::Borrowed(_)) && sealed.is_instance_of::<Uint8Array>();
        let (key, value) = match bytes.get(start..) {
            Some(_) if binary => ("offset", JsValue::from(start as f64)),
            Some(body) => ("body", convert::to_array(body)),
            None => {
                return Err(convert::error(
                    ErrorKind::Internal,
                    "the ciphertext is out of range",
                ));
            }
        };
        js_sys::Reflect::set(&out, &key.into(), &value)?;
        Ok(out)
    }

    /// Seals to a ring's public part at the host's clock (seal-only).
    #[wasm_bindgen(js_name = "sealTo")]
    pub fn seal_to(
        &self,
        public: &RingPublic,
        data: &JsValue,
        context: &JsValue,
    ) -> JsResult<Uint8Array> {
        let (pt, ctx) = (
            convert::data(data, "the data")?,
            opt_data(context, "the context")?,
        );
        self.clock.during(|| {
            let out = js(self.host.seal_public(&public.inner, &pt, &ctx))?;
            Ok(Uint8Array::from(&out[..]))
        })
    }

    /// The host's time now (milliseconds, as `Date.now()`; whole seconds).
    pub fn now(&self) -> JsResult<f64> {
        // Unix seconds stay far below 2^53 / 1000.
        self.clock
            .during(|| Ok(js(self.host.now())? as f64 * 1000.0))
    }
}

/// Runs verbs against snapshots of asynchronous storage (the package's `AsyncHost` reads the
/// snapshot, persists the write set with its own compare-and-swap, and retries `Conflict`).
#[wasm_bindgen]
pub struct NativeSnapshotHost {
    host: SnapshotHost,
    clock: JsClock,
}

#[wasm_bindgen]
impl NativeSnapshotHost {
    /// A snapshot host keeping pins in `pins` (advanced only when a result is confirmed).
    #[wasm_bindgen(constructor)]
    pub fn new(pins: &MemoryPins, clock: &JsValue) -> JsResult<NativeSnapshotHost> {
        entropy::ready()?;
        let clock = JsClock::of(clock)?;
        let host = SnapshotHost::new(
            Arc::clone(&pins.inner) as _,
            clock.host_clock(),
            entropy::source(),
        );
        Ok(NativeSnapshotHost { host, clock })
    }

    /// Runs a verb that acts as no one against `snapshot`.
    pub fn call(&self, snapshot: &JsValue, verb: &str, args: Array) -> JsResult<PendingResult> {
        self.run(snapshot, verb, None, args)
    }

    /// Runs a verb acting as `actor` against `snapshot`.
    pub fn act(
        &self,
        snapshot: &JsValue,
        verb: &str,
        actor: &Identity,
        args: Array,
    ) -> JsResult<PendingResult> {
        self.run(snapshot, verb, Some(Arc::clone(&actor.inner)), args)
    }
}

impl NativeSnapshotHost {
    fn run(
        &self,
        snapshot: &JsValue,
        verb: &str,
        actor: Option<Arc<dkm_core::Identity>>,
        args: Array,
    ) -> JsResult<PendingResult> {
        let snap = snapshot_arg(snapshot)?;
        let args = Args(args);
        self.clock.during(|| {
            let mut thrown = None;
            let pending = self.host.run(snap, |h| {
                dispatch(h, verb, actor.as_deref(), &args).map_err(|e| {
                    // A JS error (a wrong argument) goes back as it was thrown.
                    let kind = get(&e, "kind")
                        .ok()
                        .and_then(|k| k.as_string())
                        .and_then(|k| ErrorKind::ALL.iter().copied().find(|c| c.name() == k));
                    let message = crate::store::error_message(&e);
                    thrown = Some(e);
                    dkm_host::HostError::new(kind.unwrap_or(ErrorKind::InvalidInput), message)
                })
            });
            match pending {
                Ok(p) => Ok(PendingResult { pending: Some(p) }),
                Err(e) => Err(thrown.unwrap_or_else(|| convert::host_error(&e))),
            }
        })
    }
}

/// An operation's result, held until the driver persisted its write set.
#[wasm_bindgen]
pub struct PendingResult {
    pending: Option<Pending<JsValue>>,
}

#[wasm_bindgen]
impl PendingResult {
    /// What to persist, per ring name, in one transaction: `[{name, ring: {expectedToken,
    /// bytes} | null, appends: [{stream, expectedCount, lines}], moveTo}]` (empty: nothing).
    #[wasm_bindgen(getter, js_name = "writeSet")]
    pub fn write_set(&self) -> JsResult<JsValue> {
        match &self.pending {
            Some(p) => write_set_js(p.write_set()),
            None => Err(invalid("this result was already confirmed")),
        }
    }

    /// The write set was persisted: advances the pins and releases the result (once).
    pub fn confirm(&mut self) -> JsResult<JsValue> {
        let p = self
            .pending
            .take()
            .ok_or_else(|| invalid("this result was already confirmed"))?;
        js(p.confirm())
    }
}
