//! The ring layer: `Pin::from_bytes`, `SignedGovernance::parse`, `SignedKeyState::parse` and
//! `Ring::load`, then `KeyHolder::open` on what loads. The whole input goes to each parser.
//!
//! - `Pin::from_bytes` → on success `to_bytes` is the input, and parses again to the same pin.
//! - `SignedGovernance::parse` / `SignedKeyState::parse` → on success `as_bytes()` is the
//!   input, and the parsed fields (with the input's trailing signature) re-encode to it.
//! - `Ring::load` through a first-use pin: the ring id at bytes 5..21 of the input (zeros when
//!   the input is shorter) and the admin of `testvectors/v1/ring.json` ([`ADMIN_PUBLIC`]). On
//!   success: `to_bytes()` is the input (canonical); the ring's own `pin()` round-trips
//!   through its bytes and loads the same input again, to the same bytes and pin; `keys(t)`
//!   is consistent with the ring for a few `t`.
//! - a loaded ring goes to `KeyHolder::open` as the vector's key holder ([`HOLDER_SECRET`]).
//!   When it opens: `needs_maintain(t)` never panics; slices of the input, which nothing ever
//!   sealed under [`FUZZ_CONTEXT`], never open (`unseal`, `unseal_seal_only`); a secret the
//!   key holder seals (first `t` it can) opens to its plaintext, under its own context only
//!   and with `unseal` only; one sealed through `RingPublic` opens with `unseal_seal_only`
//!   only. Neither changes the ring.
//!
//! Records are signed, so mutations of a record fail its signature: what this target mostly
//! explores is the ring blob's structure around valid records (dropped, reordered, repeated or
//! spliced records, key state present or not, other ring ids, lengths and flags).
#![no_main]

use std::sync::OnceLock;

use dkm_core::identity::SIGNATURE_LEN;
use dkm_core::ring::keystate::KEY_STATE_FORMAT;
use dkm_core::ring::{SignedGovernance, SignedKeyState};
use dkm_core::{ErrorKind, Identity, KeyHolder, Pin, PublicIdentity, Ring, RingId, RingPublic};
use dkm_fuzz::{FUZZ_CONTEXT, SeedRng};
use libfuzzer_sys::fuzz_target;

/// `admin_public` of `testvectors/v1/ring.json`: the signer of governance v1 (and v2).
const ADMIN_PUBLIC: &str = "dkmpub12qdnsehmoci7k7nqcreyyjkwkgrhx3zw5rnktjc64qn4gclqtegyyh4njxvp4tr3if3e4lufyh2rxu6rx4quhd73grodydiiltkwovhoq4tek";
/// `key_holder_secret` of `testvectors/v1/ring.json` (a published test identity).
const HOLDER_SECRET: &str = "dkmsec1aHlAg-hubEjAZ3gKm-h4KglMX9_IT9j6Mrk17BI6G3SgsNJCG3BVbSRIRF2CZ4do54Y7nMsJHwXH3B_LxXq0a6n_o8c";

/// Times to list keys and seal at: 0, the vector's creation, its write time, its freshness
/// deadline and one second past it, the end of time.
const TIMES: [u64; 6] = [
    0,
    1_767_225_600,
    1_767_398_400,
    1_767_571_200,
    1_767_571_201,
    u64::MAX,
];

const PLAINTEXT: &[u8] = b"dkm-fuzz/ring plaintext";
const CONTEXT: &[u8] = b"dkm-fuzz/ring context";

fn admin() -> &'static PublicIdentity {
    static ADMIN: OnceLock<PublicIdentity> = OnceLock::new();
    ADMIN.get_or_init(|| match PublicIdentity::from_text(ADMIN_PUBLIC) {
        Ok(p) => p,
        Err(e) => panic!("ADMIN_PUBLIC does not parse: {e}"),
    })
}

fn holder() -> &'static Identity {
    static HOLDER: OnceLock<Identity> = OnceLock::new();
    HOLDER.get_or_init(|| match Identity::from_secret_text(HOLDER_SECRET) {
        Ok(id) => id,
        Err(e) => panic!("HOLDER_SECRET does not parse: {e}"),
    })
}

fn u16_len(n: usize) -> [u8; 2] {
    u16::try_from(n).expect("count fits a u16").to_be_bytes()
}

fn u32_len(n: usize) -> [u8; 4] {
    u32::try_from(n).expect("length fits a u32").to_be_bytes()
}

/// A governance record from its parsed fields: content ‖ approval ‖ signer ‖ `signature`.
fn governance_record(g: &SignedGovernance, signature: &[u8]) -> Vec<u8> {
    let gov = g.governance();
    let mut out = gov.content_bytes();
    match &gov.approval {
        None => out.push(0),
        Some(a) => {
            out.push(1);
            out.extend_from_slice(&a.request);
            out.extend_from_slice(&u16_len(a.evidence.len()));
            for e in &a.evidence {
                out.extend_from_slice(&u32_len(e.len()));
                out.extend_from_slice(e);
            }
        }
    }
    out.extend_from_slice(&g.signer().to_bytes());
    out.extend_from_slice(signature);
    out
}

/// A key-state record from its parsed fields: body ‖ signer ‖ `signature`.
fn key_state_record(s: &SignedKeyState, signature: &[u8]) -> Vec<u8> {
    let ks = s.key_state();
    let mut out = vec![KEY_STATE_FORMAT];
    out.extend_from_slice(&ks.ring.0);
    out.extend_from_slice(&ks.version.to_be_bytes());
    out.extend_from_slice(&ks.prev_hash);
    out.extend_from_slice(&ks.governance.version.to_be_bytes());
    out.extend_from_slice(&ks.governance.hash);
    out.extend_from_slice(&ks.write_time.to_be_bytes());
    out.extend_from_slice(&ks.fresh_until.to_be_bytes());
    out.extend_from_slice(&ks.reset_serial.to_be_bytes());
    out.extend_from_slice(&ks.shred_applied.to_be_bytes());
    for a in [ks.audit, ks.requests] {
        out.extend_from_slice(&a.seq.to_be_bytes());
        out.extend_from_slice(&a.hash);
    }
    out.extend_from_slice(&ks.kek_generation.to_be_bytes());
    out.extend_from_slice(&ks.kek_check);
    out.extend_from_slice(&u16_len(ks.wraps.len()));
    for w in &ks.wraps {
        out.extend_from_slice(&w.recipient.0);
        out.extend_from_slice(&w.enc);
        out.extend_from_slice(&w.ciphertext);
    }
    out.extend_from_slice(&u16_len(ks.epochs.len()));
    for e in &ks.epochs {
        out.extend_from_slice(&e.epoch.to_be_bytes());
        out.push(e.state as u8);
        out.extend_from_slice(&e.start.to_be_bytes());
        out.extend_from_slice(&e.interval_secs.to_be_bytes());
        out.extend_from_slice(&e.created.to_be_bytes());
        out.extend_from_slice(&e.retired.to_be_bytes());
        out.push(u8::try_from(e.positions.len()).expect("node count fits a u8"));
        for p in &e.positions {
            out.extend_from_slice(&p.to_bytes());
        }
        out.extend_from_slice(&e.sealed_nodes);
    }
    out.extend_from_slice(&u16_len(ks.seal_only.len()));
    for k in &ks.seal_only {
        assert_eq!(k.id().ring, ks.ring, "a published key names another ring");
        out.extend_from_slice(&k.id().epoch.to_be_bytes());
        out.extend_from_slice(&k.id().interval.to_be_bytes());
        out.extend_from_slice(k.public());
    }
    out.extend_from_slice(&u16_len(ks.approver_since.len()));
    for a in &ks.approver_since {
        out.extend_from_slice(&a.approver.0);
        out.extend_from_slice(&a.since.to_be_bytes());
    }
    out.extend_from_slice(&u16_len(ks.grants.len()));
    for g in &ks.grants {
        out.extend_from_slice(&u32_len(g.len()));
        out.extend_from_slice(g);
    }
    out.extend_from_slice(&u16_len(ks.used_requests.len()));
    for r in &ks.used_requests {
        out.extend_from_slice(r);
    }
    out.extend_from_slice(&s.signer().to_bytes());
    out.extend_from_slice(signature);
    out
}

/// The input's last `SIGNATURE_LEN` bytes (a parsed record ends with its signature).
fn trailing_signature(data: &[u8]) -> &[u8] {
    match data.len().checked_sub(SIGNATURE_LEN) {
        Some(at) => &data[at..],
        None => panic!("a record shorter than its signature parsed"),
    }
}

fn check_keys(ring: &Ring, t: u64) {
    let listing = ring.keys(t);
    assert_eq!(listing.ring, ring.id(), "keys({t}) names another ring");
    assert_eq!(listing.stale, ring.is_stale(t), "keys({t}).stale");
    assert_eq!(listing.pending, ring.is_pending(), "keys({t}).pending");
    assert_eq!(
        listing.bootstrap,
        ring.is_bootstrap(),
        "keys({t}).bootstrap"
    );
    match ring.key_state().map(|s| s.key_state()) {
        None => {
            assert!(listing.current.is_none() && listing.epochs.is_empty());
            assert!(listing.write_time.is_none() && listing.kek_generation.is_none());
        }
        Some(ks) => {
            assert_eq!(listing.epochs.len(), ks.epochs.len(), "keys({t}) epochs");
            assert_eq!(listing.write_time, Some(ks.write_time));
            assert_eq!(listing.fresh_until, Some(ks.fresh_until));
            if let Some(k) = listing.current {
                assert_eq!(k.ring, ring.id(), "keys({t}).current names another ring");
                let current = ks.current().map(|e| e.epoch);
                assert_eq!(Some(k.epoch), current, "keys({t}).current epoch");
            }
        }
    }
}

fn check_holder(ring: &Ring, data: &[u8]) {
    let mut h = match KeyHolder::open(ring.clone(), holder()) {
        Ok(h) => h,
        Err(e) => {
            assert!(
                matches!(e.kind(), ErrorKind::NotAMember | ErrorKind::Tampered),
                "KeyHolder::open: {e}"
            );
            return;
        }
    };
    for t in TIMES {
        let _ = h.needs_maintain(t);
    }

    // Nothing was ever sealed under FUZZ_CONTEXT: no slice of the input may open.
    for from in [0, 4, 5, 21] {
        let Some(slice) = data.get(from..) else {
            continue;
        };
        if let Ok(pt) = h.unseal(slice, FUZZ_CONTEXT) {
            panic!(
                "unseal opened input[{from}..] under FUZZ_CONTEXT ({} bytes)",
                pt.len()
            );
        }
        if let Ok(pt) = h.unseal_seal_only(slice, FUZZ_CONTEXT) {
            panic!(
                "unseal_seal_only opened input[{from}..] under FUZZ_CONTEXT ({} bytes)",
                pt.len()
            );
        }
    }

    // What the key holder seals opens to its plaintext, under its own context only.
    let mut rng = SeedRng::new(0x7269_6e67); // "ring"
    if let Some(sealed) = TIMES
        .iter()
        .find_map(|&t| h.seal(t, PLAINTEXT, CONTEXT, &mut rng).ok())
    {
        match h.unseal(&sealed, CONTEXT) {
            Ok(pt) => assert_eq!(pt.as_slice(), PLAINTEXT, "seal → unseal differs"),
            Err(e) => panic!("the key holder's own seal does not open: {e}"),
        }
        match h.unseal(&sealed, FUZZ_CONTEXT) {
            Ok(_) => panic!("unseal opened under another context"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Tampered, "unseal, other context: {e}"),
        }
        match h.unseal_seal_only(&sealed, CONTEXT) {
            Ok(_) => panic!("unseal_seal_only opened a suite-1 secret"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "unseal_seal_only: {e}"),
        }
    }

    // What a seal-only party seals opens with unseal_seal_only only.
    let public = RingPublic::from_ring(ring.clone());
    if let Some(sealed) = TIMES
        .iter()
        .find_map(|&t| public.seal(t, PLAINTEXT, CONTEXT, &mut rng).ok())
    {
        match h.unseal_seal_only(&sealed, CONTEXT) {
            Ok(pt) => assert_eq!(pt.as_slice(), PLAINTEXT, "seal-only → unseal differs"),
            Err(e) => panic!("a seal-only secret does not open: {e}"),
        }
        match h.unseal(&sealed, CONTEXT) {
            Ok(_) => panic!("unseal opened a suite-2 secret"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "unseal of suite 2: {e}"),
        }
    }
    assert_eq!(h.into_ring().to_bytes(), data, "sealing changed the ring");
}

fuzz_target!(|data: &[u8]| {
    // Pin
    if let Ok(pin) = Pin::from_bytes(data) {
        let bytes = pin.to_bytes();
        assert_eq!(bytes, data, "Pin::to_bytes(from_bytes(x)) != x");
        assert_eq!(Pin::from_bytes(&bytes), Ok(pin), "pin re-parse differs");
    }

    // Records
    if let Ok(g) = SignedGovernance::parse(data) {
        assert_eq!(
            g.as_bytes(),
            data,
            "governance as_bytes differs from the input"
        );
        let re = governance_record(&g, trailing_signature(data));
        assert_eq!(re, data, "governance fields do not re-encode to the input");
    }
    if let Ok(s) = SignedKeyState::parse(data) {
        assert_eq!(
            s.as_bytes(),
            data,
            "key-state as_bytes differs from the input"
        );
        let re = key_state_record(&s, trailing_signature(data));
        assert_eq!(re, data, "key-state fields do not re-encode to the input");
    }

    // Ring, through a first-use pin naming the input's ring id and the vector's admin.
    let id = data
        .get(5..21)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .unwrap_or([0; 16]);
    let first_use = Pin::new(RingId(id), vec![admin().clone()]);
    let Ok(ring) = Ring::load(data, &first_use) else {
        return;
    };
    assert_eq!(ring.id(), RingId(id));
    assert_eq!(ring.to_bytes(), data, "Ring::to_bytes(load(x)) != x");
    let pin = ring.pin();
    let pin_bytes = pin.to_bytes();
    match Pin::from_bytes(&pin_bytes) {
        Ok(p) => assert_eq!(p, pin, "the ring's pin does not round-trip"),
        Err(e) => panic!("the ring's pin does not parse: {e}"),
    }
    match Ring::load(data, &pin) {
        Ok(again) => {
            assert_eq!(
                again.to_bytes(),
                data,
                "reload through the ring's pin differs"
            );
            assert_eq!(again.pin(), pin, "reload gives another pin");
        }
        Err(e) => panic!("the ring does not load through its own pin: {e}"),
    }
    let t_input = data.last_chunk::<8>().map_or(0, |b| u64::from_be_bytes(*b));
    for t in TIMES.into_iter().chain([t_input]) {
        check_keys(&ring, t);
    }
    check_holder(&ring, data);
});
