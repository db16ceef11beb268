//! The audit chain: signed, hash-chained records of every governance change, key-state
//! change, request, decision, grant and elevated unseal. Never a plaintext, a context or key
//! material: a secret is named by the hash of its sealed bytes. `docs/SPEC.md` §13 has the
//! bytes and the JSON form.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::access::{GrantId, SignedDecision, SignedRequest, Verdict};
use crate::encoding::{Reader, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, IdentityId, PublicIdentity, SigDomain};
use crate::keys::{KeyId, RingId};
use crate::labels;
use crate::ring::record::{Envelope, record_hash, sign_record};
use crate::ring::{Anchor, Event, RollReason};

/// Format byte of an audit record.
pub const AUDIT_FORMAT: u8 = 1;
/// Flag: the actor's clock was overridden (tests, demos, `--now`).
pub const FLAG_CLOCK_OVERRIDE: u8 = 1;
const KNOWN_FLAGS: u8 = FLAG_CLOCK_OVERRIDE;
/// Longest audit record.
pub const MAX_AUDIT_RECORD_LEN: usize = 1024;

macro_rules! actions {
    ($($(#[$m:meta])* $name:ident = $code:literal, $text:literal;)*) => {
        /// What an audit record records. Codes are stable.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Action {
            $($(#[$m])* $name = $code,)*
        }

        impl Action {
            /// Every action, in code order.
            pub const ALL: &'static [Action] = &[$(Action::$name,)*];

            /// The action's stable name (JSON form).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Action::$name => $text,)*
                }
            }

            /// From its code.
            pub fn from_code(code: u8) -> Result<Action> {
                match code {
                    $($code => Ok(Action::$name),)*
                    _ => Err(Error::new(
                        ErrorKind::Unsupported,
                        "unknown audit action: upgrade dkm",
                    )),
                }
            }
        }
    };
}

actions! {
    /// An admin signed a governance version (`version`).
    GovernanceSigned = 1, "governance-signed";
    /// A key holder carried out a governance version (`version`).
    GovernanceApplied = 2, "governance-applied";
    /// The KEK was wrapped to a new key holder (`subject`).
    KeyHolderAdded = 3, "key-holder-added";
    /// A key holder's wrap was dropped (`subject`).
    KeyHolderRemoved = 4, "key-holder-removed";
    /// A new KEK generation (`value`).
    KekRolled = 5, "kek-rolled";
    /// A new epoch (`epoch`, `reason`).
    EpochCreated = 6, "epoch-created";
    /// An epoch was revoked (`epoch`).
    EpochRevoked = 7, "epoch-revoked";
    /// An epoch was shredded (`epoch`, `value`: first interval kept, absent when none).
    EpochShredded = 8, "epoch-shredded";
    /// The recorded write time was reset (`value`: the new time).
    WriteTimeReset = 9, "write-time-reset";
    /// Freshness renewed (`value`: new deadline).
    FreshnessRenewed = 10, "freshness-renewed";
    /// Seal-only keys published (`epoch`, `range`).
    SealOnlyPublished = 11, "seal-only-published";
    /// A request was logged (`request`; `subject`: its author).
    RequestLogged = 12, "request-logged";
    /// An approval was logged (`request`, `object`: the approval's hash).
    Approved = 13, "approved";
    /// A denial was logged (`request`, `object`: the denial's hash).
    Denied = 14, "denied";
    /// A grant was issued (`grant`, `request`, `subject`: requester, `value`: not_after).
    GrantIssued = 15, "grant-issued";
    /// A grant expired and was dropped (`grant`).
    GrantExpired = 16, "grant-expired";
    /// A grant was revoked and dropped (`grant`).
    GrantRevoked = 17, "grant-revoked";
    /// A grant's cover was re-issued in a new epoch (`grant`, `epoch`).
    GrantReissued = 18, "grant-reissued";
    /// A grant holder unsealed a secret (`grant`, `key`, `object`: the secret's name).
    GrantUnseal = 19, "grant-unseal";
}

/// The optional fields of an audit record (presence bits in this order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detail {
    /// A governance version.
    pub version: Option<u64>,
    /// An identity the action is about.
    pub subject: Option<IdentityId>,
    /// A key id.
    pub key: Option<KeyId>,
    /// An epoch.
    pub epoch: Option<u32>,
    /// A grant id.
    pub grant: Option<GrantId>,
    /// A request hash.
    pub request: Option<[u8; 32]>,
    /// A related object's hash (a sealed secret's name, an approval's hash).
    pub object: Option<[u8; 32]>,
    /// A number (a time, a generation, an interval).
    pub value: Option<u64>,
    /// A reason code (epoch roll reasons).
    pub reason: Option<u8>,
    /// An interval range.
    pub range: Option<(u16, u16)>,
}

const FIELDS: u16 = 10;

impl Detail {
    fn presence(&self) -> u16 {
        let bits = [
            self.version.is_some(),
            self.subject.is_some(),
            self.key.is_some(),
            self.epoch.is_some(),
            self.grant.is_some(),
            self.request.is_some(),
            self.object.is_some(),
            self.value.is_some(),
            self.reason.is_some(),
            self.range.is_some(),
        ];
        bits.iter()
            .enumerate()
            .fold(0u16, |acc, (i, b)| acc | (u16::from(*b) << i))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.presence());
        if let Some(v) = self.version {
            out.put_u64(v);
        }
        if let Some(s) = self.subject {
            out.put(&s.0);
        }
        if let Some(k) = self.key {
            out.put(&k.to_bytes());
        }
        if let Some(e) = self.epoch {
            out.put_u32(e);
        }
        if let Some(g) = self.grant {
            out.put(&g.0);
        }
        if let Some(r) = self.request {
            out.put(&r);
        }
        if let Some(o) = self.object {
            out.put(&o);
        }
        if let Some(v) = self.value {
            out.put_u64(v);
        }
        if let Some(r) = self.reason {
            out.put_u8(r);
        }
        if let Some((a, b)) = self.range {
            out.put_u16(a);
            out.put_u16(b);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Detail> {
        let p = r.u16()?;
        if p >> FIELDS != 0 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "an audit record has a field this build does not know: upgrade dkm",
            ));
        }
        let has = |i: u16| p & (1 << i) != 0;
        Ok(Detail {
            version: if has(0) { Some(r.u64()?) } else { None },
            subject: if has(1) {
                Some(IdentityId(r.array()?))
            } else {
                None
            },
            key: if has(2) { Some(KeyId::read(r)?) } else { None },
            epoch: if has(3) { Some(r.u32()?) } else { None },
            grant: if has(4) {
                Some(GrantId(r.array()?))
            } else {
                None
            },
            request: if has(5) { Some(r.array()?) } else { None },
            object: if has(6) { Some(r.array()?) } else { None },
            value: if has(7) { Some(r.u64()?) } else { None },
            reason: if has(8) { Some(r.u8()?) } else { None },
            range: if has(9) {
                Some((r.u16()?, r.u16()?))
            } else {
                None
            },
        })
    }
}

/// An audit record whose signature has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// The ring.
    pub ring: RingId,
    /// Sequence number (1 for the first record).
    pub seq: u64,
    /// Hash of the previous record (zeros for the first).
    pub prev: [u8; 32],
    /// When (the actor's clock).
    pub time: u64,
    /// Flags ([`FLAG_CLOCK_OVERRIDE`]).
    pub flags: u8,
    /// What.
    pub action: Action,
    /// About what.
    pub detail: Detail,
    actor: PublicIdentity,
    bytes: Vec<u8>,
    hash: [u8; 32],
}

impl AuditRecord {
    /// The record that follows `head`, signed by `actor`.
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        ring: RingId,
        head: Anchor,
        time: u64,
        flags: u8,
        action: Action,
        detail: Detail,
        actor: &Identity,
    ) -> Result<AuditRecord> {
        if flags & !KNOWN_FLAGS != 0 {
            return Err(Error::new(ErrorKind::InvalidInput, "unknown audit flag"));
        }
        let seq = head
            .seq
            .checked_add(1)
            .ok_or(Error::new(ErrorKind::OutOfRange, "the audit chain is full"))?;
        let mut body = Vec::with_capacity(160);
        body.put_u8(AUDIT_FORMAT);
        body.put(&ring.0);
        body.put_u64(seq);
        body.put(&head.hash);
        body.put_u64(time);
        body.put_u8(flags);
        body.put_u8(action as u8);
        detail.encode(&mut body);
        let (bytes, hash) = sign_record(body, actor, SigDomain::Audit, labels::AUDIT_HASH);
        Ok(AuditRecord {
            ring,
            seq,
            prev: head.hash,
            time,
            flags,
            action,
            detail,
            actor: actor.public().clone(),
            bytes,
            hash,
        })
    }

    /// Parses a record and checks its signature.
    pub fn parse(bytes: &[u8]) -> Result<AuditRecord> {
        if bytes.len() > MAX_AUDIT_RECORD_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "an audit record is at most 1 KiB",
            ));
        }
        let mut r = Reader::new(bytes);
        if r.u8()? != AUDIT_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown audit record format version: upgrade dkm",
            ));
        }
        let ring = RingId(r.array()?);
        let seq = r.u64()?;
        let prev = r.array()?;
        let time = r.u64()?;
        let flags = r.u8()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "an audit record has a flag this build does not know: upgrade dkm",
            ));
        }
        let action = Action::from_code(r.u8()?)?;
        let detail = Detail::decode(&mut r)?;
        let envelope = Envelope::read(r, bytes)?;
        if seq == 0 {
            return Err(Error::malformed("audit sequence numbers start at 1"));
        }
        envelope.verify(bytes, SigDomain::Audit)?;
        Ok(AuditRecord {
            ring,
            seq,
            prev,
            time,
            flags,
            action,
            detail,
            actor: envelope.signer,
            bytes: bytes.to_vec(),
            hash: record_hash(labels::AUDIT_HASH, bytes),
        })
    }

    /// Who signed it.
    pub fn actor(&self) -> &PublicIdentity {
        &self.actor
    }

    /// The canonical record bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `SHA-256("dkm1/audit-hash\0" ‖ record)`.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The chain head once this record is appended.
    pub fn head(&self) -> Anchor {
        Anchor {
            seq: self.seq,
            hash: self.hash,
        }
    }

    /// The JSON form: one line, fields in a fixed order, the same content as the binary form
    /// (which it also carries, as `record`, base64url without padding).
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(512 + self.bytes.len() * 4 / 3);
        let _ = write!(
            s,
            "{{\"seq\":{},\"prev\":\"{}\",\"time\":{},\"clock_override\":{},\"ring\":\"{}\",\"actor\":\"{}\",\"action\":\"{}\"",
            self.seq,
            Hex(&self.prev),
            self.time,
            self.flags & FLAG_CLOCK_OVERRIDE != 0,
            self.ring,
            self.actor.id(),
            self.action.name()
        );
        let d = &self.detail;
        if let Some(v) = d.version {
            let _ = write!(s, ",\"version\":{v}");
        }
        if let Some(v) = d.subject {
            let _ = write!(s, ",\"subject\":\"{v}\"");
        }
        if let Some(k) = d.key {
            let _ = write!(
                s,
                ",\"key\":{{\"ring\":\"{}\",\"epoch\":{},\"interval\":{}}}",
                k.ring, k.epoch, k.interval
            );
        }
        if let Some(v) = d.epoch {
            let _ = write!(s, ",\"epoch\":{v}");
        }
        if let Some(v) = d.grant {
            let _ = write!(s, ",\"grant\":\"{v}\"");
        }
        if let Some(v) = d.request {
            let _ = write!(s, ",\"request\":\"{}\"", Hex(&v));
        }
        if let Some(v) = d.object {
            let _ = write!(s, ",\"object\":\"{}\"", Hex(&v));
        }
        if let Some(v) = d.value {
            let _ = write!(s, ",\"value\":{v}");
        }
        if let Some(v) = d.reason {
            let _ = write!(s, ",\"reason\":{v}");
        }
        if let Some((a, b)) = d.range {
            let _ = write!(s, ",\"range\":[{a},{b}]");
        }
        let _ = write!(
            s,
            ",\"hash\":\"{}\",\"record\":\"{}\"}}",
            Hex(&self.hash),
            Base64UrlUnpadded::encode_string(&self.bytes)
        );
        s
    }

    /// Parses the JSON form: the `record` field is parsed as the binary form, and the whole
    /// text must be exactly what [`AuditRecord::to_json`] makes of it (so the readable
    /// fields cannot say anything the signed record does not). One final `\n` (the line's
    /// end) is allowed; anything else after the JSON, a `\r` included, is refused.
    pub fn from_json(text: &str) -> Result<AuditRecord> {
        const KEY: &str = "\"record\":\"";
        let text = text.strip_suffix('\n').unwrap_or(text);
        if text.len() > 4 * MAX_AUDIT_RECORD_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "an audit record's JSON form is at most 4 KiB",
            ));
        }
        let start = text
            .rfind(KEY)
            .ok_or(Error::malformed(
                "an audit record's JSON form has no record field",
            ))?
            .saturating_add(KEY.len());
        let b64 = text
            .get(start..)
            .and_then(|t| t.strip_suffix("\"}"))
            .ok_or(Error::malformed(
                "an audit record's JSON form is not canonical",
            ))?;
        let bytes = Base64UrlUnpadded::decode_vec(b64)
            .map_err(|_| Error::malformed("an audit record's binary form is not base64url"))?;
        let rec = AuditRecord::parse(&bytes)?;
        if rec.to_json() != text {
            return Err(Error::new(
                ErrorKind::Tampered,
                "an audit record's JSON fields differ from its signed binary form",
            ));
        }
        Ok(rec)
    }
}

struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        crate::encoding::write_hex(f, self.0)
    }
}

/// The name of a sealed secret in the audit chain: `SHA-256("dkm1/secret-name\0" ‖ sealed
/// bytes)` (binary form, after armor is removed).
pub fn secret_name(sealed: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(labels::SECRET_NAME)
        .chain_update(sealed)
        .finalize()
        .into()
}

/// The stable code of a roll reason (the `reason` field of `epoch-created`).
pub const fn roll_reason_code(r: RollReason) -> u8 {
    match r {
        RollReason::Created => 1,
        RollReason::OnDemand => 2,
        RollReason::MemberRemoved => 3,
        RollReason::Revoked => 4,
        RollReason::Shredded => 5,
        RollReason::LeavesRunOut => 6,
        RollReason::PolicyChanged => 7,
        RollReason::WriteTimeReset => 8,
        RollReason::GrantRevoked => 9,
    }
}

/// The action and detail recording `event`.
pub fn event_record(event: &Event) -> (Action, Detail) {
    let d = Detail::default();
    match *event {
        Event::GovernanceSigned { version, by } => (
            Action::GovernanceSigned,
            Detail {
                version: Some(version),
                subject: Some(by),
                ..d
            },
        ),
        Event::GovernanceApplied { version } => (
            Action::GovernanceApplied,
            Detail {
                version: Some(version),
                ..d
            },
        ),
        Event::KeyHolderAdded { id } => (
            Action::KeyHolderAdded,
            Detail {
                subject: Some(id),
                ..d
            },
        ),
        Event::KeyHolderRemoved { id } => (
            Action::KeyHolderRemoved,
            Detail {
                subject: Some(id),
                ..d
            },
        ),
        Event::KekRolled { generation } => (
            Action::KekRolled,
            Detail {
                value: Some(u64::from(generation)),
                ..d
            },
        ),
        Event::EpochCreated { epoch, reason } => (
            Action::EpochCreated,
            Detail {
                epoch: Some(epoch),
                reason: Some(roll_reason_code(reason)),
                ..d
            },
        ),
        Event::EpochRevoked { epoch } => (
            Action::EpochRevoked,
            Detail {
                epoch: Some(epoch),
                ..d
            },
        ),
        Event::EpochShredded { epoch, first_kept } => (
            Action::EpochShredded,
            Detail {
                epoch: Some(epoch),
                value: first_kept.map(u64::from),
                ..d
            },
        ),
        Event::WriteTimeReset { to } => (
            Action::WriteTimeReset,
            Detail {
                value: Some(to),
                ..d
            },
        ),
        Event::FreshnessRenewed { until } => (
            Action::FreshnessRenewed,
            Detail {
                value: Some(until),
                ..d
            },
        ),
        Event::SealOnlyPublished { epoch, first, last } => (
            Action::SealOnlyPublished,
            Detail {
                epoch: Some(epoch),
                range: Some((first, last)),
                ..d
            },
        ),
        Event::GrantIssued {
            grant,
            request,
            requester,
            not_after,
        } => (
            Action::GrantIssued,
            Detail {
                grant: Some(grant),
                request: Some(request),
                subject: Some(requester),
                value: Some(not_after),
                ..d
            },
        ),
        Event::GrantExpired { grant } => (
            Action::GrantExpired,
            Detail {
                grant: Some(grant),
                ..d
            },
        ),
        Event::GrantRevoked { grant } => (
            Action::GrantRevoked,
            Detail {
                grant: Some(grant),
                ..d
            },
        ),
        Event::GrantReissued { grant, epoch } => (
            Action::GrantReissued,
            Detail {
                grant: Some(grant),
                epoch: Some(epoch),
                ..d
            },
        ),
    }
}

/// The action and detail recording a logged request.
pub fn request_record(request: &SignedRequest) -> (Action, Detail) {
    (
        Action::RequestLogged,
        Detail {
            request: Some(request.hash()),
            subject: Some(request.author().id()),
            ..Detail::default()
        },
    )
}

/// The action and detail recording a logged decision.
pub fn decision_record(decision: &SignedDecision) -> (Action, Detail) {
    let action = match decision.decision().verdict {
        Verdict::Approve => Action::Approved,
        Verdict::Deny => Action::Denied,
    };
    (
        action,
        Detail {
            request: Some(decision.decision().request),
            object: Some(decision.hash()),
            ..Detail::default()
        },
    )
}

/// The records for `events`, chained from `head` and signed by `actor`.
pub fn records_for(
    ring: RingId,
    events: &[Event],
    actor: &Identity,
    time: u64,
    flags: u8,
    head: Anchor,
) -> Result<Vec<AuditRecord>> {
    let mut head = head;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let (action, detail) = event_record(e);
        let r = AuditRecord::sign(ring, head, time, flags, action, detail, actor)?;
        head = r.head();
        out.push(r);
    }
    Ok(out)
}

/// Where an audit chain goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditFault {
    /// The record does not parse (truncated, unknown version, trailing bytes...).
    Malformed,
    /// The signature does not verify: the record was edited or forged.
    BadSignature,
    /// The record names another ring.
    OtherRing,
    /// A sequence number is skipped: records were deleted.
    Gap,
    /// A sequence number comes out of order: records were swapped or duplicated.
    Reorder,
    /// The previous-hash link does not match the record before: the record before was
    /// edited or replaced.
    BrokenLink,
    /// An anchored record is missing: the chain was cut.
    MissingAnchored,
    /// The record at an anchored position is not the anchored one.
    AnchorMismatch,
}

impl AuditFault {
    /// Every fault.
    pub const ALL: [AuditFault; 8] = [
        AuditFault::Malformed,
        AuditFault::BadSignature,
        AuditFault::OtherRing,
        AuditFault::Gap,
        AuditFault::Reorder,
        AuditFault::BrokenLink,
        AuditFault::MissingAnchored,
        AuditFault::AnchorMismatch,
    ];

    /// From its name ([`AuditFault::name`]): `InvalidInput` for any other text.
    pub fn parse(name: &str) -> Result<AuditFault> {
        AuditFault::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or(Error::new(ErrorKind::InvalidInput, "unknown audit fault"))
    }

    /// A short stable name.
    pub const fn name(self) -> &'static str {
        match self {
            AuditFault::Malformed => "malformed record",
            AuditFault::BadSignature => "bad signature (edited or forged record)",
            AuditFault::OtherRing => "record of another ring",
            AuditFault::Gap => "gap (deleted records)",
            AuditFault::Reorder => "reordered or duplicated record",
            AuditFault::BrokenLink => "broken link (the record before was edited or replaced)",
            AuditFault::MissingAnchored => "anchored record missing (the chain was cut)",
            AuditFault::AnchorMismatch => "record differs from the anchored one",
        }
    }
}

/// The first problem of an audit chain: the index (0-based, in the order given) of the
/// record where it shows, and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditProblem {
    /// Index of the record.
    pub index: usize,
    /// What is wrong.
    pub fault: AuditFault,
}

impl core::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "audit record {}: {}", self.index, self.fault.name())
    }
}

impl From<AuditProblem> for Error {
    fn from(_: AuditProblem) -> Error {
        Error::new(
            ErrorKind::Tampered,
            "the audit chain was tampered with (run audit verify for the first bad record)",
        )
    }
}

/// Verifies an audit chain, oldest record first: every record parses, is signed by the
/// actor it names, belongs to `ring`, has the next sequence number (from 1) and links to
/// the hash of the record before; and every anchor (from key-state writes, or a head the
/// verifier saw before) names a record that is there, unchanged. Returns the head, or the
/// first problem.
pub fn audit_verify<'a>(
    ring: RingId,
    records: impl IntoIterator<Item = &'a [u8]>,
    anchors: &[Anchor],
) -> core::result::Result<Anchor, AuditProblem> {
    let parsed: Vec<core::result::Result<AuditRecord, AuditFault>> = records
        .into_iter()
        .map(|b| {
            AuditRecord::parse(b).map_err(|e| {
                if e.kind() == ErrorKind::Tampered {
                    AuditFault::BadSignature
                } else {
                    AuditFault::Malformed
                }
            })
        })
        .collect();
    let mut head = Anchor::EMPTY;
    for (index, p) in parsed.iter().enumerate() {
        let fail = |fault| AuditProblem { index, fault };
        let rec = p.as_ref().map_err(|f| fail(*f))?;
        let later = |seq| {
            parsed
                .iter()
                .skip(index + 1)
                .any(|r| r.as_ref().is_ok_and(|r| r.seq == seq))
        };
        head = follow(ring, head, rec, later).map_err(fail)?;
    }
    if anchors.iter().any(|a| a.seq == 0 && a.hash != [0; 32]) {
        return Err(AuditProblem {
            index: 0,
            fault: AuditFault::AnchorMismatch,
        });
    }
    for a in anchors.iter().filter(|a| a.seq > 0) {
        let at = usize::try_from(a.seq - 1).unwrap_or(usize::MAX);
        match parsed.get(at) {
            None => {
                return Err(AuditProblem {
                    index: parsed.len(),
                    fault: AuditFault::MissingAnchored,
                });
            }
            Some(Ok(r)) if r.hash() != a.hash => {
                return Err(AuditProblem {
                    index: at,
                    fault: AuditFault::AnchorMismatch,
                });
            }
            Some(_) => {}
        }
    }
    Ok(head)
}

/// Checks the part of an audit chain from `anchor` on, without the records before it (what a
/// writer checks before it appends, instead of a full [`audit_verify`]): `tail` starts with
/// the anchored record itself, unchanged (its sequence number and hash are the anchor's), and
/// every record after it belongs to `ring`, has the next sequence number and links to the
/// one before. With [`Anchor::EMPTY`] the tail is the whole chain, from sequence number 1.
/// The records were parsed, so their signatures verified. Returns the head; a problem's
/// index counts from the first record of `tail`.
pub fn audit_verify_tail(
    ring: RingId,
    anchor: Anchor,
    tail: &[AuditRecord],
) -> core::result::Result<Anchor, AuditProblem> {
    if anchor.seq == 0 {
        if anchor.hash != [0; 32] {
            return Err(AuditProblem {
                index: 0,
                fault: AuditFault::AnchorMismatch,
            });
        }
        return chain(ring, Anchor::EMPTY, tail, 0);
    }
    let Some((first, rest)) = tail.split_first() else {
        return Err(AuditProblem {
            index: 0,
            fault: AuditFault::MissingAnchored,
        });
    };
    if first.ring != ring {
        return Err(AuditProblem {
            index: 0,
            fault: AuditFault::OtherRing,
        });
    }
    if first.head() != anchor {
        return Err(AuditProblem {
            index: 0,
            fault: AuditFault::AnchorMismatch,
        });
    }
    chain(ring, anchor, rest, 1)
}

/// Checks that `records` follow `start` one by one; a problem's index is `offset` plus the
/// record's position. Returns the head.
fn chain(
    ring: RingId,
    start: Anchor,
    records: &[AuditRecord],
    offset: usize,
) -> core::result::Result<Anchor, AuditProblem> {
    let mut head = start;
    for (i, rec) in records.iter().enumerate() {
        let later = |seq| records.iter().skip(i + 1).any(|r| r.seq == seq);
        head = follow(ring, head, rec, later).map_err(|fault| AuditProblem {
            index: offset.saturating_add(i),
            fault,
        })?;
    }
    Ok(head)
}

/// One step of a chain: `rec` belongs to `ring`, has the number after `head` and links to
/// it. `later(seq)` says whether a later record carries `seq` (then this one is out of
/// order rather than after a gap). Returns the new head.
fn follow(
    ring: RingId,
    head: Anchor,
    rec: &AuditRecord,
    later: impl FnOnce(u64) -> bool,
) -> core::result::Result<Anchor, AuditFault> {
    if rec.ring != ring {
        return Err(AuditFault::OtherRing);
    }
    let expected = head.seq.saturating_add(1);
    if rec.seq != expected {
        return Err(if rec.seq < expected || later(expected) {
            AuditFault::Reorder
        } else {
            AuditFault::Gap
        });
    }
    if rec.prev != head.hash {
        return Err(AuditFault::BrokenLink);
    }
    Ok(rec.head())
}

/// Where audit records go: a store's audit stream, or a test's vector. `append` must refuse
/// (with [`ErrorKind::Conflict`]) a record that does not follow the current head.
pub trait AuditSink {
    /// The current head.
    fn head(&mut self) -> Result<Anchor>;
    /// Appends `record` durably, or fails (then no plaintext is handed out).
    fn append(&mut self, record: &AuditRecord) -> Result<()>;
}

/// An in-memory audit chain (for tests and hosts that keep it elsewhere).
#[derive(Clone, Debug, Default)]
pub struct AuditLog {
    records: Vec<AuditRecord>,
}

impl AuditLog {
    /// An empty chain.
    pub fn new() -> AuditLog {
        AuditLog::default()
    }

    /// The records, oldest first.
    pub fn records(&self) -> &[AuditRecord] {
        &self.records
    }

    /// The head.
    pub fn head_anchor(&self) -> Anchor {
        self.records.last().map_or(Anchor::EMPTY, AuditRecord::head)
    }
}

impl AuditSink for AuditLog {
    fn head(&mut self) -> Result<Anchor> {
        Ok(self.head_anchor())
    }

    fn append(&mut self, record: &AuditRecord) -> Result<()> {
        let head = self.head_anchor();
        let other_ring = self.records.first().is_some_and(|r| r.ring != record.ring);
        if other_ring {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the audit record belongs to another ring's chain",
            ));
        }
        if record.seq != head.seq.saturating_add(1) || record.prev != head.hash {
            return Err(Error::new(
                ErrorKind::Conflict,
                "the audit record does not follow the chain's head: rebuild it and retry",
            ));
        }
        self.records.push(record.clone());
        Ok(())
    }
}

/// Builds a record with `build` at the sink's head and appends it, retrying a few times
/// when another writer moved the head ([`ErrorKind::Conflict`]).
pub fn append_with(
    sink: &mut dyn AuditSink,
    mut build: impl FnMut(Anchor) -> Result<AuditRecord>,
) -> Result<AuditRecord> {
    let mut last = Error::new(ErrorKind::Conflict, "the audit chain kept moving");
    for _ in 0..8 {
        let head = sink.head()?;
        let rec = build(head)?;
        match sink.append(&rec) {
            Ok(()) => return Ok(rec),
            Err(e) if e.kind() == ErrorKind::Conflict => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}
