//! The primitives of dkm, end to end, narrated. Run: `cargo run -p dkm-core --example demo`.
//!
//! Until the `dkm` command exists this is the project's demo. It uses the operating system's
//! clock and randomness (the core itself never reads either: both are arguments).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use dkm_core::rng::SystemRng;
use dkm_core::sealed::SealedSecret;
use dkm_core::{
    EpochKeys, ErrorKind, Identity, NodeSet, PublicIdentity, RingId, Schedule, Secret32, SigDomain,
    armor, decode_any,
};

const DAY: u64 = 86_400;

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

/// Opens a secret a key holder sealed.
fn unseal(keys: &mut EpochKeys, sealed: &[u8], ctx: &[u8]) -> dkm_core::Result<Vec<u8>> {
    let bytes = decode_any(sealed)?;
    let s = SealedSecret::parse(&bytes)?;
    let k = keys.keys_for(&s.key_id())?;
    Ok(k.unseal(&s, ctx)?.to_vec())
}

/// Opens a secret sealed by a seal-only party: the caller asks for it explicitly, since anyone
/// holding the published key could have made it.
fn unseal_from_anyone(
    keys: &mut EpochKeys,
    sealed: &[u8],
    ctx: &[u8],
) -> dkm_core::Result<Vec<u8>> {
    let s = SealedSecret::parse(sealed)?;
    let k = keys.keys_for(&s.key_id())?;
    Ok(k.unseal_seal_only(&s, ctx)?.to_vec())
}

fn run() -> dkm_core::Result<()> {
    let mut rng = SystemRng::new()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| dkm_core::Error::new(ErrorKind::OutOfRange, "clock before 1970"))?
        .as_secs();

    step(
        1,
        "Two identities: a service account (a future key holder) and an admin.",
    );
    let service = Identity::generate(&mut rng);
    let admin = Identity::generate(&mut rng);
    println!("    service account id {}", service.id());
    println!(
        "    public form (shareable, checksummed): {}",
        service.public()
    );
    let typo = service.public().to_text().replacen('a', "b", 1);
    match PublicIdentity::from_text(&typo) {
        Err(e) => println!("    a one-character typo is caught: {e}"),
        Ok(_) => println!("    (the typo happened to hit no 'a')"),
    }

    step(
        2,
        "The first key holder draws an epoch root: 65,536 one-day intervals from today.",
    );
    let ring = RingId::generate(&mut rng);
    let start = now - now % DAY;
    let schedule = Schedule::new(start, DAY)?;
    let mut root = [0u8; 32];
    rand_fill(&mut rng, &mut root);
    let root = Secret32::from_array(&mut root);
    let mut holder = EpochKeys::new(ring, 1, schedule, NodeSet::from_root(root));
    println!(
        "    ring {ring}, epoch 1, intervals until {}",
        schedule.end()
    );

    step(
        3,
        "Seal a connected account's password, bound to its context.",
    );
    let ctx = b"mail/connected-account/user-42";
    let id_today = holder.key_id_at(now)?;
    let sealed_today = holder.interval_keys(id_today.interval)?.seal(
        b"correct horse battery staple",
        ctx,
        &mut rng,
    )?;
    println!(
        "    key id: epoch {} interval {}",
        id_today.epoch, id_today.interval
    );
    println!("    armored: {}", armor(&sealed_today));

    step(
        4,
        "Ninety days pass: the key rolls over by derivation, with no write and no race.",
    );
    let later = now + 90 * DAY;
    let id_later = holder.key_id_at(later)?;
    let sealed_later =
        holder
            .interval_keys(id_later.interval)?
            .seal(b"new password", ctx, &mut rng)?;
    println!("    new secrets use interval {}", id_later.interval);
    let old = unseal(&mut holder, &sealed_today, ctx)?;
    println!(
        "    the old secret still opens: {:?}",
        String::from_utf8_lossy(&old)
    );

    step(
        5,
        "A browser seals with the published seal-only key; it cannot read back.",
    );
    let published = holder.interval_keys(id_later.interval)?.seal_only_key();
    let from_browser = published.seal(b"password typed in a web form", ctx, &mut rng)?;
    println!(
        "    the browser holds only {} public bytes",
        published.to_bytes().len()
    );
    let opened = unseal_from_anyone(&mut holder, &from_browser, ctx)?;
    println!(
        "    the key holder opens it (as a seal-only secret): {:?}",
        String::from_utf8_lossy(&opened)
    );
    match unseal(&mut holder, &from_browser, ctx) {
        Err(e) if e.kind() == ErrorKind::InvalidInput => {
            println!("    plain unseal will not take it for a key holder's secret: {e}")
        }
        other => return Err(unexpected(other)),
    }

    step(
        6,
        "Elevated access gets a minimal cover: it derives its range and nothing else.",
    );
    let first = id_today.interval;
    let last = first + 30;
    let grant_nodes = holder.nodes().derive_cover(first, last)?;
    println!(
        "    cover of intervals {first}..={last}: {} nodes {:?}",
        grant_nodes.nodes().len(),
        grant_nodes
    );
    let mut granted = EpochKeys::new(ring, 1, schedule, grant_nodes);
    let inside = unseal(&mut granted, &sealed_today, ctx)?;
    println!(
        "    inside the scope: {:?}",
        String::from_utf8_lossy(&inside)
    );
    match unseal(&mut granted, &sealed_later, ctx) {
        Err(e) if e.kind() == ErrorKind::UnknownKey => {
            println!("    outside the scope (day 90): refused: {e}")
        }
        other => return Err(unexpected(other)),
    }

    step(
        7,
        "Tampering and a wrong context are refused, never plaintext.",
    );
    let mut tampered = sealed_today.clone();
    if let Some(b) = tampered.last_mut() {
        *b ^= 1;
    }
    match unseal(&mut holder, &tampered, ctx) {
        Err(e) if e.kind() == ErrorKind::Tampered => println!("    one flipped bit: {e}"),
        other => return Err(unexpected(other)),
    }
    match unseal(
        &mut holder,
        &sealed_today,
        b"mail/connected-account/user-43",
    ) {
        Err(e) if e.kind() == ErrorKind::Tampered => println!("    another user's context: {e}"),
        other => return Err(unexpected(other)),
    }

    step(
        8,
        "Signatures are domain-separated: a governance signature is no audit signature.",
    );
    let sig = admin.sign(SigDomain::Governance, b"add member ...");
    admin
        .public()
        .verify(SigDomain::Governance, b"add member ...", &sig)?;
    println!("    governance signature verifies");
    match admin
        .public()
        .verify(SigDomain::Audit, b"add member ...", &sig)
    {
        Err(e) => println!("    the same signature as an audit record: {e}"),
        Ok(()) => {
            return Err(dkm_core::Error::new(
                ErrorKind::Internal,
                "cross-domain signature accepted",
            ));
        }
    }
    println!("\nDemo complete: every step behaved as specified.");
    Ok(())
}

fn rand_fill(rng: &mut SystemRng, out: &mut [u8]) {
    use dkm_core::rand_core::Rng;
    rng.fill_bytes(out);
}

fn unexpected<T>(_: dkm_core::Result<T>) -> dkm_core::Error {
    dkm_core::Error::new(ErrorKind::Internal, "the demo saw an unexpected result")
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
