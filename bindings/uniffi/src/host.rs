//! [`Host`]: one method per host verb, converting values and nothing more.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dkm_core::access::RequestId;
use dkm_core::ring::Role as CoreRole;
use dkm_host::views::ToJson;
use dkm_host::{
    Clock as HostClock, Host as HostOf, HostError, PinBook, SealOnly, SharedStore, access_scope,
    files,
};
use zeroize::Zeroizing;

use crate::error::{DkmError, invalid};
use crate::identity::{Identity, Pins, PinsKind, PublicIdentity, pin_arg};
use crate::store::Store;

type AnyHost = HostOf<SharedStore>;

/// `t` in Unix seconds (sub-second parts dropped).
pub(crate) fn unix(t: SystemTime, what: &str) -> Result<u64, DkmError> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| invalid(format!("{what} is before 1970")))
}

/// The system clock in Unix seconds.
pub(crate) fn unix_now() -> Result<u64, DkmError> {
    Ok(HostClock::system().now()?)
}

/// Unix seconds as a time.
fn time(secs: u64) -> Result<SystemTime, DkmError> {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .ok_or_else(|| DkmError::Internal(format!("time {secs} is past what this platform holds")))
}

/// A role in a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// Governs the ring; holds no keys.
    Admin,
    /// A key holder: a service account that opens the ring's keys.
    Service,
    /// Approves requests at an approval level; holds no keys.
    Approver,
}

impl From<Role> for CoreRole {
    fn from(r: Role) -> CoreRole {
        match r {
            Role::Admin => CoreRole::Admin,
            Role::Service => CoreRole::Service,
            Role::Approver => CoreRole::Approver,
        }
    }
}

/// A ring's policy (the approval levels are set apart, with `set_approval_levels`).
/// `default_policy()` gives the defaults.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Policy {
    /// Interval length of new epochs, in seconds.
    pub interval_secs: i64,
    /// Longest grant of elevated access, in seconds.
    pub max_grant_secs: i64,
    /// How far back a grant's scope may reach, in seconds.
    pub max_lookback_secs: i64,
    /// How long a request stays open, in seconds.
    pub request_lifetime_secs: i64,
    /// Freshness: a key holder must run `maintain` within this many intervals of its last
    /// write (at most 64).
    pub freshness_intervals: i32,
    /// A newly added approver counts only this long after the write that bound it, in
    /// seconds.
    pub approver_cooloff_secs: i64,
}

/// A count or duration the core keeps unsigned, from the signed integer the bindings use
/// (Java has no unsigned types): a negative one is `InvalidInput`.
pub(crate) fn unsigned<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T, DkmError> {
    T::try_from(v).map_err(|_| invalid(format!("{what} must be between 0 and its limit, not {v}")))
}

/// An unsigned count of the core as a signed integer (the core's values are far below 2^63).
fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl From<&dkm_core::Policy> for Policy {
    fn from(p: &dkm_core::Policy) -> Policy {
        Policy {
            interval_secs: signed(p.interval_secs),
            max_grant_secs: signed(p.max_grant_secs),
            max_lookback_secs: signed(p.max_lookback_secs),
            request_lifetime_secs: signed(p.request_lifetime_secs),
            freshness_intervals: i32::try_from(p.freshness_intervals).unwrap_or(i32::MAX),
            approver_cooloff_secs: signed(p.approver_cooloff_secs),
        }
    }
}

impl TryFrom<Policy> for dkm_core::Policy {
    type Error = DkmError;
    fn try_from(p: Policy) -> Result<dkm_core::Policy, DkmError> {
        Ok(dkm_core::Policy {
            interval_secs: unsigned(p.interval_secs, "interval_secs")?,
            max_grant_secs: unsigned(p.max_grant_secs, "max_grant_secs")?,
            max_lookback_secs: unsigned(p.max_lookback_secs, "max_lookback_secs")?,
            request_lifetime_secs: unsigned(p.request_lifetime_secs, "request_lifetime_secs")?,
            freshness_intervals: unsigned(i64::from(p.freshness_intervals), "freshness_intervals")?,
            approver_cooloff_secs: unsigned(p.approver_cooloff_secs, "approver_cooloff_secs")?,
            levels: Vec::new(),
        })
    }
}

/// One approval level of `set_approval_levels`.
#[derive(Clone, Debug, uniffi::Record)]
pub struct LevelSpec {
    /// The level's name (1-32 ASCII letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// How many of its approvers must approve (1 to their number).
    pub quorum: i32,
    /// Its approvers (members with the approver role).
    pub approvers: Vec<Arc<PublicIdentity>>,
}

/// What a governance verb did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeOutcome {
    /// Signed and stored: the new governance version; key holders must still run
    /// `maintain` (`pending`).
    Applied {
        /// The governance version.
        version: i64,
        /// Key holders must still carry it out.
        pending: bool,
    },
    /// It needs the approval policy's quorum: logged as a request (approve it, then `apply`).
    Requested {
        /// The request's id (hex).
        request: String,
    },
}

impl From<dkm_host::ChangeOutcome> for ChangeOutcome {
    fn from(c: dkm_host::ChangeOutcome) -> ChangeOutcome {
        match c {
            dkm_host::ChangeOutcome::Applied { version, pending } => ChangeOutcome::Applied {
                version: signed(version),
                pending,
            },
            dkm_host::ChangeOutcome::Requested { request } => ChangeOutcome::Requested {
                request: request.to_string(),
            },
        }
    }
}

/// Who sealed an unsealed secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Origin {
    /// Sealed with the interval's leaf: by a key holder (or a grant holder within scope).
    KeyHolder,
    /// Sealed by a seal-only party (anyone with the ring's public part): not authenticated.
    SealOnly,
}

/// An opened secret and who sealed it. An object, not a record: its string form never shows
/// the plaintext, and the plaintext kept here is wiped when the object is destroyed.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct Unsealed {
    plaintext: Zeroizing<Vec<u8>>,
    origin: Origin,
}

#[uniffi::export]
impl Unsealed {
    /// The plaintext (a copy in the foreign language's memory: dkm cannot wipe it).
    pub fn plaintext(&self) -> Vec<u8> {
        self.plaintext.to_vec()
    }

    /// Who sealed it.
    pub fn origin(&self) -> Origin {
        self.origin
    }
}

impl std::fmt::Display for Unsealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Unsealed({} bytes, {:?})",
            self.plaintext.len(),
            self.origin
        )
    }
}

fn unsealed(u: dkm_host::Unsealed) -> Arc<Unsealed> {
    Arc::new(Unsealed {
        plaintext: u.plaintext,
        origin: match u.origin {
            dkm_host::Origin::KeyHolder => Origin::KeyHolder,
            dkm_host::Origin::SealOnly => Origin::SealOnly,
        },
    })
}

/// A grant of elevated access.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct IssuedGrant {
    /// Its id (hex: what `unseal_with_grant` takes).
    pub id: String,
    /// The request it answers (hex).
    pub request: String,
    /// Who may use it (identity id, hex).
    pub requester: String,
    /// Its window's start.
    pub not_before: SystemTime,
    /// Its window's end.
    pub not_after: SystemTime,
    /// The signed grant (public: its parts are wrapped to the requester).
    pub bytes: Vec<u8>,
}

/// A host's clock.
#[derive(uniffi::Object)]
pub struct Clock {
    inner: HostClock,
}

#[uniffi::export]
impl Clock {
    /// The system clock, read at each operation.
    #[uniffi::constructor]
    pub fn system() -> Arc<Clock> {
        Arc::new(Clock {
            inner: HostClock::system(),
        })
    }

    /// A fixed time (tests and demos; audit records carry the clock-override flag).
    #[uniffi::constructor]
    pub fn fixed(at: SystemTime) -> Result<Arc<Clock>, DkmError> {
        Ok(Arc::new(Clock {
            inner: HostClock::fixed(unix(at, "the clock's time")?),
        }))
    }
}

/// A host: the verbs of dkm on the rings of one store, with a pin book and a clock. Thread
/// safe: one host serves many threads. It keeps verified rings and opened key holders in
/// memory. Every verb that acts as someone takes the identity last, as `by`.
///
/// Views with many fields (`keys`, `ring_info`, `requests`, `audit_records`,
/// `audit_verify`, the events of `maintain`) are returned as their JSON text: the `dkm`
/// command's `--json` form and the C API's, `docs/API.md`.
#[derive(uniffi::Object)]
pub struct Host {
    inner: Arc<AnyHost>,
    store: Arc<Store>,
}

fn request_id(text: &str) -> Result<RequestId, DkmError> {
    RequestId::from_hex(text.trim()).map_err(|e| HostError::from(e).into())
}

fn json_array<T: ToJson>(items: &[T]) -> String {
    serde_json::Value::Array(items.iter().map(ToJson::to_json).collect()).to_string()
}

fn seal_only(accept: bool) -> SealOnly {
    if accept {
        SealOnly::Accept
    } else {
        SealOnly::Refuse
    }
}

#[uniffi::export]
impl Host {
    /// A host on `store`, keeping pins in `pins` (absent: the `dkm` command's pin book,
    /// `$DKM_HOME/pins`) with `clock` (absent: the system clock).
    #[uniffi::constructor(default(pins = None, clock = None))]
    pub fn new(
        store: Arc<Store>,
        pins: Option<Arc<Pins>>,
        clock: Option<Arc<Clock>>,
    ) -> Result<Arc<Host>, DkmError> {
        let clock = clock.map_or_else(HostClock::system, |c| c.inner.clone());
        let shared = Arc::clone(&store.inner);
        let host = match pins.as_deref().map(|p| &p.kind) {
            None => HostOf::new(shared, PinBook::new(files::dkm_home().join("pins")), clock)?,
            Some(PinsKind::Directory(d)) => HostOf::new(shared, PinBook::new(d.clone()), clock)?,
            Some(PinsKind::Memory(m)) => HostOf::new(shared, Arc::clone(m), clock)?,
        };
        let host = Arc::new(host);
        // On a store that announces other writers' changes, a thread reloads the rings this
        // host keeps as they change; it ends with the host.
        let _ = HostOf::spawn_refresher(&host);
        Ok(Arc::new(Host { inner: host, store }))
    }

    /// The store this host runs on.
    pub fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

    /// The time now, read from the host's clock.
    pub fn now(&self) -> Result<SystemTime, DkmError> {
        time(self.inner.now()?)
    }

    // ---- governance ----

    /// Creates ring `name` with `by` as its first admin and `policy` (the default policy when
    /// absent); returns the ring's id (hex). The ring has no keys until a key holder is added
    /// and runs `maintain`.
    #[uniffi::method(default(policy = None))]
    pub fn create_ring(
        &self,
        name: String,
        policy: Option<Policy>,
        by: Arc<Identity>,
    ) -> Result<String, DkmError> {
        let policy = match policy {
            Some(p) => p.try_into()?,
            None => dkm_core::Policy::default(),
        };
        Ok(self
            .inner
            .create_ring(&name, &by.inner, policy)?
            .to_string())
    }

    /// Adds `member` with `role`, as the admin `by` (adding a key holder needs the quorum once
    /// the ring has approval levels: then the outcome is `Requested`).
    pub fn add_member(
        &self,
        ring: String,
        role: Role,
        member: Arc<PublicIdentity>,
        by: Arc<Identity>,
    ) -> Result<ChangeOutcome, DkmError> {
        Ok(self
            .inner
            .add_member(&ring, &by.inner, role.into(), &member.inner)?
            .into())
    }

    /// Removes `member`, as the admin `by` (no quorum; a key holder's `maintain` carries it
    /// out and rolls the keys).
    pub fn remove_member(
        &self,
        ring: String,
        member: Arc<PublicIdentity>,
        by: Arc<Identity>,
    ) -> Result<ChangeOutcome, DkmError> {
        Ok(self
            .inner
            .remove_member(&ring, &by.inner, &member.inner)?
            .into())
    }

    /// Sets the approval levels, in order, as the admin `by` (needs the quorum once there
    /// are levels).
    pub fn set_approval_levels(
        &self,
        ring: String,
        levels: Vec<LevelSpec>,
        by: Arc<Identity>,
    ) -> Result<ChangeOutcome, DkmError> {
        let levels = levels
            .into_iter()
            .map(|l| {
                Ok(dkm_host::LevelSpec {
                    quorum: unsigned(i64::from(l.quorum), "a level's quorum")?,
                    name: l.name,
                    approvers: l.approvers.iter().map(|a| a.inner.clone()).collect(),
                })
            })
            .collect::<Result<Vec<_>, DkmError>>()?;
        Ok(self
            .inner
            .set_approval_levels(&ring, &by.inner, &levels)?
            .into())
    }

    /// Revokes `epoch`, as the admin `by`.
    pub fn revoke_epoch(
        &self,
        ring: String,
        epoch: i64,
        by: Arc<Identity>,
    ) -> Result<ChangeOutcome, DkmError> {
        let epoch = unsigned(epoch, "the epoch")?;
        Ok(self.inner.revoke_epoch(&ring, &by.inner, epoch)?.into())
    }

    /// Shreds every interval that ends before `cutoff`, as the admin `by` (a future cutoff
    /// is `InvalidInput`).
    pub fn shred_before(
        &self,
        ring: String,
        cutoff: SystemTime,
        by: Arc<Identity>,
    ) -> Result<ChangeOutcome, DkmError> {
        let cutoff = unix(cutoff, "the cutoff")?;
        Ok(self.inner.shred_before(&ring, &by.inner, cutoff)?.into())
    }

    /// Revokes grant `grant` (hex id), as the admin `by` (no quorum).
    pub fn revoke_grant(
        &self,
        ring: String,
        grant: String,
        by: Arc<Identity>,
    ) -> Result<ChangeOutcome, DkmError> {
        let g = files::grant_id_arg(&grant)?;
        Ok(self.inner.revoke_grant(&ring, &by.inner, g)?.into())
    }

    /// Renames the ring to `new_name`, as the admin `by`.
    pub fn rename_ring(
        &self,
        ring: String,
        new_name: String,
        by: Arc<Identity>,
    ) -> Result<ChangeOutcome, DkmError> {
        Ok(self.inner.rename_ring(&ring, &new_name, &by.inner)?.into())
    }

    /// Signs the approved change request `request` (hex id), as the admin `by`; returns the
    /// new governance version.
    pub fn apply(&self, ring: String, request: String, by: Arc<Identity>) -> Result<i64, DkmError> {
        Ok(signed(self.inner.apply(
            &ring,
            request_id(&request)?,
            &by.inner,
        )?))
    }

    // ---- key holders ----

    /// Carries out what is due, as the key holder `by` (keys for the coming intervals,
    /// pending changes, freshness); returns what it did as a JSON array of events.
    pub fn maintain(&self, ring: String, by: Arc<Identity>) -> Result<String, DkmError> {
        Ok(json_array(&self.inner.maintain(&ring, &by.inner)?))
    }

    /// `maintain`, and a new epoch (fresh key material) from now on.
    pub fn roll_epoch(&self, ring: String, by: Arc<Identity>) -> Result<String, DkmError> {
        Ok(json_array(&self.inner.roll_epoch(&ring, &by.inner)?))
    }

    /// Seals `plaintext` under `context` (bound to the secret: the same context must be
    /// given to unseal it; may be empty), as the key holder `by`, running `maintain` first
    /// when the ring needs it. `Stale` when the ring has pending changes it cannot carry out.
    pub fn seal(
        &self,
        ring: String,
        plaintext: Vec<u8>,
        context: Vec<u8>,
        by: Arc<Identity>,
    ) -> Result<Vec<u8>, DkmError> {
        let pt = Zeroizing::new(plaintext);
        Ok(self.inner.seal(&ring, &by.inner, &pt, &context)?)
    }

    /// `seal`, as the text armor (`dkm1:...`).
    pub fn seal_armored(
        &self,
        ring: String,
        plaintext: Vec<u8>,
        context: Vec<u8>,
        by: Arc<Identity>,
    ) -> Result<String, DkmError> {
        let pt = Zeroizing::new(plaintext);
        Ok(self.inner.seal_armored(&ring, &by.inner, &pt, &context)?)
    }

    /// Opens `sealed` (binary or armored) under `context`, as the key holder `by`. With
    /// `accept_seal_only` false, a secret sealed by a seal-only party is refused
    /// (`InvalidInput`) before it is opened.
    #[uniffi::method(default(accept_seal_only = true))]
    pub fn unseal(
        &self,
        ring: String,
        sealed: Vec<u8>,
        context: Vec<u8>,
        by: Arc<Identity>,
        accept_seal_only: bool,
    ) -> Result<Arc<Unsealed>, DkmError> {
        Ok(unsealed(self.inner.unseal(
            &ring,
            &by.inner,
            &sealed,
            &context,
            seal_only(accept_seal_only),
        )?))
    }

    /// Opens `sealed` through grant `grant` (hex id) as its requester `by` (elevated access):
    /// the use is written to the audit chain first, and nothing is opened if that write
    /// fails. Outside the grant's window or revoked: `GrantExpired`; outside its scope:
    /// `UnknownKey`.
    #[uniffi::method(default(accept_seal_only = true))]
    pub fn unseal_with_grant(
        &self,
        ring: String,
        grant: String,
        sealed: Vec<u8>,
        context: Vec<u8>,
        by: Arc<Identity>,
        accept_seal_only: bool,
    ) -> Result<Arc<Unsealed>, DkmError> {
        let g = files::grant_id_arg(&grant)?;
        Ok(unsealed(self.inner.unseal_with_grant(
            &ring,
            &by.inner,
            g,
            &sealed,
            &context,
            seal_only(accept_seal_only),
        )?))
    }

    /// What a seal-only party needs (the ring's pin and public part): give it to
    /// `RingPublic(part)` or `seal_to`.
    pub fn export_public(&self, ring: String) -> Result<Vec<u8>, DkmError> {
        Ok(self.inner.export_public(&ring)?)
    }

    /// Seals to a ring's public part (seal-only: no identity), at the host's clock; verified
    /// through `pin` (hex) when given, else through the pin the part carries.
    #[uniffi::method(default(pin = None))]
    pub fn seal_to(
        &self,
        public: Vec<u8>,
        plaintext: Vec<u8>,
        context: Vec<u8>,
        pin: Option<String>,
    ) -> Result<Vec<u8>, DkmError> {
        let pin = pin.as_deref().map(pin_arg).transpose()?;
        let pt = Zeroizing::new(plaintext);
        Ok(self.inner.seal_to(&public, pin.as_ref(), &pt, &context)?)
    }

    // ---- elevated access ----

    /// Logs an access request by `by` for `duration_secs` (at most the ring's longest grant)
    /// to secrets sealed since `since`, or to the closed `epochs` (neither: secrets sealed
    /// from now); returns its id (hex).
    #[uniffi::method(default(since = None, epochs = []))]
    pub fn request_access(
        &self,
        ring: String,
        reason: String,
        duration_secs: i64,
        by: Arc<Identity>,
        since: Option<SystemTime>,
        epochs: Vec<i64>,
    ) -> Result<String, DkmError> {
        let duration_secs = unsigned(duration_secs, "the duration")?;
        let epochs = epochs
            .into_iter()
            .map(|e| unsigned(e, "an epoch"))
            .collect::<Result<Vec<u32>, DkmError>>()?;
        let since = since.map(|t| unix(t, "since")).transpose()?;
        let scope = access_scope(since, &epochs)?;
        Ok(self
            .inner
            .request_access(&ring, &by.inner, &reason, duration_secs, scope)?
            .to_string())
    }

    /// Every logged request and where it stands, as a JSON array (`dkm access list --json`).
    pub fn requests(&self, ring: String) -> Result<String, DkmError> {
        Ok(json_array(&self.inner.requests(&ring)?))
    }

    /// Approves request `request` (hex id) at `level`, as the approver `by`.
    pub fn approve(
        &self,
        ring: String,
        request: String,
        level: String,
        by: Arc<Identity>,
    ) -> Result<(), DkmError> {
        Ok(self
            .inner
            .approve(&ring, request_id(&request)?, &level, &by.inner)?)
    }

    /// Denies request `request` (hex id) at `level`, as the approver `by`.
    pub fn deny(
        &self,
        ring: String,
        request: String,
        level: String,
        by: Arc<Identity>,
    ) -> Result<(), DkmError> {
        Ok(self
            .inner
            .deny(&ring, request_id(&request)?, &level, &by.inner)?)
    }

    /// Issues the grant for the approved access request `request` (hex id), as the key
    /// holder `by`.
    pub fn grant(
        &self,
        ring: String,
        request: String,
        by: Arc<Identity>,
    ) -> Result<IssuedGrant, DkmError> {
        let g = self.inner.grant(&ring, request_id(&request)?, &by.inner)?;
        Ok(IssuedGrant {
            id: g.id.to_string(),
            request: g.request.to_string(),
            requester: g.requester.to_string(),
            not_before: time(g.not_before)?,
            not_after: time(g.not_after)?,
            bytes: g.bytes,
        })
    }

    // ---- views ----

    /// The ring's epochs and key state as JSON (`dkm keys --json`).
    pub fn keys(&self, ring: String) -> Result<String, DkmError> {
        Ok(self.inner.keys(&ring)?.to_json().to_string())
    }

    /// The ring's members, policy, epochs, pending changes and warnings as JSON (`dkm ring
    /// show --json`).
    pub fn ring_info(&self, ring: String) -> Result<String, DkmError> {
        Ok(self.inner.ring_info(&ring)?.to_json().to_string())
    }

    /// The ring's audit records as a JSON array.
    pub fn audit_records(&self, ring: String) -> Result<String, DkmError> {
        Ok(json_array(&self.inner.audit_records(&ring)?))
    }

    /// Verifies the ring's audit chain: a JSON report (`records`, `head`, `problem`: null
    /// when the chain is whole). A broken chain is data, not an error.
    pub fn audit_verify(&self, ring: String) -> Result<String, DkmError> {
        Ok(self.inner.audit_verify(&ring)?.to_json().to_string())
    }

    // ---- snapshots ----

    /// The ring with its audit chain and request log, signed (SPEC §14.1).
    pub fn export_snapshot(&self, ring: String) -> Result<Vec<u8>, DkmError> {
        Ok(self.inner.export_snapshot(&ring)?)
    }

    /// Imports a snapshot into this host's store; returns the ring's name.
    pub fn import_snapshot(&self, snapshot: Vec<u8>) -> Result<String, DkmError> {
        Ok(self.inner.import_snapshot(&snapshot)?)
    }
}
