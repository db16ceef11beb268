//! A ring and elevated access, end to end, narrated. Run: `cargo run -p dkm-core --example demo`.
//!
//! Until the `dkm` command exists this is the project's demo. The "store" is a byte vector
//! and a pin, as a host would keep them; time is the system clock plus simulated days. The
//! core itself never reads a clock or the OS randomness: both are arguments.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use dkm_core::access::{LogRecord, RequestLog, Scope, SignedRequest, Verdict};
use dkm_core::audit::{
    AuditLog, AuditRecord, AuditSink, audit_verify, decision_record, records_for, request_record,
};
use dkm_core::ring::{Anchor, ApprovalLevel, Member};
use dkm_core::rng::SystemRng;
use dkm_core::sealed::SealedSecret;
use dkm_core::{
    ErrorKind, Event, GrantSession, Identity, KeyHolder, NoApprovals, Pin, Policy, Ring,
    RingPublic, Role,
};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const DAY: u64 = 86_400;
const NO_ANCHORS: (Anchor, Anchor) = (Anchor::EMPTY, Anchor::EMPTY);

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

/// A host's store and pin: load through the pin, save the blob and the new pin.
struct Store {
    blob: Vec<u8>,
    pin: Pin,
}

impl Store {
    fn load(&self) -> dkm_core::Result<Ring> {
        Ring::load(&self.blob, &self.pin)
    }
    fn save(&mut self, ring: &Ring) -> dkm_core::Result<()> {
        // A reader verifies before pinning: load the bytes back through the old pin.
        let verified = Ring::load(&ring.to_bytes(), &self.pin)?;
        self.pin = verified.pin();
        self.blob = ring.to_bytes();
        Ok(())
    }
}

fn expect_err<T>(r: dkm_core::Result<T>, kind: ErrorKind, what: &str) -> dkm_core::Result<()> {
    match r {
        Err(e) if e.kind() == kind => {
            println!("    refused, as it must be: {what}: {e}");
            Ok(())
        }
        Err(e) => Err(e),
        Ok(_) => Err(dkm_core::Error::new(
            ErrorKind::Internal,
            "the demo expected a refusal and got none",
        )),
    }
}

fn short(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| match e {
            Event::GovernanceApplied { version } => format!("governance v{version} applied"),
            Event::KeyHolderAdded { id } => format!("KEK wrapped to {id}"),
            Event::KeyHolderRemoved { id } => format!("{id} removed"),
            Event::KekRolled { generation } => format!("KEK generation {generation}"),
            Event::EpochCreated { epoch, reason } => format!("epoch {epoch} ({reason:?})"),
            Event::EpochRevoked { epoch } => format!("epoch {epoch} revoked"),
            Event::EpochShredded { epoch, .. } => format!("epoch {epoch} shredded"),
            Event::WriteTimeReset { to } => format!("write time reset to {to}"),
            Event::FreshnessRenewed { until } => format!("fresh until {until}"),
            Event::SealOnlyPublished { epoch, first, last } => {
                format!("seal-only keys published for epoch {epoch} intervals {first}-{last}")
            }
            Event::GovernanceSigned { version, by } => format!("v{version} signed by {by}"),
            Event::GrantIssued {
                grant, not_after, ..
            } => format!("grant {grant} issued until {not_after}"),
            Event::GrantExpired { grant } => format!("grant {grant} expired"),
            Event::GrantRevoked { grant } => format!("grant {grant} revoked"),
            Event::GrantReissued { grant, epoch } => {
                format!("grant {grant} re-issued in epoch {epoch}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn run() -> dkm_core::Result<()> {
    let mut rng = SystemRng::new()?;
    let t0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| dkm_core::Error::new(ErrorKind::OutOfRange, "clock before 1970"))?
        .as_secs();

    step(
        1,
        "An admin creates ring \"mail\" whose only key holders are two service accounts.",
    );
    let admin = Identity::generate(&mut rng);
    let svc_a = Identity::generate(&mut rng);
    let svc_b = Identity::generate(&mut rng);
    let members = [
        Member {
            role: Role::Service,
            identity: svc_a.public().clone(),
        },
        Member {
            role: Role::Service,
            identity: svc_b.public().clone(),
        },
    ];
    let (ring, _) = Ring::create("mail", Policy::default(), &admin, &members, &mut rng)?;
    println!("    ring {}  admin {}", ring.id(), admin.id());
    let mut store = Store {
        blob: ring.to_bytes(),
        pin: Pin::new(ring.id(), vec![admin.public().clone()]),
    };
    expect_err(
        KeyHolder::open(store.load()?, &admin),
        ErrorKind::NotAMember,
        "the admin opening the ring",
    )?;

    step(
        2,
        "The first key holder's maintain creates the KEK and the first epoch (never the admin).",
    );
    let mut a = KeyHolder::open(store.load()?, &svc_a)?;
    let m = a.maintain(&svc_a, t0, &mut rng, &NoApprovals, NO_ANCHORS)?;
    println!("    {}", short(&m.events));
    store.save(a.ring())?;

    step(
        3,
        "Service A seals a mail account's password; service B opens it.",
    );
    let context = b"mailbox:alice/imap";
    let sealed = a.seal(t0 + 60, b"hunter2", context, &mut rng)?;
    println!(
        "    {} bytes under key {:?}",
        sealed.len(),
        SealedSecret::parse(&sealed)?.key_id()
    );
    let mut b = KeyHolder::open(store.load()?, &svc_b)?;
    let pt = b.unseal(&sealed, context)?;
    println!("    service B reads: {}", String::from_utf8_lossy(&pt));

    step(
        4,
        "A browser holding only the ring blob seals to the group; it cannot read back.",
    );
    let public = RingPublic::load(&store.blob, &store.pin)?;
    let from_browser = public.seal(t0 + 120, b"app password 42", b"signup", &mut rng)?;
    expect_err(
        b.unseal(&from_browser, b"signup"),
        ErrorKind::InvalidInput,
        "opening a seal-only secret as if a key holder sealed it",
    )?;
    let pt = b.unseal_seal_only(&from_browser, b"signup")?;
    println!(
        "    service B reads the browser's secret: {}",
        String::from_utf8_lossy(&pt)
    );

    step(
        5,
        "A day later the key has rolled over by derivation, with no write; maintain renews freshness.",
    );
    let t1 = t0 + DAY + 5;
    let m = a.maintain(&svc_a, t1, &mut rng, &NoApprovals, NO_ANCHORS)?;
    println!("    {}", short(&m.events));
    store.save(a.ring())?;
    let sealed_day2 = a.seal(t1, b"rotated", b"", &mut rng)?;
    println!(
        "    now sealing under {:?}; yesterday's secret still opens: {}",
        SealedSecret::parse(&sealed_day2)?.key_id(),
        String::from_utf8_lossy(&b.unseal(&sealed, context)?)
    );

    step(
        6,
        "Bootstrap ends: the admin alone adds two approvers and a two-level approval policy (ops, then security).",
    );
    let ap1 = Identity::generate(&mut rng);
    let ap2 = Identity::generate(&mut rng);
    let mut ring = store.load()?;
    let mut d = ring.draft();
    d.add_member(Role::Approver, ap1.public().clone())?;
    d.add_member(Role::Approver, ap2.public().clone())?;
    d.policy.levels.push(ApprovalLevel {
        name: "ops".into(),
        quorum: 1,
        approvers: vec![ap1.id()],
    });
    d.policy.levels.push(ApprovalLevel {
        name: "security".into(),
        quorum: 1,
        approvers: vec![ap2.id()],
    });
    ring.apply_governance(d, &admin, &NoApprovals, t1)?;
    store.save(&ring)?;
    let mut a = KeyHolder::open(store.load()?, &svc_a)?;
    let m = a.maintain(&svc_a, t1 + 10, &mut rng, &NoApprovals, NO_ANCHORS)?;
    println!("    {}", short(&m.events));
    store.save(a.ring())?;

    step(
        7,
        "The admin tries to make a second identity of its own a key holder, without approvals.",
    );
    let sock_puppet = Identity::generate(&mut rng);
    let mut ring = store.load()?;
    let mut d = ring.draft();
    d.add_member(Role::Service, sock_puppet.public().clone())?;
    expect_err(
        ring.apply_governance(d.clone(), &admin, &NoApprovals, t1 + 20),
        ErrorKind::PolicyUnsatisfied,
        "the admin's tool",
    )?;
    // Even a hand-signed governance (bypassing the tool) is refused by every reader.
    let forced = d.sign(&admin)?;
    let mut blob = store.blob.clone();
    splice_governance(&mut blob, forced.as_bytes());
    expect_err(
        Ring::load(&blob, &store.pin),
        ErrorKind::PolicyUnsatisfied,
        "a ring carrying the hand-signed change, at load",
    )?;
    expect_err(
        KeyHolder::open(store.load()?, &sock_puppet),
        ErrorKind::NotAMember,
        "the sock puppet opening the ring",
    )?;

    step(
        8,
        "Service B is removed (no quorum needed); the next maintain rolls the KEK and the epoch.",
    );
    let mut ring = store.load()?;
    let mut d = ring.draft();
    d.remove_member(svc_b.public())?;
    ring.apply_governance(d, &admin, &NoApprovals, t1 + 40)?;
    store.save(&ring)?;
    let mut a = KeyHolder::open(store.load()?, &svc_a)?;
    expect_err(
        a.seal(t1 + 50, b"x", b"", &mut rng),
        ErrorKind::Stale,
        "sealing before the removal is carried out",
    )?;
    let m = a.maintain(&svc_a, t1 + 50, &mut rng, &NoApprovals, NO_ANCHORS)?;
    println!("    {}", short(&m.events));
    store.save(a.ring())?;
    let after = a.seal(t1 + 60, b"after removal", b"", &mut rng)?;
    expect_err(
        KeyHolder::open(store.load()?, &svc_b),
        ErrorKind::NotAMember,
        "removed service B opening the ring",
    )?;
    expect_err(
        b.unseal(&after, b""),
        ErrorKind::UnknownKey,
        "removed service B's old session opening a secret sealed after its removal",
    )?;
    println!(
        "    service A still opens the first secret: {}",
        String::from_utf8_lossy(&a.unseal(&sealed, context)?)
    );

    step(
        9,
        "A store writer replays last week's ring: the pin refuses the rollback.",
    );
    let old_blob = public.ring().to_bytes();
    expect_err(
        Ring::load(&old_blob, &store.pin),
        ErrorKind::Rollback,
        "an older ring",
    )?;

    step(
        10,
        "The key listing shows epochs, states and times, never material.",
    );
    let listing = store.load()?.keys(t1 + 70);
    for e in &listing.epochs {
        println!(
            "    epoch {} {} from {} every {} s, created {}, retired {:?}",
            e.epoch,
            e.state.name(),
            e.start,
            e.interval_secs,
            e.created,
            e.retired
        );
    }
    println!(
        "    current key {:?}, fresh until {:?}, pending {}, bootstrap {}",
        listing.current, listing.fresh_until, listing.pending, listing.bootstrap
    );

    step(
        11,
        "Two days later an engineer (not a member) asks for 4 hours of access to what was sealed since day 1; ops approves, then security (its approval chains ops's), and service A issues the grant.",
    );
    let t2 = t1 + 2 * DAY;
    let engineer = Identity::generate(&mut rng);
    let mut log = RequestLog::new(store.load()?.id());
    let mut audit = AuditLog::new();
    let ring = store.load()?;
    let request = SignedRequest::access(
        &ring,
        &engineer,
        "mail sync fails for account 42",
        4 * 3_600,
        Some(Scope::Since(t1 - 60)),
        t2,
        &mut rng,
    )?;
    let hash = request.hash();
    let (action, detail) = request_record(&request);
    audit.append(&AuditRecord::sign(
        ring.id(),
        audit.head_anchor(),
        t2,
        0,
        action,
        detail,
        &engineer,
    )?)?;
    let entry = log.log_request(&ring, request, None, t2)?;
    log.push(entry)?;
    expect_err(
        log.decide(&ring, &hash, "security", Verdict::Approve, &ap2, t2 + 60),
        ErrorKind::PolicyUnsatisfied,
        "security approving before ops",
    )?;
    for (who, level) in [(&ap1, "ops"), (&ap2, "security")] {
        let entry = log.decide(&ring, &hash, level, Verdict::Approve, who, t2 + 60)?;
        if let LogRecord::Decision(d) = entry.record() {
            let (action, detail) = decision_record(d);
            audit.append(&AuditRecord::sign(
                ring.id(),
                audit.head_anchor(),
                t2 + 60,
                0,
                action,
                detail,
                who,
            )?)?;
        }
        log.push(entry)?;
        println!("    {level}: approved by {}", who.id());
    }
    let mut a = KeyHolder::open(store.load()?, &svc_a)?;
    let (m, grant) = a.issue_grant(&svc_a, t2 + 120, &mut rng, &log, &hash, audit.head_anchor())?;
    for r in records_for(
        a.ring().id(),
        &m.events,
        &svc_a,
        t2 + 120,
        0,
        audit.head_anchor(),
    )? {
        audit.append(&r)?;
    }
    println!("    {}", short(&m.events));
    store.save(a.ring())?;

    step(
        12,
        "The engineer unseals yesterday's secret: the audit record is written first. The first secret lies outside the grant's scope.",
    );
    let mut session = GrantSession::open(store.load()?, &engineer, grant)?;
    let pt = session.unseal(&engineer, &sealed_day2, b"", t2 + 600, 0, &mut audit)?;
    println!(
        "    the engineer reads: {} (audit record {} written)",
        String::from_utf8_lossy(&pt),
        audit.head_anchor().seq
    );
    expect_err(
        session.unseal(&engineer, &sealed, context, t2 + 600, 0, &mut audit),
        ErrorKind::UnknownKey,
        "the day-0 secret, sealed before the scope",
    )?;

    step(
        13,
        "Five hours later the grant has expired by itself; the next maintain drops it.",
    );
    expect_err(
        session.unseal(&engineer, &sealed_day2, b"", t2 + 5 * 3_600, 0, &mut audit),
        ErrorKind::GrantExpired,
        "the engineer after the window",
    )?;
    let mut a = KeyHolder::open(store.load()?, &svc_a)?;
    let anchors = (audit.head_anchor(), log.head());
    let m = a.maintain(
        &svc_a,
        t2 + 5 * 3_600,
        &mut rng,
        &log.quorum_check(t2 + 5 * 3_600),
        anchors,
    )?;
    for r in records_for(
        a.ring().id(),
        &m.events,
        &svc_a,
        t2 + 5 * 3_600,
        0,
        audit.head_anchor(),
    )? {
        audit.append(&r)?;
    }
    println!("    {}", short(&m.events));
    store.save(a.ring())?;
    expect_err(
        GrantSession::open(store.load()?, &engineer, grant),
        ErrorKind::GrantExpired,
        "reopening the grant",
    )?;

    step(
        14,
        "The audit chain verifies against the key state's anchor; a copy with one record deleted does not.",
    );
    let ring = store.load()?;
    let anchor = ring
        .key_state()
        .map(|k| k.key_state().audit)
        .unwrap_or(Anchor::EMPTY);
    let records: Vec<&[u8]> = audit.records().iter().map(AuditRecord::as_bytes).collect();
    let head = audit_verify(ring.id(), records.iter().copied(), &[anchor])
        .map_err(dkm_core::Error::from)?;
    println!("    {} records, head {}", head.seq, hex(&head.hash));
    for r in audit.records() {
        println!("    #{} {} by {}", r.seq, r.action.name(), r.actor().id());
    }
    if let Some(r) = audit.records().last() {
        println!("    as JSON: {}", r.to_json());
    }
    let mut cut = records.clone();
    cut.remove(2);
    match audit_verify(ring.id(), cut, &[anchor, head]) {
        Err(p) => println!("    tampered copy refused, as it must be: {p}"),
        Ok(_) => {
            return Err(dkm_core::Error::new(
                ErrorKind::Internal,
                "the demo expected the tampered audit chain to be refused",
            ));
        }
    }
    println!("\nDone: every step behaved as designed.");
    Ok(())
}

/// Appends a governance record to a ring blob by hand, as a store writer or a rogue admin
/// could (the ring format: magic, version, ring id, record count, records, key state).
fn splice_governance(blob: &mut Vec<u8>, record: &[u8]) {
    let count_at = 4 + 1 + 16;
    let Some(count) = blob.get(count_at).copied() else {
        return;
    };
    // Skip the existing records to find where the key state starts.
    let mut at = count_at + 1;
    for _ in 0..count {
        let Some(len) = blob.get(at..).and_then(|b| b.first_chunk::<4>()) else {
            return;
        };
        let len = u32::from_be_bytes(*len) as usize;
        at += 4 + len;
    }
    let mut rec = (record.len() as u32).to_be_bytes().to_vec();
    rec.extend_from_slice(record);
    blob.splice(at..at, rec);
    if let Some(c) = blob.get_mut(count_at) {
        *c = count + 1;
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: error: {e}");
            ExitCode::FAILURE
        }
    }
}
