//! Views: plain data the verbs return, each with one JSON form ([`ToJson`]) that every
//! surface shows as it is (the `dkm` command's `--json` output is exactly this form), read
//! back by [`FromJson`] only from exactly that form. Times in views' JSON are RFC 3339 (the
//! audit record's stored line and event values keep Unix seconds); ids are hex. No view
//! carries key material or a plaintext.

use base64ct::{Base64UrlUnpadded, Encoding};
use dkm_core::access::{RequestId, RequestKind, RequestState, RequestStatus, Scope, SignedRequest};
use dkm_core::audit::{AuditFault, AuditProblem, AuditRecord, event_record};
use dkm_core::ring::{Anchor, EpochState, KeyListing, Role};
use dkm_core::{Event, GrantId, IdentityId, Ring, RingId, SignedGrant};
use serde_json::{Value, json};

use dkm_core::ErrorKind;

use crate::store::Store;
use crate::text::format_time;
use crate::{ChangeOutcome, Host, HostError, Result};

/// A view's one JSON form.
pub trait ToJson {
    /// The JSON form.
    fn to_json(&self) -> Value;
}

/// A view read back from its JSON form (what another surface, a log or a test kept):
/// `InvalidInput` when a field is missing, of the wrong type or not a valid value; the view
/// is read whole or not at all.
pub trait FromJson: Sized {
    /// The view of `v`.
    fn from_json(v: &Value) -> Result<Self>;
}

/// How a view is read from JSON before the check that its JSON form is exactly the input.
trait ParseJson: Sized {
    fn parse_json(v: &Value) -> Result<Self>;
}

/// Every view reads back only from exactly its own JSON form: a field that disagrees with the
/// others (an id that is not its public identity's, a description that is not the request's,
/// a head beside a problem), an extra field or a missing one is refused.
macro_rules! from_json_exact {
    ($($t:ty),*) => {$(
        impl FromJson for $t {
            fn from_json(v: &Value) -> Result<$t> {
                let view = <$t as ParseJson>::parse_json(v)?;
                if view.to_json() != *v {
                    return Err(HostError::new(
                        ErrorKind::InvalidInput,
                        "the JSON form is not the one this view gives: fields disagree, or one is extra",
                    ));
                }
                Ok(view)
            }
        }
    )*};
}

from_json_exact!(
    RingInfo,
    KeyListing,
    RequestView,
    IssuedGrant,
    ChangeOutcome,
    AuditReport
);

fn bad_json(field: &str) -> HostError {
    HostError::new(
        ErrorKind::InvalidInput,
        format!("the JSON form has no valid {field:?}"),
    )
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value> {
    v.get(name).ok_or_else(|| bad_json(name))
}

fn u64_of(v: &Value, name: &str) -> Result<u64> {
    field(v, name)?.as_u64().ok_or_else(|| bad_json(name))
}

fn opt_u64(v: &Value, name: &str) -> Result<Option<u64>> {
    match field(v, name)? {
        Value::Null => Ok(None),
        x => x.as_u64().map(Some).ok_or_else(|| bad_json(name)),
    }
}

fn num<T: TryFrom<u64>>(v: &Value, name: &str) -> Result<T> {
    T::try_from(u64_of(v, name)?).map_err(|_| bad_json(name))
}

fn str_of<'a>(v: &'a Value, name: &str) -> Result<&'a str> {
    field(v, name)?.as_str().ok_or_else(|| bad_json(name))
}

fn bool_of(v: &Value, name: &str) -> Result<bool> {
    field(v, name)?.as_bool().ok_or_else(|| bad_json(name))
}

fn arr_of<'a>(v: &'a Value, name: &str) -> Result<&'a Vec<Value>> {
    field(v, name)?.as_array().ok_or_else(|| bad_json(name))
}

fn time_of(v: &Value, name: &str) -> Result<u64> {
    crate::text::parse_time(str_of(v, name)?).map_err(|_| bad_json(name))
}

fn opt_time(v: &Value, name: &str) -> Result<Option<u64>> {
    match field(v, name)? {
        Value::Null => Ok(None),
        Value::String(t) => crate::text::parse_time(t)
            .map(Some)
            .map_err(|_| bad_json(name)),
        _ => Err(bad_json(name)),
    }
}

fn hex_of<const N: usize>(text: &str, name: &str) -> Result<[u8; N]> {
    hex::decode(text)
        .ok()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| bad_json(name))
}

fn id_of<const N: usize>(v: &Value, name: &str) -> Result<[u8; N]> {
    hex_of(str_of(v, name)?, name)
}

fn named<T>(r: dkm_core::Result<T>, name: &str) -> Result<T> {
    r.map_err(|_| bad_json(name))
}

/// A ring as an operator inspects it: members, policy, epochs, what waits, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingInfo {
    /// The name it is signed with.
    pub name: String,
    /// Its id.
    pub id: RingId,
    /// The newest governance version.
    pub governance_version: u64,
    /// The governance version the key state carries out (`None`: no keys yet).
    pub applied_version: Option<u64>,
    /// Members: role, id, public identity text.
    pub members: Vec<MemberView>,
    /// The policy in force in the newest governance.
    pub policy: dkm_core::Policy,
    /// Epochs and their states.
    pub epochs: Vec<(u32, EpochState)>,
    /// Governance changes wait for a key holder's `maintain`.
    pub pending: bool,
    /// What an operator should fix, in words.
    pub warnings: Vec<String>,
}

/// A member of a ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Its role.
    pub role: Role,
    /// Its identity id.
    pub id: IdentityId,
    /// Its public identity (`dkmpub1...`).
    pub public: String,
}

impl RingInfo {
    /// The view of `ring` at `now`.
    pub fn of(ring: &Ring, now: u64) -> RingInfo {
        let g = ring.governance();
        let mut warnings = Vec::new();
        if ring.is_bootstrap() {
            warnings.push("no approval policy yet: an admin alone can change anything (set one with `dkm policy approvals`)".to_owned());
        }
        if g.with_role(Role::Service).next().is_none() {
            warnings.push("no key holders: add a service account".to_owned());
        }
        if ring.is_pending() {
            warnings.push(
                "governance changes are pending: a key holder must run `dkm maintain`".to_owned(),
            );
        }
        if ring.is_stale(now) {
            warnings.push(
                "the ring is stale (or has no keys yet): a key holder must run `dkm maintain`"
                    .to_owned(),
            );
        }
        RingInfo {
            name: g.name.clone(),
            id: ring.id(),
            governance_version: g.version,
            applied_version: ring.key_state().map(|k| k.key_state().governance.version),
            members: g
                .members
                .iter()
                .map(|m| MemberView {
                    role: m.role,
                    id: m.identity.id(),
                    public: m.identity.to_text(),
                })
                .collect(),
            policy: g.policy.clone(),
            epochs: ring
                .keys(now)
                .epochs
                .iter()
                .map(|e| (e.epoch, e.state))
                .collect(),
            pending: ring.is_pending(),
            warnings,
        }
    }
}

impl ToJson for RingInfo {
    fn to_json(&self) -> Value {
        let p = &self.policy;
        json!({
            "name": self.name,
            "id": self.id.to_string(),
            "governance_version": self.governance_version,
            "applied_version": self.applied_version,
            "members": self.members.iter().map(|m| json!({
                "role": m.role.name(), "id": m.id.to_string(), "public": m.public,
            })).collect::<Vec<_>>(),
            "policy": {
                "interval_secs": p.interval_secs,
                "max_grant_secs": p.max_grant_secs,
                "max_lookback_secs": p.max_lookback_secs,
                "request_lifetime_secs": p.request_lifetime_secs,
                "approver_cooloff_secs": p.approver_cooloff_secs,
                "freshness_intervals": p.freshness_intervals,
                "levels": p.levels.iter().map(|l| json!({
                    "name": l.name,
                    "quorum": l.quorum,
                    "approvers": l.approvers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            },
            "epochs": self.epochs.len(),
            "epoch_states": self.epochs.iter().map(|(e, s)| json!({"epoch": e, "state": s.name()})).collect::<Vec<_>>(),
            "pending": self.pending,
            "warnings": self.warnings,
        })
    }
}

impl ToJson for KeyListing {
    fn to_json(&self) -> Value {
        let epochs: Vec<_> = self
            .epochs
            .iter()
            .map(|e| {
                json!({
                    "epoch": e.epoch,
                    "state": e.state.name(),
                    "start": format_time(e.start),
                    "end": format_time(e.end),
                    "interval_secs": e.interval_secs,
                    "created": format_time(e.created),
                    "retired": e.retired.map(format_time),
                    "readable": e.readable.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "ring": self.ring.to_string(),
            "current": self.current.map(|c| json!({"epoch": c.epoch, "interval": c.interval})),
            "write_time": self.write_time.map(format_time),
            "fresh_until": self.fresh_until.map(format_time),
            "stale": self.stale,
            "pending": self.pending,
            "bootstrap": self.bootstrap,
            "kek_generation": self.kek_generation,
            "epochs": epochs,
        })
    }
}

/// A logged request and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestView {
    /// Its id.
    pub id: RequestId,
    /// Who asked.
    pub author: IdentityId,
    /// Why.
    pub reason: String,
    /// When it was made.
    pub created: u64,
    /// When it expires unanswered.
    pub expires: u64,
    /// Where it stands.
    pub state: RequestState,
    /// An access request: how long, and to what.
    pub access: Option<(u64, Scope)>,
    /// A governance change: what it does, in words (`None` when its content was not logged).
    pub change: Option<String>,
    /// Each approval level: name, approvals that count, quorum.
    pub levels: Vec<(String, usize, u8)>,
}

impl RequestView {
    pub(crate) fn new(r: &SignedRequest, s: &RequestStatus, change: Option<String>) -> Self {
        let req = r.request();
        RequestView {
            id: RequestId(r.hash()),
            author: r.author().id(),
            reason: req.reason.clone(),
            created: req.created,
            expires: s.expires,
            state: s.state,
            access: match &req.kind {
                RequestKind::Access {
                    duration_secs,
                    scope,
                } => Some((*duration_secs, scope.clone())),
                RequestKind::Governance { .. } => None,
            },
            change,
            levels: s
                .tally
                .levels
                .iter()
                .map(|l| (l.name.clone(), l.counted.len(), l.quorum))
                .collect(),
        }
    }

    /// What it asks for, in words.
    pub fn description(&self) -> String {
        match &self.access {
            Some((secs, scope)) => format!("access for {secs} s to {}", scope_text(scope)),
            None => format!(
                "governance change: {}",
                self.change.as_deref().unwrap_or("(content not logged)")
            ),
        }
    }
}

fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Since(t) => format!("secrets sealed since {}", format_time(*t)),
        Scope::Epochs(e) => format!(
            "epochs {}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl ToJson for RequestView {
    fn to_json(&self) -> Value {
        let (kind, scope) = match &self.access {
            Some((secs, Scope::Since(t))) => (
                format!("access for {secs} s"),
                json!({"since": format_time(*t)}),
            ),
            Some((secs, Scope::Epochs(e))) => {
                (format!("access for {secs} s"), json!({"epochs": e}))
            }
            None => ("governance change".to_owned(), Value::Null),
        };
        json!({
            "id": self.id.to_string(),
            "duration_secs": self.access.as_ref().map(|(secs, _)| secs),
            "kind": kind,
            "description": self.description(),
            "change": self.change,
            "scope": scope,
            "author": self.author.to_string(),
            "reason": self.reason,
            "created": format_time(self.created),
            "expires": format_time(self.expires),
            "state": self.state.name(),
            "levels": self.levels.iter().map(|(name, n, q)| json!({"level": name, "approvals": n, "quorum": q})).collect::<Vec<_>>(),
        })
    }
}

/// An issued grant: what the requester needs to know, and its signed form (for a grant file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedGrant {
    /// Its id (what `unseal --grant` takes).
    pub id: GrantId,
    /// The request it answers.
    pub request: RequestId,
    /// Who may use it.
    pub requester: IdentityId,
    /// Its window.
    pub not_before: u64,
    /// Its window's end.
    pub not_after: u64,
    /// The signed grant (public: its parts are wrapped to the requester).
    pub bytes: Vec<u8>,
}

impl From<&SignedGrant> for IssuedGrant {
    fn from(g: &SignedGrant) -> IssuedGrant {
        let gr = g.grant();
        IssuedGrant {
            id: gr.id,
            request: RequestId(gr.request),
            requester: gr.requester.id(),
            not_before: gr.not_before,
            not_after: gr.not_after,
            bytes: g.as_bytes().to_vec(),
        }
    }
}

impl ToJson for IssuedGrant {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "request": self.request.to_string(),
            "requester": self.requester.to_string(),
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
            "grant": Base64UrlUnpadded::encode_string(&self.bytes),
        })
    }
}

impl ToJson for ChangeOutcome {
    fn to_json(&self) -> Value {
        match self {
            ChangeOutcome::Applied { version, pending } => {
                json!({"outcome": "applied", "version": version, "pending": pending})
            }
            ChangeOutcome::Requested { request } => {
                json!({"outcome": "requested", "request": request.to_string()})
            }
        }
    }
}

/// An audit chain as stored, verified: how many records, the head when it verifies, else the
/// first problem (index from 0 and fault).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Records read.
    pub records: usize,
    /// The head, when the chain verifies.
    pub head: Option<Anchor>,
    /// The first problem.
    pub problem: Option<AuditProblem>,
}

impl ToJson for AuditReport {
    fn to_json(&self) -> Value {
        json!({
            "records": self.records,
            "verified": self.problem.is_none(),
            "head": self.head.map(|h| json!({"seq": h.seq, "hash": hex::encode(h.hash)})),
            "problem": self.problem.map(|p| json!({"index": p.index, "fault": p.fault.name()})),
        })
    }
}

impl ToJson for AuditRecord {
    fn to_json(&self) -> Value {
        serde_json::from_str(&AuditRecord::to_json(self)).unwrap_or(Value::Null)
    }
}

impl ToJson for Event {
    fn to_json(&self) -> Value {
        let (action, d) = event_record(self);
        json!({
            "action": action.name(),
            "text": event_text(self),
            "version": d.version,
            "subject": d.subject.map(|s| s.to_string()),
            "epoch": d.epoch,
            "grant": d.grant.map(|g| g.to_string()),
            "value": d.value,
        })
    }
}

/// What an event of `maintain` (or a governance change) did, in words.
pub fn event_text(e: &Event) -> String {
    use dkm_core::audit::Action;
    let (action, d) = event_record(e);
    let mut s = action.name().to_owned();
    if let Some(v) = d.version {
        s.push_str(&format!(" version {v}"));
    }
    if let Some(v) = d.subject {
        s.push_str(&format!(" {v}"));
    }
    if let Some(v) = d.epoch {
        s.push_str(&format!(" epoch {v}"));
    }
    if let Some(v) = d.grant {
        s.push_str(&format!(" grant {v}"));
    }
    if let Some(r) = d.reason {
        // SPEC §13: why an epoch was created.
        let why = match r {
            1 => "the first epoch",
            2 => "on demand",
            3 => "a key holder was removed",
            4 => "an epoch was revoked",
            5 => "shredding",
            6 => "its leaves ran out",
            7 => "the policy changed",
            8 => "the write time was reset",
            9 => "a grant was revoked",
            _ => "another reason",
        };
        s.push_str(&format!(" ({why})"));
    }
    if let Some(v) = d.value {
        match action {
            Action::FreshnessRenewed | Action::WriteTimeReset | Action::GrantIssued => {
                s.push_str(&format!(" ({})", format_time(v)));
            }
            _ => s.push_str(&format!(" ({v})")),
        }
    }
    s
}

/// One audit record in words: `#seq time action (clock override) by actor`.
pub fn audit_record_text(r: &AuditRecord) -> String {
    format!(
        "#{} {} {}{} by {}",
        r.seq,
        format_time(r.time),
        r.action.name(),
        if r.flags & dkm_core::audit::FLAG_CLOCK_OVERRIDE != 0 {
            " (clock override)"
        } else {
            ""
        },
        r.actor().id()
    )
}

impl ParseJson for RingInfo {
    fn parse_json(v: &Value) -> Result<RingInfo> {
        let members = arr_of(v, "members")?
            .iter()
            .map(|m| {
                let public = str_of(m, "public")?;
                let id = IdentityId(id_of(m, "id")?);
                // The id is the public identity's own.
                if named(dkm_core::PublicIdentity::from_text(public), "public")?.id() != id {
                    return Err(bad_json("id"));
                }
                Ok(MemberView {
                    role: named(Role::parse(str_of(m, "role")?), "role")?,
                    id,
                    public: public.to_owned(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let p = field(v, "policy")?;
        let levels = arr_of(p, "levels")?
            .iter()
            .map(|l| {
                Ok(dkm_core::ring::ApprovalLevel {
                    name: str_of(l, "name")?.to_owned(),
                    quorum: num(l, "quorum")?,
                    approvers: arr_of(l, "approvers")?
                        .iter()
                        .map(|a| {
                            Ok(IdentityId(hex_of(
                                a.as_str().ok_or_else(|| bad_json("approvers"))?,
                                "approvers",
                            )?))
                        })
                        .collect::<Result<Vec<_>>>()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let policy = dkm_core::Policy {
            interval_secs: u64_of(p, "interval_secs")?,
            max_grant_secs: u64_of(p, "max_grant_secs")?,
            max_lookback_secs: u64_of(p, "max_lookback_secs")?,
            request_lifetime_secs: u64_of(p, "request_lifetime_secs")?,
            freshness_intervals: num(p, "freshness_intervals")?,
            approver_cooloff_secs: u64_of(p, "approver_cooloff_secs")?,
            levels,
        };
        let epochs = arr_of(v, "epoch_states")?
            .iter()
            .map(|e| {
                Ok((
                    num(e, "epoch")?,
                    named(EpochState::parse(str_of(e, "state")?), "state")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        if u64_of(v, "epochs")? != epochs.len() as u64 {
            return Err(bad_json("epochs"));
        }
        Ok(RingInfo {
            name: str_of(v, "name")?.to_owned(),
            id: RingId(id_of(v, "id")?),
            governance_version: u64_of(v, "governance_version")?,
            applied_version: opt_u64(v, "applied_version")?,
            members,
            policy,
            epochs,
            pending: bool_of(v, "pending")?,
            warnings: arr_of(v, "warnings")?
                .iter()
                .map(|w| {
                    w.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad_json("warnings"))
                })
                .collect::<Result<Vec<_>>>()?,
        })
    }
}

impl ParseJson for KeyListing {
    fn parse_json(v: &Value) -> Result<KeyListing> {
        let ring = RingId(id_of(v, "ring")?);
        let current = match field(v, "current")? {
            Value::Null => None,
            c => Some(dkm_core::KeyId {
                ring,
                epoch: num(c, "epoch")?,
                interval: num(c, "interval")?,
            }),
        };
        let epochs = arr_of(v, "epochs")?
            .iter()
            .map(|e| {
                Ok(dkm_core::ring::EpochInfo {
                    epoch: num(e, "epoch")?,
                    state: named(EpochState::parse(str_of(e, "state")?), "state")?,
                    start: time_of(e, "start")?,
                    end: time_of(e, "end")?,
                    interval_secs: u64_of(e, "interval_secs")?,
                    created: time_of(e, "created")?,
                    retired: opt_time(e, "retired")?,
                    readable: arr_of(e, "readable")?
                        .iter()
                        .map(|r| {
                            let pair = |i: usize| {
                                r.get(i)
                                    .and_then(Value::as_u64)
                                    .and_then(|x| u16::try_from(x).ok())
                                    .ok_or_else(|| bad_json("readable"))
                            };
                            Ok((pair(0)?, pair(1)?))
                        })
                        .collect::<Result<Vec<_>>>()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(KeyListing {
            ring,
            current,
            write_time: opt_time(v, "write_time")?,
            fresh_until: opt_time(v, "fresh_until")?,
            stale: bool_of(v, "stale")?,
            pending: bool_of(v, "pending")?,
            bootstrap: bool_of(v, "bootstrap")?,
            kek_generation: opt_u64(v, "kek_generation")?
                .map(|g| u32::try_from(g).map_err(|_| bad_json("kek_generation")))
                .transpose()?,
            epochs,
        })
    }
}

impl ParseJson for RequestView {
    fn parse_json(v: &Value) -> Result<RequestView> {
        let access = match opt_u64(v, "duration_secs")? {
            None => None,
            Some(secs) => {
                let scope = field(v, "scope")?;
                let scope = if let Some(t) = scope.get("since") {
                    Scope::Since(
                        crate::text::parse_time(t.as_str().ok_or_else(|| bad_json("scope"))?)
                            .map_err(|_| bad_json("scope"))?,
                    )
                } else {
                    Scope::Epochs(
                        arr_of(scope, "epochs")?
                            .iter()
                            .map(|e| {
                                e.as_u64()
                                    .and_then(|e| u32::try_from(e).ok())
                                    .ok_or_else(|| bad_json("scope"))
                            })
                            .collect::<Result<Vec<_>>>()?,
                    )
                };
                Some((secs, scope))
            }
        };
        let change = match field(v, "change")? {
            Value::Null => None,
            c => Some(c.as_str().ok_or_else(|| bad_json("change"))?.to_owned()),
        };
        Ok(RequestView {
            id: RequestId(id_of(v, "id")?),
            author: IdentityId(id_of(v, "author")?),
            reason: str_of(v, "reason")?.to_owned(),
            created: time_of(v, "created")?,
            expires: time_of(v, "expires")?,
            state: named(RequestState::parse(str_of(v, "state")?), "state")?,
            access,
            change,
            levels: arr_of(v, "levels")?
                .iter()
                .map(|l| {
                    Ok((
                        str_of(l, "level")?.to_owned(),
                        num(l, "approvals")?,
                        num(l, "quorum")?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        })
    }
}

impl ParseJson for IssuedGrant {
    fn parse_json(v: &Value) -> Result<IssuedGrant> {
        let bytes =
            Base64UrlUnpadded::decode_vec(str_of(v, "grant")?).map_err(|_| bad_json("grant"))?;
        let g = IssuedGrant::from(&named(SignedGrant::parse(&bytes), "grant")?);
        let stated = IssuedGrant {
            id: GrantId(id_of(v, "id")?),
            request: RequestId(id_of(v, "request")?),
            requester: IdentityId(id_of(v, "requester")?),
            not_before: time_of(v, "not_before")?,
            not_after: time_of(v, "not_after")?,
            bytes,
        };
        // The readable fields must say what the signed grant says.
        if stated != g {
            return Err(bad_json("grant"));
        }
        Ok(g)
    }
}

impl ParseJson for ChangeOutcome {
    fn parse_json(v: &Value) -> Result<ChangeOutcome> {
        match str_of(v, "outcome")? {
            "applied" => Ok(ChangeOutcome::Applied {
                version: u64_of(v, "version")?,
                pending: bool_of(v, "pending")?,
            }),
            "requested" => Ok(ChangeOutcome::Requested {
                request: RequestId(id_of(v, "request")?),
            }),
            _ => Err(bad_json("outcome")),
        }
    }
}

impl ParseJson for AuditReport {
    fn parse_json(v: &Value) -> Result<AuditReport> {
        let head = match field(v, "head")? {
            Value::Null => None,
            h => Some(Anchor {
                seq: u64_of(h, "seq")?,
                hash: id_of(h, "hash")?,
            }),
        };
        let problem = match field(v, "problem")? {
            Value::Null => None,
            p => Some(AuditProblem {
                index: num(p, "index")?,
                fault: named(AuditFault::parse(str_of(p, "fault")?), "fault")?,
            }),
        };
        if bool_of(v, "verified")? != problem.is_none() {
            return Err(bad_json("verified"));
        }
        Ok(AuditReport {
            records: num(v, "records")?,
            head,
            problem,
        })
    }
}

impl<S: Store> Host<S> {
    /// The ring as an operator inspects it ([`RingInfo`]).
    pub fn ring_info(&self, name: &str) -> Result<RingInfo> {
        let now = self.now()?;
        Ok(RingInfo::of(&self.load(name)?.ring, now))
    }

    /// Epochs, the current key, states and times (never material).
    pub fn keys(&self, name: &str) -> Result<KeyListing> {
        let now = self.now()?;
        Ok(self.load(name)?.ring.keys(now))
    }
}
