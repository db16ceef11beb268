//! The host (a store, a pin book, a clock) and one function per host verb.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use ::dkm_host::views::ToJson;
use ::dkm_host::{
    ChangeOutcome, Clock, Host, HostError, LevelSpec, MemoryPins, Origin, PinBook, SealOnly, Store,
    Unsealed, files,
};
use dkm_core::access::RequestId;
use dkm_core::ring::Role;
use dkm_core::{ErrorKind, GrantId, Policy};

use crate::boundary::{
    DKM_OK, Result, bytes, dkm_buffer, dkm_status, guard, handle, invalid, out, put, put_secret,
    put_vec, text,
};
use crate::handles::{
    clear, clear_buffer, dkm_identity, dkm_public_identity, dkm_ring_public, free, give,
};
use crate::store::dkm_store;

/// A host: verbs on the rings of one store, with a pin book and a clock. Thread safe: one host
/// may serve many threads at once (it keeps verified rings and key holders in memory, shared).
pub struct dkm_host {
    inner: Arc<AnyHost>,
}

/// The host over any store.
type AnyHost = Host<Arc<dyn Store + Send + Sync>>;

enum Pins {
    Home,
    Dir(PathBuf),
    Memory,
}

enum ClockChoice {
    System,
    Fixed(u64),
    Callback(ClockFn),
    Thread,
}

/// How a host is made: its pin book and its clock. Not thread safe (a builder); free it with
/// `dkm_host_options_free` once the host is made.
pub struct dkm_host_options {
    pins: Pins,
    clock: ClockChoice,
}

/// A clock the caller supplies: writes the time now (Unix seconds) to `*now` and returns
/// `DKM_OK`, or returns another status to fail the operation before it loads a ring (no pin
/// is saved) or writes anything (the operation fails with that status; one this library does
/// not define is taken as `DKM_INVALID_INPUT`). Called at each operation, from the calling
/// thread, with no lock of the library held. It must return: never throw a C++ exception or
/// `longjmp` out of it.
pub type dkm_clock_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, now: *mut u64) -> dkm_status>;

#[derive(Clone, Copy)]
struct ClockFn {
    f: unsafe extern "C" fn(user: *mut c_void, now: *mut u64) -> dkm_status,
    user: *mut c_void,
}

// SAFETY: `dkm_host_options_set_clock_callback` documents that the callback is called from any
// thread that uses the host, concurrently: the caller promises it is safe to.
unsafe impl Send for ClockFn {}
// SAFETY: as for `Send`.
unsafe impl Sync for ClockFn {}

impl ClockFn {
    fn now(self) -> Result<u64> {
        let mut now = 0u64;
        // SAFETY: the caller's function with its own `user` and a live u64, as documented.
        let status = unsafe { (self.f)(self.user, &mut now) };
        if status != DKM_OK {
            let kind = u32::try_from(status)
                .ok()
                .and_then(ErrorKind::from_code)
                .unwrap_or(ErrorKind::InvalidInput);
            return Err(HostError::new(
                kind,
                format!("the clock callback returned {status} ({})", kind.name()),
            ));
        }
        Ok(now)
    }
}

thread_local! {
    static THREAD_TIME: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Sets the time (Unix seconds) that hosts made with `dkm_host_options_set_thread_clock`
/// read for calls made from this thread, until it is set again or cleared: the time passed
/// per call.
#[unsafe(no_mangle)]
pub extern "C" fn dkm_thread_set_time(now: u64) {
    THREAD_TIME.with(|t| t.set(Some(now)));
}

/// Clears this thread's time: a host with the thread clock then refuses calls from this
/// thread (`DKM_INVALID_INPUT`) until a time is set.
#[unsafe(no_mangle)]
pub extern "C" fn dkm_thread_clear_time() {
    THREAD_TIME.with(|t| t.set(None));
}

/// New host options into `*out`: pins in the `dkm` command's pin book (`$DKM_HOME/pins`, else
/// `$HOME/.config/dkm/pins`) and the system clock.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_options_new(out: *mut *mut dkm_host_options) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        give(
            slot,
            dkm_host_options {
                pins: Pins::Home,
                clock: ClockChoice::System,
            },
        );
        Ok(())
    })
}

/// Keeps pins in the pin book in directory `dir` (the command's layout).
///
/// # Safety
/// `options` a live handle; `dir` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_options_set_pin_dir(
    options: *mut dkm_host_options,
    dir: *const c_char,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let o = unsafe { out(options, "options") }?;
        // SAFETY: per this function's contract.
        let d = unsafe { text(dir, "dir") }?;
        if d.is_empty() {
            return Err(invalid("dir is empty"));
        }
        o.pins = Pins::Dir(PathBuf::from(d));
        Ok(())
    })
}

/// Keeps pins in memory only: a ring is trusted on first use by each new host.
///
/// # Safety
/// `options` a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_options_set_memory_pins(
    options: *mut dkm_host_options,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe { out(options, "options") }?.pins = Pins::Memory;
        Ok(())
    })
}

/// A fixed time (Unix seconds) for every operation (tests, demos: audit records carry the
/// clock-override flag).
///
/// # Safety
/// `options` a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_options_set_fixed_clock(
    options: *mut dkm_host_options,
    now: u64,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe { out(options, "options") }?.clock = ClockChoice::Fixed(now);
        Ok(())
    })
}

/// A clock the caller supplies, called with `user` at each operation (see `dkm_clock_fn`).
///
/// # Safety
/// `options` a live handle; `clock` must stay callable with `user`, from any thread, until the
/// host made with these options is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_options_set_clock_callback(
    options: *mut dkm_host_options,
    clock: dkm_clock_fn,
    user: *mut c_void,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let o = unsafe { out(options, "options") }?;
        let f = clock.ok_or_else(|| invalid("clock is NULL"))?;
        o.clock = ClockChoice::Callback(ClockFn { f, user });
        Ok(())
    })
}

/// The time passed per call: each operation reads the time the calling thread set with
/// `dkm_thread_set_time` (none set: `DKM_INVALID_INPUT`).
///
/// # Safety
/// `options` a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_options_set_thread_clock(
    options: *mut dkm_host_options,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe { out(options, "options") }?.clock = ClockChoice::Thread;
        Ok(())
    })
}

/// Frees host options. NULL is a no-op.
///
/// # Safety
/// NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_options_free(options: *mut dkm_host_options) {
    // SAFETY: per this function's contract.
    unsafe { free(options) }
}

/// A host over `store` into `*out`, made as `options` say (NULL: the defaults of
/// `dkm_host_options_new`). The host keeps the store alive; `store` and `options` may be
/// freed right after.
///
/// # Safety
/// `store` a live handle; `options` NULL or a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_new(
    store: *const dkm_store,
    options: *const dkm_host_options,
    out: *mut *mut dkm_host,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let s = unsafe { handle(store, "store") }?;
        // SAFETY: per this function's contract (NULL: the defaults).
        let o = unsafe { options.as_ref() };
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        let clock = match o.map_or(&ClockChoice::System, |o| &o.clock) {
            ClockChoice::System => Clock::system(),
            ClockChoice::Fixed(t) => Clock::fixed(*t),
            ClockChoice::Callback(f) => {
                let f = *f;
                Clock::try_from_fn(move || f.now())
            }
            ClockChoice::Thread => Clock::try_from_fn(|| {
                THREAD_TIME.with(Cell::get).ok_or_else(|| {
                    invalid("this host reads the time per call: call dkm_thread_set_time first")
                })
            }),
        };
        let inner = match o.map_or(&Pins::Home, |o| &o.pins) {
            Pins::Home => Host::new(
                s.inner.clone(),
                PinBook::new(files::dkm_home().join("pins")),
                clock,
            ),
            Pins::Dir(d) => Host::new(s.inner.clone(), PinBook::new(d.clone()), clock),
            Pins::Memory => Host::new(s.inner.clone(), MemoryPins::new(), clock),
        }?;
        let inner = Arc::new(inner);
        // On a store that announces other writers' changes (etcd's watch), a thread reloads
        // the rings this host keeps as soon as they change; it ends within a second of the
        // host being freed.
        let _ = Host::spawn_refresher(&inner);
        give(slot, dkm_host { inner });
        Ok(())
    })
}

/// Frees a host. NULL is a no-op. No other thread may be using it.
///
/// # Safety
/// NULL or a live handle, not used after (by any thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_free(host: *mut dkm_host) {
    // SAFETY: per this function's contract.
    unsafe { free(host) }
}

/// A ring's rules at creation. Start from `dkm_policy_default` and change what you need.
/// Approval levels are set afterwards with `dkm_host_set_approval_levels`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dkm_policy {
    /// Key rotation interval, seconds (default 1 day).
    pub interval_secs: u64,
    /// Longest grant, seconds (default 8 hours).
    pub max_grant_secs: u64,
    /// How far back a grant's scope may reach, seconds (default 30 days).
    pub max_lookback_secs: u64,
    /// How long a request stays open, seconds (default 12 hours).
    pub request_lifetime_secs: u64,
    /// Intervals a key holder's maintenance keeps the ring fresh for (default 2).
    pub freshness_intervals: u32,
    /// How long a newly added approver waits before counting, seconds (default 24 hours).
    pub approver_cooloff_secs: u64,
}

/// Fills `*out` with the default policy.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_policy_default(out: *mut dkm_policy) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        let p = Policy::default();
        *slot = dkm_policy {
            interval_secs: p.interval_secs,
            max_grant_secs: p.max_grant_secs,
            max_lookback_secs: p.max_lookback_secs,
            request_lifetime_secs: p.request_lifetime_secs,
            freshness_intervals: p.freshness_intervals,
            approver_cooloff_secs: p.approver_cooloff_secs,
        };
        Ok(())
    })
}

/// A governance change was applied (`dkm_change.version` is the new governance version).
pub const DKM_CHANGE_APPLIED: i32 = 1;
/// A governance change needs approvals and was logged as a request (`dkm_change.request`).
pub const DKM_CHANGE_REQUESTED: i32 = 2;

/// What a governance verb did.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dkm_change {
    /// `DKM_CHANGE_APPLIED` or `DKM_CHANGE_REQUESTED`.
    pub outcome: i32,
    /// Applied: the governance version now signed.
    pub version: u64,
    /// Applied: 1 when key holders still have to carry the change out (their next
    /// `dkm_host_maintain`), else 0.
    pub pending: i32,
    /// Requested: the change request's id, hex, NUL-terminated (empty when applied).
    pub request: [c_char; 65],
}

/// Writes `c` to `slot` when it is not NULL.
///
/// # Safety
/// `slot` must be NULL or writable.
unsafe fn put_change(slot: *mut dkm_change, c: &ChangeOutcome) {
    let mut v = dkm_change {
        outcome: DKM_CHANGE_APPLIED,
        version: 0,
        pending: 0,
        request: [0; 65],
    };
    match c {
        ChangeOutcome::Applied { version, pending } => {
            v.version = *version;
            v.pending = i32::from(*pending);
        }
        ChangeOutcome::Requested { request } => {
            v.outcome = DKM_CHANGE_REQUESTED;
            for (d, s) in v.request.iter_mut().zip(request.to_string().bytes()) {
                *d = s as c_char;
            }
        }
    }
    // SAFETY: NULL (the caller does not want it) or writable, per this function's contract.
    if let Some(s) = unsafe { slot.as_mut() } {
        *s = v;
    }
}

/// Clears an optional change out-parameter.
///
/// # Safety
/// NULL or writable.
unsafe fn clear_change(slot: *mut dkm_change) {
    // SAFETY: NULL or writable, per the contract.
    if let Some(s) = unsafe { slot.as_mut() } {
        *s = dkm_change {
            outcome: 0,
            version: 0,
            pending: 0,
            request: [0; 65],
        };
    }
}

/// A member's role: governs the ring, holds no keys.
pub const DKM_ROLE_ADMIN: i32 = 1;
/// A member's role: a key holder (a service account).
pub const DKM_ROLE_SERVICE: i32 = 2;
/// A member's role: signs approvals, holds no keys.
pub const DKM_ROLE_APPROVER: i32 = 3;

fn role(code: i32) -> Result<Role> {
    match code {
        DKM_ROLE_ADMIN => Ok(Role::Admin),
        DKM_ROLE_SERVICE => Ok(Role::Service),
        DKM_ROLE_APPROVER => Ok(Role::Approver),
        _ => Err(invalid(format!(
            "role {code} is not DKM_ROLE_ADMIN, DKM_ROLE_SERVICE or DKM_ROLE_APPROVER"
        ))),
    }
}

/// Unseal: accept secrets sealed by a seal-only party (anyone with the ring's public part).
pub const DKM_ACCEPT_SEAL_ONLY: i32 = 1;
/// Unseal: refuse them (`DKM_INVALID_INPUT`): only secrets sealed by key holders.
pub const DKM_REFUSE_SEAL_ONLY: i32 = 2;

fn seal_only(code: i32) -> Result<SealOnly> {
    match code {
        DKM_ACCEPT_SEAL_ONLY => Ok(SealOnly::Accept),
        DKM_REFUSE_SEAL_ONLY => Ok(SealOnly::Refuse),
        _ => Err(invalid(format!(
            "seal_only {code} is not DKM_ACCEPT_SEAL_ONLY or DKM_REFUSE_SEAL_ONLY"
        ))),
    }
}

/// A secret's origin: sealed with the interval's key (by a key holder, or a grant holder
/// within scope).
pub const DKM_ORIGIN_KEY_HOLDER: i32 = 1;
/// A secret's origin: sealed by a seal-only party from the ring's public part.
pub const DKM_ORIGIN_SEAL_ONLY: i32 = 2;

fn request_id(t: &str) -> Result<RequestId> {
    Ok(RequestId::from_hex(t)?)
}

fn grant_id(t: &str) -> Result<GrantId> {
    Ok(GrantId::from_hex(t)?)
}

fn json(slot: &mut dkm_buffer, v: &serde_json::Value) -> Result<()> {
    put_vec(slot, v.to_string().into_bytes())
}

/// Runs a verb's body with the host, ring name and an identity read from the caller.
///
/// # Safety
/// `host` a live host; `ring` a NUL-terminated string; `who` a live identity.
unsafe fn with<'a>(
    host: *const dkm_host,
    ring: *const c_char,
    who: *const dkm_identity,
    what: &str,
) -> Result<(&'a AnyHost, &'a str, &'a dkm_core::Identity)> {
    // SAFETY: per the contract.
    let h = unsafe { handle(host, "host") }?;
    // SAFETY: per the contract.
    let r = unsafe { text(ring, "ring") }?;
    // SAFETY: per the contract.
    let i = unsafe { handle(who, what) }?;
    Ok((&h.inner, r, &i.inner))
}

/// Creates ring `ring` in the store with `admin` as its only admin, under `policy` (NULL: the
/// default policy); its id (hex) into `*ring_id` when that is not NULL. The ring has no keys
/// until a key holder is added and runs `dkm_host_maintain`.
///
/// # Safety
/// `host`, `admin` live handles; `ring` a NUL-terminated string; `policy` NULL or readable;
/// `ring_id` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_create_ring(
    host: *const dkm_host,
    ring: *const c_char,
    admin: *const dkm_identity,
    policy: *const dkm_policy,
    ring_id: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(ring_id) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        // SAFETY: per this function's contract: NULL or readable.
        let p = match unsafe { policy.as_ref() } {
            None => Policy::default(),
            Some(p) => Policy {
                interval_secs: p.interval_secs,
                max_grant_secs: p.max_grant_secs,
                max_lookback_secs: p.max_lookback_secs,
                request_lifetime_secs: p.request_lifetime_secs,
                freshness_intervals: p.freshness_intervals,
                approver_cooloff_secs: p.approver_cooloff_secs,
                levels: Vec::new(),
            },
        };
        let id = h.create_ring(r, a, p)?;
        // SAFETY: per this function's contract: NULL or writable.
        if let Some(slot) = unsafe { ring_id.as_mut() } {
            put(slot, id.to_string().as_bytes())?;
        }
        Ok(())
    })
}

/// Adds `member` in `role` (`DKM_ROLE_*`) as `admin`: applied, or logged as a change request
/// once the ring has approval levels (adding a key holder); what happened into `*change`
/// (may be NULL). Already a member: `DKM_INVALID_INPUT`; not an admin: `DKM_NOT_A_MEMBER`.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `change` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_add_member(
    host: *const dkm_host,
    ring: *const c_char,
    admin: *const dkm_identity,
    role: i32,
    member: *const dkm_public_identity,
    change: *mut dkm_change,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_change(change) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        // SAFETY: per this function's contract.
        let m = unsafe { handle(member, "member") }?;
        let c = h.add_member(r, a, self::role(role)?, &m.inner)?;
        // SAFETY: `change` is NULL or writable per this function's contract.
        unsafe { put_change(change, &c) };
        Ok(())
    })
}

/// Removes `member` as `admin` (see `dkm_host_add_member`). Not a member:
/// `DKM_NOT_A_MEMBER`; the last key holder: `DKM_INVALID_INPUT`.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `change` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_remove_member(
    host: *const dkm_host,
    ring: *const c_char,
    admin: *const dkm_identity,
    member: *const dkm_public_identity,
    change: *mut dkm_change,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_change(change) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        // SAFETY: per this function's contract.
        let m = unsafe { handle(member, "member") }?;
        let c = h.remove_member(r, a, &m.inner)?;
        // SAFETY: `change` is NULL or writable per this function's contract.
        unsafe { put_change(change, &c) };
        Ok(())
    })
}

/// Sets the approval levels as `admin`: `levels_len` NUL-terminated specs
/// `"NAME:QUORUM:PUBLIC_ID,PUBLIC_ID,..."` (as `dkm policy set --level` takes them), in
/// order; none clears them. A bad spec: `DKM_INVALID_INPUT`.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `levels` `levels_len` readable pointers to
/// NUL-terminated strings (NULL when `levels_len` is 0); `change` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_set_approval_levels(
    host: *const dkm_host,
    ring: *const c_char,
    admin: *const dkm_identity,
    levels: *const *const c_char,
    levels_len: usize,
    change: *mut dkm_change,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_change(change) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        let mut specs = Vec::with_capacity(levels_len.min(64));
        if levels_len > 0 {
            if levels.is_null() {
                return Err(invalid("levels is NULL with a length above 0"));
            }
            // SAFETY: non-NULL, and `levels_len` readable pointers per the contract.
            let ptrs = unsafe { std::slice::from_raw_parts(levels, levels_len) };
            for p in ptrs {
                // SAFETY: each a NUL-terminated string per the contract.
                specs.push(LevelSpec::parse(unsafe { text(*p, "a level") }?)?);
            }
        }
        let c = h.set_approval_levels(r, a, &specs)?;
        // SAFETY: `change` is NULL or writable per this function's contract.
        unsafe { put_change(change, &c) };
        Ok(())
    })
}

/// Revokes epoch `epoch` as `admin`: its secrets no longer open.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `change` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_revoke_epoch(
    host: *const dkm_host,
    ring: *const c_char,
    admin: *const dkm_identity,
    epoch: u32,
    change: *mut dkm_change,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_change(change) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        let c = h.revoke_epoch(r, a, epoch)?;
        // SAFETY: `change` is NULL or writable per this function's contract.
        unsafe { put_change(change, &c) };
        Ok(())
    })
}

/// Shreds every interval that ends before `cutoff` (Unix seconds) as `admin`: their secrets
/// are gone for good. A future cutoff: `DKM_INVALID_INPUT`.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `change` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_shred_before(
    host: *const dkm_host,
    ring: *const c_char,
    admin: *const dkm_identity,
    cutoff: u64,
    change: *mut dkm_change,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_change(change) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        let c = h.shred_before(r, a, cutoff)?;
        // SAFETY: `change` is NULL or writable per this function's contract.
        unsafe { put_change(change, &c) };
        Ok(())
    })
}

/// Revokes grant `grant` (its id, hex) as `admin`: it opens nothing from then on.
///
/// # Safety
/// Live handles; `ring`, `grant` NUL-terminated strings; `change` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_revoke_grant(
    host: *const dkm_host,
    ring: *const c_char,
    admin: *const dkm_identity,
    grant: *const c_char,
    change: *mut dkm_change,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_change(change) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        // SAFETY: per this function's contract.
        let g = grant_id(unsafe { text(grant, "grant") }?)?;
        let c = h.revoke_grant(r, a, g)?;
        // SAFETY: `change` is NULL or writable per this function's contract.
        unsafe { put_change(change, &c) };
        Ok(())
    })
}

/// Renames ring `ring` to `new_name` as `admin` (the ring moves in the same write). Name
/// taken or invalid: `DKM_INVALID_INPUT`.
///
/// # Safety
/// Live handles; `ring`, `new_name` NUL-terminated strings; `change` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_rename_ring(
    host: *const dkm_host,
    ring: *const c_char,
    admin: *const dkm_identity,
    new_name: *const c_char,
    change: *mut dkm_change,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_change(change) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        // SAFETY: per this function's contract.
        let n = unsafe { text(new_name, "new_name") }?;
        let c = h.rename_ring(r, n, a)?;
        // SAFETY: `change` is NULL or writable per this function's contract.
        unsafe { put_change(change, &c) };
        Ok(())
    })
}

/// Applies an approved change request `request` (hex id) as `admin`; the governance version
/// into `*version` (may be NULL). Not approved: `DKM_POLICY_UNSATISFIED`.
///
/// # Safety
/// Live handles; `ring`, `request` NUL-terminated strings; `version` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_apply(
    host: *const dkm_host,
    ring: *const c_char,
    request: *const c_char,
    admin: *const dkm_identity,
    version: *mut u64,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, admin, "admin") }?;
        // SAFETY: per this function's contract.
        let q = request_id(unsafe { text(request, "request") }?)?;
        let v = h.apply(r, q, a)?;
        // SAFETY: NULL or writable per this function's contract.
        if let Some(slot) = unsafe { version.as_mut() } {
            *slot = v;
        }
        Ok(())
    })
}

fn events_json(events: &[dkm_core::ring::Event]) -> serde_json::Value {
    serde_json::Value::Array(events.iter().map(ToJson::to_json).collect())
}

/// Runs a key holder's verb that returns events, handing them out as JSON when wanted.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `events` NULL or writable.
unsafe fn holder_events(
    host: *const dkm_host,
    ring: *const c_char,
    holder: *const dkm_identity,
    events: *mut dkm_buffer,
    verb: impl FnOnce(&AnyHost, &str, &dkm_core::Identity) -> Result<Vec<dkm_core::ring::Event>>,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(events) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, k) = unsafe { with(host, ring, holder, "holder") }?;
        let ev = verb(h, r, k)?;
        // SAFETY: NULL or writable per this function's contract.
        if let Some(slot) = unsafe { events.as_mut() } {
            json(slot, &events_json(&ev))?;
        }
        Ok(())
    })
}

/// Carries out what is due as key holder `holder` (keys for the coming intervals, pending
/// changes, freshness); what it did as a JSON array of events into `*events` (may be NULL).
/// Not a key holder: `DKM_NOT_A_MEMBER`; a cut audit chain: `DKM_TAMPERED`.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `events` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_maintain(
    host: *const dkm_host,
    ring: *const c_char,
    holder: *const dkm_identity,
    events: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { holder_events(host, ring, holder, events, |h, r, k| h.maintain(r, k)) }
}

/// Starts a new epoch as key holder `holder` (as `dkm_host_maintain`, plus fresh keys).
///
/// # Safety
/// As `dkm_host_maintain`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_roll_epoch(
    host: *const dkm_host,
    ring: *const c_char,
    holder: *const dkm_identity,
    events: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { holder_events(host, ring, holder, events, |h, r, k| h.roll_epoch(r, k)) }
}

/// Seals `plaintext` under ring `ring`'s current key as key holder `holder`, bound to
/// `context` (any bytes; the same are needed to unseal; empty is valid); the sealed secret
/// (binary) into `*sealed`. Maintenance that is due (the first keys, a roll, pending changes)
/// is carried out first as `holder`, so a sealer is also a ring's maintainer.
/// `DKM_NOT_A_MEMBER` when `holder` is not a key holder; `DKM_TAMPERED` when the audit chain
/// a due maintenance would extend is cut.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `plaintext` / `context` readable for their
/// lengths (or NULL with length 0); `sealed` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_seal(
    host: *const dkm_host,
    ring: *const c_char,
    holder: *const dkm_identity,
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const u8,
    context_len: usize,
    sealed: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(sealed) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, k) = unsafe { with(host, ring, holder, "holder") }?;
        // SAFETY: per this function's contract.
        let p = unsafe { bytes(plaintext, plaintext_len, "plaintext") }?;
        // SAFETY: per this function's contract.
        let c = unsafe { bytes(context, context_len, "context") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { out(sealed, "sealed") }?;
        put_vec(slot, h.seal(r, k, p, c)?)
    })
}

/// As `dkm_host_seal`, the sealed secret as its `dkm1:` text armor.
///
/// # Safety
/// As `dkm_host_seal`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_seal_armored(
    host: *const dkm_host,
    ring: *const c_char,
    holder: *const dkm_identity,
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const u8,
    context_len: usize,
    armored: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(armored) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, k) = unsafe { with(host, ring, holder, "holder") }?;
        // SAFETY: per this function's contract.
        let p = unsafe { bytes(plaintext, plaintext_len, "plaintext") }?;
        // SAFETY: per this function's contract.
        let c = unsafe { bytes(context, context_len, "context") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { out(armored, "armored") }?;
        put_vec(slot, h.seal_armored(r, k, p, c)?.into_bytes())
    })
}

/// Hands out an unsealed plaintext and, when `origin` is not NULL, its origin.
///
/// # Safety
/// `origin` must be NULL or writable.
unsafe fn put_unsealed(u: Unsealed, plaintext: &mut dkm_buffer, origin: *mut i32) -> Result<()> {
    let origin_code = match u.origin {
        Origin::KeyHolder => DKM_ORIGIN_KEY_HOLDER,
        Origin::SealOnly => DKM_ORIGIN_SEAL_ONLY,
    };
    put_secret(plaintext, u.plaintext)?;
    // SAFETY: NULL or writable per this function's contract.
    if let Some(o) = unsafe { origin.as_mut() } {
        *o = origin_code;
    }
    Ok(())
}

/// Opens a sealed secret (binary or `dkm1:` armor) of ring `ring` as key holder `holder`
/// with the `context` it was sealed with; the plaintext into `*plaintext` (zeroized by
/// `dkm_buffer_free`) and its origin (`DKM_ORIGIN_*`) into `*origin` (may be NULL).
/// `seal_only` is `DKM_ACCEPT_SEAL_ONLY` or `DKM_REFUSE_SEAL_ONLY`. A wrong context or a
/// changed byte: `DKM_TAMPERED`; `DKM_UNKNOWN_KEY`, `DKM_KEY_REVOKED`, `DKM_KEY_DESTROYED`.
///
/// # Safety
/// Live handles; `ring` a NUL-terminated string; `sealed` / `context` readable for their
/// lengths; `plaintext` writable; `origin` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_unseal(
    host: *const dkm_host,
    ring: *const c_char,
    holder: *const dkm_identity,
    sealed: *const u8,
    sealed_len: usize,
    context: *const u8,
    context_len: usize,
    seal_only: i32,
    plaintext: *mut dkm_buffer,
    origin: *mut i32,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(plaintext) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, k) = unsafe { with(host, ring, holder, "holder") }?;
        // SAFETY: per this function's contract.
        let s = unsafe { bytes(sealed, sealed_len, "sealed") }?;
        // SAFETY: per this function's contract.
        let c = unsafe { bytes(context, context_len, "context") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { out(plaintext, "plaintext") }?;
        let u = h.unseal(r, k, s, c, self::seal_only(seal_only)?)?;
        // SAFETY: `origin` is NULL or writable per this function's contract.
        unsafe { put_unsealed(u, slot, origin) }
    })
}

/// Opens a sealed secret through grant `grant` (hex id) as its `requester` (elevated access):
/// the use is written to the audit chain before the plaintext is handed out, and nothing is
/// handed out if that write fails. Outside the grant's window or revoked:
/// `DKM_GRANT_EXPIRED`; outside its scope: `DKM_UNKNOWN_KEY`. Otherwise as `dkm_host_unseal`.
///
/// # Safety
/// As `dkm_host_unseal`; `grant` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_unseal_with_grant(
    host: *const dkm_host,
    ring: *const c_char,
    requester: *const dkm_identity,
    grant: *const c_char,
    sealed: *const u8,
    sealed_len: usize,
    context: *const u8,
    context_len: usize,
    seal_only: i32,
    plaintext: *mut dkm_buffer,
    origin: *mut i32,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(plaintext) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, q) = unsafe { with(host, ring, requester, "requester") }?;
        // SAFETY: per this function's contract.
        let g = grant_id(unsafe { text(grant, "grant") }?)?;
        // SAFETY: per this function's contract.
        let s = unsafe { bytes(sealed, sealed_len, "sealed") }?;
        // SAFETY: per this function's contract.
        let c = unsafe { bytes(context, context_len, "context") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { out(plaintext, "plaintext") }?;
        let u = h.unseal_with_grant(r, q, g, s, c, self::seal_only(seal_only)?)?;
        // SAFETY: `origin` is NULL or writable per this function's contract.
        unsafe { put_unsealed(u, slot, origin) }
    })
}

/// Ring `ring`'s public part (what a seal-only party needs: `dkm_ring_public_new`) into
/// `*public_part`.
///
/// # Safety
/// `host` a live handle; `ring` a NUL-terminated string; `public_part` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_export_public(
    host: *const dkm_host,
    ring: *const c_char,
    public_part: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { ring_bytes(host, ring, public_part, |h, r| h.export_public(r)) }
}

/// Seals `plaintext` to a ring's public part (seal-only: no identity; the sealer cannot read
/// it back) at the host's clock; binary into `*sealed`, or its `dkm1:` armor when `armored` is
/// 1. `DKM_STALE` when no published key covers the time.
///
/// # Safety
/// `host`, `ring_public` live handles; `plaintext` / `context` readable for their lengths;
/// `sealed` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_seal_to_public(
    host: *const dkm_host,
    ring_public: *const dkm_ring_public,
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const u8,
    context_len: usize,
    armored: i32,
    sealed: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(sealed) };
    guard(|| {
        // SAFETY: per this function's contract.
        let h = unsafe { handle(host, "host") }?;
        // SAFETY: per this function's contract.
        let rp = unsafe { handle(ring_public, "ring_public") }?;
        // SAFETY: per this function's contract.
        let p = unsafe { bytes(plaintext, plaintext_len, "plaintext") }?;
        // SAFETY: per this function's contract.
        let c = unsafe { bytes(context, context_len, "context") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { out(sealed, "sealed") }?;
        let s = h.inner.seal_public(&rp.inner, p, c)?;
        match armored {
            0 => put_vec(slot, s),
            1 => put_vec(slot, dkm_core::armor(&s).into_bytes()),
            _ => Err(invalid("armored is neither 0 nor 1")),
        }
    })
}

/// Runs a verb that reads one ring and hands out public bytes: `verb` gets the host and the
/// ring's name and returns them (a JSON view, a public part, a snapshot).
///
/// # Safety
/// `host` a live handle; `ring` a NUL-terminated string; `out` writable.
unsafe fn ring_bytes(
    host: *const dkm_host,
    ring: *const c_char,
    out: *mut dkm_buffer,
    verb: impl FnOnce(&AnyHost, &str) -> Result<Vec<u8>>,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let h = unsafe { handle(host, "host") }?;
        // SAFETY: per this function's contract.
        let r = unsafe { text(ring, "ring") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        put_vec(slot, verb(&h.inner, r)?)
    })
}

/// Runs a view verb: `view` gets the host and ring name and returns the JSON.
///
/// # Safety
/// As [`ring_bytes`].
unsafe fn view(
    host: *const dkm_host,
    ring: *const c_char,
    out: *mut dkm_buffer,
    view: impl FnOnce(&AnyHost, &str) -> Result<serde_json::Value>,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe {
        ring_bytes(host, ring, out, |h, r| {
            Ok(view(h, r)?.to_string().into_bytes())
        })
    }
}

/// Ring `ring`'s key listing (epochs, current interval, freshness; never key material) as
/// JSON into `*json` (the `dkm keys --json` form; docs/API.md).
///
/// # Safety
/// `host` a live handle; `ring` a NUL-terminated string; `json` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_keys(
    host: *const dkm_host,
    ring: *const c_char,
    json: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { view(host, ring, json, |h, r| Ok(h.keys(r)?.to_json())) }
}

/// Ring `ring`'s members, policy, epochs, pending changes and warnings as JSON into `*json`
/// (the `dkm ring show --json` form).
///
/// # Safety
/// As `dkm_host_keys`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_ring_info(
    host: *const dkm_host,
    ring: *const c_char,
    json: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { view(host, ring, json, |h, r| Ok(h.ring_info(r)?.to_json())) }
}

/// Ring `ring`'s requests (access and change requests with their state) as a JSON array into
/// `*json` (the `dkm access list --json` form).
///
/// # Safety
/// As `dkm_host_keys`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_requests(
    host: *const dkm_host,
    ring: *const c_char,
    json: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe {
        view(host, ring, json, |h, r| {
            Ok(serde_json::Value::Array(
                h.requests(r)?.iter().map(ToJson::to_json).collect(),
            ))
        })
    }
}

/// Ring `ring`'s audit records as a JSON array into `*json`.
///
/// # Safety
/// As `dkm_host_keys`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_audit_records(
    host: *const dkm_host,
    ring: *const c_char,
    json: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe {
        view(host, ring, json, |h, r| {
            Ok(serde_json::Value::Array(
                h.audit_records(r)?.iter().map(ToJson::to_json).collect(),
            ))
        })
    }
}

/// Verifies ring `ring`'s audit chain: 1 into `*intact` when it verifies, 0 when it does not
/// (a broken chain is a result, not an error); the report (records, head, the first problem)
/// as JSON into `*json` (may be NULL).
///
/// # Safety
/// `host` a live handle; `ring` a NUL-terminated string; `intact` writable; `json` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_audit_verify(
    host: *const dkm_host,
    ring: *const c_char,
    intact: *mut i32,
    json: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(json) };
    guard(|| {
        // SAFETY: per this function's contract.
        let h = unsafe { handle(host, "host") }?;
        // SAFETY: per this function's contract.
        let r = unsafe { text(ring, "ring") }?;
        // SAFETY: per this function's contract.
        let ok = unsafe { out(intact, "intact") }?;
        let report = h.inner.audit_verify(r)?;
        // SAFETY: NULL or writable per this function's contract.
        if let Some(slot) = unsafe { json.as_mut() } {
            self::json(slot, &report.to_json())?;
        }
        *ok = i32::from(report.problem.is_none());
        Ok(())
    })
}

/// Asks for elevated access to ring `ring` as `requester` (a person, never a key holder) for
/// `duration_secs`, with `reason`; the scope: secrets sealed since `*since` (Unix seconds;
/// NULL: none), or the closed epochs `epochs[0..epochs_len]`, or neither (secrets sealed from
/// the request on); both: `DKM_INVALID_INPUT`. The request's id (hex) into `*request`.
///
/// # Safety
/// Live handles; `ring`, `reason` NUL-terminated strings; `since` NULL or readable; `epochs`
/// `epochs_len` readable values (NULL when 0); `request` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_request_access(
    host: *const dkm_host,
    ring: *const c_char,
    requester: *const dkm_identity,
    reason: *const c_char,
    duration_secs: u64,
    since: *const u64,
    epochs: *const u32,
    epochs_len: usize,
    request: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(request) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, q) = unsafe { with(host, ring, requester, "requester") }?;
        // SAFETY: per this function's contract.
        let why = unsafe { text(reason, "reason") }?;
        // SAFETY: NULL or readable per this function's contract.
        let since = unsafe { since.as_ref() }.copied();
        let epochs: &[u32] = if epochs_len == 0 {
            &[]
        } else if epochs.is_null() {
            return Err(invalid("epochs is NULL with a length above 0"));
        } else {
            // SAFETY: non-NULL, `epochs_len` readable values per the contract.
            unsafe { std::slice::from_raw_parts(epochs, epochs_len) }
        };
        // SAFETY: per this function's contract.
        let slot = unsafe { out(request, "request") }?;
        let scope = ::dkm_host::access_scope(since, epochs)?;
        let id = h.request_access(r, q, why, duration_secs, scope)?;
        put(slot, id.to_string().as_bytes())
    })
}

/// Approves request `request` (hex id) at approval level `level` as `approver`.
///
/// # Safety
/// Live handles; `ring`, `request`, `level` NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_approve(
    host: *const dkm_host,
    ring: *const c_char,
    request: *const c_char,
    level: *const c_char,
    approver: *const dkm_identity,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, approver, "approver") }?;
        // SAFETY: per this function's contract.
        let q = request_id(unsafe { text(request, "request") }?)?;
        // SAFETY: per this function's contract.
        let l = unsafe { text(level, "level") }?;
        h.approve(r, q, l, a)
    })
}

/// Denies request `request` at level `level` as `approver` (one valid denial ends it).
///
/// # Safety
/// As `dkm_host_approve`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_deny(
    host: *const dkm_host,
    ring: *const c_char,
    request: *const c_char,
    level: *const c_char,
    approver: *const dkm_identity,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, a) = unsafe { with(host, ring, approver, "approver") }?;
        // SAFETY: per this function's contract.
        let q = request_id(unsafe { text(request, "request") }?)?;
        // SAFETY: per this function's contract.
        let l = unsafe { text(level, "level") }?;
        h.deny(r, q, l, a)
    })
}

/// Issues the grant for approved request `request` as key holder `holder`; the grant's id
/// (hex, what `dkm_host_unseal_with_grant` takes) into `*grant_id`, and the issued grant as
/// JSON into `*json` (may be NULL). Not approved: `DKM_POLICY_UNSATISFIED`.
///
/// # Safety
/// Live handles; `ring`, `request` NUL-terminated strings; `grant_id` writable; `json` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_grant(
    host: *const dkm_host,
    ring: *const c_char,
    request: *const c_char,
    holder: *const dkm_identity,
    grant_id: *mut dkm_buffer,
    json: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(grant_id) };
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(json) };
    guard(|| {
        // SAFETY: per this function's contract.
        let (h, r, k) = unsafe { with(host, ring, holder, "holder") }?;
        // SAFETY: per this function's contract.
        let q = request_id(unsafe { text(request, "request") }?)?;
        // SAFETY: per this function's contract.
        let slot = unsafe { out(grant_id, "grant_id") }?;
        let g = h.grant(r, q, k)?;
        // SAFETY: NULL or writable per this function's contract.
        if let Some(j) = unsafe { json.as_mut() } {
            self::json(j, &g.to_json())?;
        }
        put(slot, g.id.to_string().as_bytes())
    })
}

/// Ring `ring` with its audit chain and request log as one snapshot (SPEC §14.1) into
/// `*snapshot`: how a ring moves between stores.
///
/// # Safety
/// `host` a live handle; `ring` a NUL-terminated string; `snapshot` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_export_snapshot(
    host: *const dkm_host,
    ring: *const c_char,
    snapshot: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { ring_bytes(host, ring, snapshot, |h, r| h.export_snapshot(r)) }
}

/// Imports a snapshot into the host's store, verified (through the host's pin when it has
/// one); the ring's name into `*name`. `DKM_TAMPERED`, `DKM_ROLLBACK`; a name taken:
/// `DKM_INVALID_INPUT`.
///
/// # Safety
/// `host` a live handle; `snapshot` `snapshot_len` readable bytes; `name` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_host_import_snapshot(
    host: *const dkm_host,
    snapshot: *const u8,
    snapshot_len: usize,
    name: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(name) };
    guard(|| {
        // SAFETY: per this function's contract.
        let h = unsafe { handle(host, "host") }?;
        // SAFETY: per this function's contract.
        let s = unsafe { bytes(snapshot, snapshot_len, "snapshot") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { out(name, "name") }?;
        put(slot, h.inner.import_snapshot(s)?.as_bytes())
    })
}
