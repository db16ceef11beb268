//! `dkm demo`: the whole story in a fresh temporary store, narrated, through the same host
//! operations the commands use. Simulated time starts at the system clock.

use std::path::PathBuf;

use dkm_core::access::Scope;
use dkm_core::ring::Role;
use dkm_core::rng::SystemRng;
use dkm_core::{ErrorKind, Identity, KeyId, Policy, RequestId};
use dkm_host::files::format_time;
use dkm_host::{
    ChangeOutcome, Clock, FileStore, Host, HostError, LevelSpec, PinBook, Result, SealOnly, Store,
};

const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
const RING: &str = "mail";

struct Demo {
    dir: PathBuf,
    t0: u64,
}

impl Demo {
    fn at(&self, t: u64) -> Result<Host<FileStore>> {
        Host::new(
            FileStore::new(self.dir.join("store")),
            PinBook::new(self.dir.join("pins")),
            Clock::fixed(self.t0 + t),
        )
    }
}

fn step(n: u32, text: &str) {
    outln!("\n[{n}] {text}");
}

fn refused<T>(r: Result<T>, kind: ErrorKind, what: &str) -> Result<()> {
    match r {
        Err(e) if e.kind() == kind => {
            outln!("    refused, as it must be: {what}: {e}");
            Ok(())
        }
        Err(e) => Err(e),
        Ok(_) => Err(HostError::new(
            ErrorKind::Internal,
            format!("the demo expected a refusal ({what}) and got none"),
        )),
    }
}

fn requested(o: ChangeOutcome) -> Result<RequestId> {
    match o {
        ChangeOutcome::Requested { request } => Ok(request),
        ChangeOutcome::Applied { .. } => Err(HostError::new(
            ErrorKind::Internal,
            "the demo expected a change request",
        )),
    }
}

/// Runs the demo.
#[allow(clippy::too_many_lines)]
pub fn run() -> Result<()> {
    let t0 = Clock::system().now()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("dkm-demo-{}-{t0}-{nanos}", std::process::id()));
    // A fresh private directory: refuses one that already exists (someone else's).
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| HostError::io("cannot create", &dir, &e))?;
    }
    let d = Demo {
        dir: dir.clone(),
        t0,
    };
    let r = story(&d);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

#[allow(clippy::too_many_lines)]
fn story(d: &Demo) -> Result<()> {
    let mut rng = SystemRng::new()?;
    outln!("dkm demo: a fresh store in {}", d.dir.display());

    step(
        1,
        "An admin creates ring \"mail\"; its key holders are two service accounts, added by the admin, who cannot read it.",
    );
    let admin = Identity::generate(&mut rng);
    let svc_a = Identity::generate(&mut rng);
    let svc_b = Identity::generate(&mut rng);
    let h = d.at(0)?;
    let id = h.create_ring(RING, &admin, Policy::default())?;
    outln!("    ring {id}, admin {}", admin.id());
    for s in [&svc_a, &svc_b] {
        h.add_member(RING, &admin, Role::Service, s.public())?;
    }
    let events = h.maintain(RING, &svc_a)?;
    outln!(
        "    service A's first maintain: {} events (epoch 1, KEK wrapped to A and B)",
        events.len()
    );
    refused(
        h.unseal(RING, &admin, &[], b"", SealOnly::Accept),
        ErrorKind::NotAMember,
        "the admin unsealing",
    )?;
    refused(
        h.seal(RING, &admin, b"x", b""),
        ErrorKind::NotAMember,
        "the admin sealing as a key holder",
    )?;

    step(
        2,
        "A browser holding only the ring's public part seals a user's mail password; only key holders open it.",
    );
    let public = h.export_public(RING)?;
    let from_browser =
        d.at(60)?
            .seal_to(&public, None, b"mail password of account 42", b"account 42")?;
    let opened = h.unseal(RING, &svc_b, &from_browser, b"account 42", SealOnly::Accept)?;
    outln!(
        "    service B reads: {} (origin: {})",
        String::from_utf8_lossy(&opened.plaintext),
        opened.origin.name()
    );
    refused(
        h.unseal(RING, &svc_b, &from_browser, b"account 42", SealOnly::Refuse),
        ErrorKind::InvalidInput,
        "a caller that accepts only what key holders sealed",
    )?;
    let sealed_day0 = h.seal(RING, &svc_a, b"refresh token of account 42", b"account 42")?;

    step(
        3,
        "Three days later the keys have rolled over by derivation; maintain only renews freshness; old secrets still open.",
    );
    let h = d.at(3 * DAY)?;
    let sealed_day3 = h.seal(RING, &svc_b, b"day-3 token", b"account 42")?;
    let key = |k: KeyId| format!("epoch {} interval {}", k.epoch, k.interval);
    outln!(
        "    day 0 secret sealed under {}, day 3 under {}",
        key(dkm_core::SealedSecret::parse(&sealed_day0)?.key_id()),
        key(dkm_core::SealedSecret::parse(&sealed_day3)?.key_id())
    );
    let day0 = h.unseal(RING, &svc_b, &sealed_day0, b"account 42", SealOnly::Refuse)?;
    outln!(
        "    the day-0 secret still opens: {}",
        String::from_utf8_lossy(&day0.plaintext)
    );

    step(
        4,
        "Bootstrap ends: the admin adds two approvers and a two-level policy (ops, then security).",
    );
    let ops = Identity::generate(&mut rng);
    let sec = Identity::generate(&mut rng);
    for a in [&ops, &sec] {
        h.add_member(RING, &admin, Role::Approver, a.public())?;
    }
    let level = |name: &str, who: &Identity| LevelSpec {
        name: name.to_owned(),
        quorum: 1,
        approvers: vec![who.public().clone()],
    };
    h.set_approval_levels(RING, &admin, &[level("ops", &ops), level("security", &sec)])?;
    h.maintain(RING, &svc_a)?;
    outln!("    approvers count after a 24 h cool-off");

    step(
        5,
        "Service B is removed (no quorum needed); the next maintain rolls the KEK and the epoch; B cannot read what is sealed after.",
    );
    let h = d.at(3 * DAY + HOUR)?;
    h.remove_member(RING, &admin, svc_b.public())?;
    for e in h.maintain(RING, &svc_a)? {
        if matches!(e, dkm_core::Event::EpochCreated { .. }) {
            outln!("    {}", dkm_host::views::event_text(&e));
        }
    }
    let after_removal = h.seal(RING, &svc_a, b"sealed after B left", b"")?;
    refused(
        h.unseal(RING, &svc_b, &after_removal, b"", SealOnly::Refuse),
        ErrorKind::NotAMember,
        "service B",
    )?;

    step(
        6,
        "The admin tries to make a second identity of its own a key holder: the change needs the quorum.",
    );
    let h = d.at(5 * DAY)?;
    let puppet = Identity::generate(&mut rng);
    let req = requested(h.add_member(RING, &admin, Role::Service, puppet.public())?)?;
    outln!("    logged as request {req}");
    refused(
        h.apply(RING, req, &admin),
        ErrorKind::PolicyUnsatisfied,
        "applying it without approvals",
    )?;
    h.deny(RING, req, "ops", &ops)?;
    outln!("    ops denies it");
    refused(
        h.apply(RING, req, &admin),
        ErrorKind::PolicyUnsatisfied,
        "applying a denied change",
    )?;
    refused(
        h.seal(RING, &puppet, b"x", b""),
        ErrorKind::NotAMember,
        "the puppet sealing",
    )?;

    step(
        7,
        "An engineer asks for 4 hours of access to what was sealed since day 0; ops approves, then security; service A grants.",
    );
    let eng = Identity::generate(&mut rng);
    let req = h.request_access(
        RING,
        &eng,
        "account 42 stopped syncing",
        4 * HOUR,
        Some(Scope::Since(d.t0)),
    )?;
    refused(
        h.approve(RING, req, "security", &sec),
        ErrorKind::PolicyUnsatisfied,
        "security approving before ops",
    )?;
    h.approve(RING, req, "ops", &ops)?;
    h.approve(RING, req, "security", &sec)?;
    let g = h.grant(RING, req, &svc_a)?;
    outln!("    grant {} until {}", g.id, format_time(g.not_after));

    step(
        8,
        "With the grant the engineer reads the day-0 secret; each unseal is audited first.",
    );
    let h = d.at(5 * DAY + HOUR)?;
    let opened = h.unseal_with_grant(
        RING,
        &eng,
        g.id,
        &sealed_day0,
        b"account 42",
        SealOnly::Refuse,
    )?;
    outln!(
        "    the engineer reads: {}",
        String::from_utf8_lossy(&opened.plaintext)
    );
    refused(
        h.seal(RING, &eng, b"x", b""),
        ErrorKind::NotAMember,
        "the engineer sealing",
    )?;

    step(
        9,
        "Five hours later the grant has expired by itself: refused.",
    );
    let h = d.at(5 * DAY + 5 * HOUR)?;
    refused(
        h.unseal_with_grant(
            RING,
            &eng,
            g.id,
            &sealed_day0,
            b"account 42",
            SealOnly::Refuse,
        ),
        ErrorKind::GrantExpired,
        "the engineer after the window",
    )?;
    h.maintain(RING, &svc_a)?;
    refused(
        h.unseal_with_grant(
            RING,
            &eng,
            g.id,
            &sealed_day0,
            b"account 42",
            SealOnly::Refuse,
        ),
        ErrorKind::GrantExpired,
        "after maintain dropped it",
    )?;

    step(
        10,
        "The audit chain verifies; a copy with one record edited does not.",
    );
    let report = h.audit_verify(RING)?;
    outln!(
        "    {} records verify, head {}",
        report.records,
        report.head.map(|a| hex::encode(a.hash)).unwrap_or_default()
    );
    for r in h.audit_records(RING)?.iter().rev().take(4).rev() {
        outln!("    #{} {} by {}", r.seq, r.action.name(), r.actor().id());
    }
    let path = d.dir.join("store").join(RING).join("audit.jsonl");
    let text =
        std::fs::read_to_string(&path).map_err(|e| HostError::io("cannot read", &path, &e))?;
    let tampered = text.replacen(
        "\"action\":\"grant-unseal\"",
        "\"action\":\"grant-expired\"",
        1,
    );
    let copy = d.dir.join("tampered");
    let store = FileStore::new(&copy);
    std::fs::create_dir_all(copy.join(RING))
        .map_err(|e| HostError::io("cannot create", &copy, &e))?;
    let (blob, _) = FileStore::new(d.dir.join("store"))
        .load(RING)?
        .ok_or_else(|| HostError::new(ErrorKind::Internal, "ring lost"))?;
    store.compare_and_swap(RING, None, &blob, &|_| Ok(Vec::new()))?;
    std::fs::write(copy.join(RING).join("audit.jsonl"), tampered)
        .map_err(|e| HostError::io("cannot write", &copy, &e))?;
    let th = Host::new(
        store,
        PinBook::new(d.dir.join("pins")),
        Clock::fixed(d.t0 + 5 * DAY + 5 * HOUR),
    )?;
    match th.audit_verify(RING)?.problem {
        Some(p) => outln!(
            "    tampered copy refused, as it must be: record {}: {}",
            p.index,
            p.fault.name()
        ),
        None => {
            return Err(HostError::new(
                ErrorKind::Internal,
                "the demo expected the tampered chain to be refused",
            ));
        }
    }
    outln!("\nDone: every step behaved as designed.");
    Ok(())
}
