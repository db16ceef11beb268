//! Sealed secrets: round trips, every single-byte change and every context change refused
//! with a typed error and never plaintext, seal-only, armor, limits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use chacha20::ChaCha20Rng;
use dkm_core::rand_core::SeedableRng;
use dkm_core::sealed::{MAX_PLAINTEXT_LEN, SealedSecret, Suite};
use dkm_core::{
    EpochKeys, ErrorKind, KeyId, NodeSet, RingId, Schedule, Secret32, armor, dearmor, decode_any,
};

const START: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn epoch(ring: u8, root: u8) -> EpochKeys {
    EpochKeys::new(
        RingId([ring; 16]),
        1,
        Schedule::new(START, DAY).unwrap(),
        NodeSet::from_root(Secret32::from_array(&mut [root; 32])),
    )
}

fn seal(e: &mut EpochKeys, t: u64, pt: &[u8], ctx: &[u8]) -> Vec<u8> {
    let id = e.key_id_at(t).unwrap();
    e.interval_keys(id.interval)
        .unwrap()
        .seal(pt, ctx, &mut rng(7))
        .unwrap()
}

/// Opens either suite, choosing the entry point by the suite the header names.
fn unseal(e: &mut EpochKeys, sealed: &[u8], ctx: &[u8]) -> dkm_core::Result<Vec<u8>> {
    let s = SealedSecret::parse(sealed)?;
    let keys = e.keys_for(&s.key_id())?;
    let pt = match s.suite() {
        Suite::Xaes256GcmCommit => keys.unseal(&s, ctx)?,
        Suite::HpkeX25519Xaes256GcmCommit => keys.unseal_seal_only(&s, ctx)?,
    };
    Ok(pt.to_vec())
}

fn seal_only(e: &mut EpochKeys, t: u64, pt: &[u8], ctx: &[u8]) -> Vec<u8> {
    let id = e.key_id_at(t).unwrap();
    let public = e.interval_keys(id.interval).unwrap().seal_only_key();
    public.seal(pt, ctx, &mut rng(9)).unwrap()
}

#[test]
fn round_trip_all_sizes_and_intervals() {
    let mut e = epoch(1, 2);
    for (i, len) in [0usize, 1, 15, 16, 17, 64, 1024, 70_000]
        .into_iter()
        .enumerate()
    {
        let t = START + i as u64 * 13 * DAY + 5;
        let pt: Vec<u8> = (0..len).map(|b| b as u8).collect();
        let s = seal(&mut e, t, &pt, b"mail/connected-account/42");
        let parsed = SealedSecret::parse(&s).unwrap();
        assert_eq!(parsed.suite(), Suite::Xaes256GcmCommit);
        assert_eq!(parsed.key_id().interval, (i * 13) as u16);
        assert_eq!(parsed.plaintext_len(), len);
        assert_eq!(s.len(), 1 + 1 + 22 + 24 + 32 + len + 16);
        assert_eq!(
            unseal(&mut e, &s, b"mail/connected-account/42").unwrap(),
            pt
        );
    }
}

#[test]
fn two_seals_differ() {
    let mut e = epoch(1, 2);
    let id = e.key_id_at(START).unwrap();
    let k = e.interval_keys(id.interval).unwrap();
    let mut r = rng(1);
    let a = k.seal(b"x", b"", &mut r).unwrap();
    let b = k.seal(b"x", b"", &mut r).unwrap();
    assert_ne!(a, b);
}

/// Each single-byte change (two different changes per position) gives an error of an
/// expected kind and never the plaintext.
fn assert_every_flip_refused(e: &mut EpochKeys, sealed: &[u8], ctx: &[u8]) {
    for i in 0..sealed.len() {
        // 0x03 turns suite 1 into 2 and 2 into 1.
        for mask in [0x01u8, 0x03, 0x80, 0xff] {
            let mut bad = sealed.to_vec();
            bad[i] ^= mask;
            let err = unseal(e, &bad, ctx).expect_err("a changed byte must never unseal");
            let allowed = match i {
                0 => vec![ErrorKind::Unsupported],
                1 => vec![
                    ErrorKind::Unsupported,
                    ErrorKind::Malformed,
                    ErrorKind::Tampered,
                ],
                2..=17 => vec![ErrorKind::UnknownKey], // ring id
                18..=21 => vec![ErrorKind::UnknownKey], // epoch
                _ => vec![ErrorKind::Tampered],
            };
            assert!(
                allowed.contains(&err.kind()),
                "byte {i} mask {mask:#x}: {err} not in {allowed:?}"
            );
        }
    }
    // Truncation at every length and one appended byte are refused too.
    for n in 0..sealed.len() {
        assert!(unseal(e, &sealed[..n], ctx).is_err(), "truncated to {n}");
    }
    let mut longer = sealed.to_vec();
    longer.push(0);
    assert_eq!(
        unseal(e, &longer, ctx).unwrap_err().kind(),
        ErrorKind::Tampered
    );
}

#[test]
fn every_byte_flip_is_refused_suite1() {
    let mut e = epoch(3, 4);
    let s = seal(&mut e, START + 100 * DAY, b"hunter2 and more", b"ctx");
    assert_every_flip_refused(&mut e, &s, b"ctx");
}

#[test]
fn every_byte_flip_is_refused_seal_only() {
    let mut e = epoch(3, 4);
    let s = seal_only(&mut e, START + 3 * DAY, b"password from a browser", b"ctx");
    assert_eq!(
        SealedSecret::parse(&s).unwrap().suite(),
        Suite::HpkeX25519Xaes256GcmCommit
    );
    assert_eq!(
        unseal(&mut e, &s, b"ctx").unwrap(),
        b"password from a browser"
    );
    assert_every_flip_refused(&mut e, &s, b"ctx");
}

#[test]
fn each_entry_point_opens_only_its_suite() {
    let mut e = epoch(3, 4);
    let by_holder = seal(&mut e, START, b"a", b"");
    let by_anyone = seal_only(&mut e, START, b"b", b"");
    assert_eq!(by_holder.len(), 96 + 1);
    assert_eq!(by_anyone.len(), 128 + 1);
    let keys = e.interval_keys(0).unwrap();
    let holder = SealedSecret::parse(&by_holder).unwrap();
    let anyone = SealedSecret::parse(&by_anyone).unwrap();
    assert_eq!(
        keys.unseal(&anyone, b"").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        keys.unseal_seal_only(&holder, b"").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(&keys.unseal(&holder, b"").unwrap()[..], b"a");
    assert_eq!(&keys.unseal_seal_only(&anyone, b"").unwrap()[..], b"b");
}

#[test]
fn context_is_bound() {
    let mut e = epoch(5, 6);
    for s in [
        seal(&mut e, START, b"secret", b"user:1"),
        seal_only(&mut e, START, b"secret", b"user:1"),
    ] {
        for ctx in [&b""[..], b"user:2", b"user:1\0", b"User:1", b"user:"] {
            assert_eq!(
                unseal(&mut e, &s, ctx).unwrap_err().kind(),
                ErrorKind::Tampered
            );
        }
        assert_eq!(unseal(&mut e, &s, b"user:1").unwrap(), b"secret");
    }
}

#[test]
fn wrong_key_material_is_refused() {
    let mut e = epoch(5, 6);
    let s = seal(&mut e, START, b"secret", b"");
    // Same ring and epoch, another root: commitment mismatch.
    let mut other_root = epoch(5, 7);
    assert_eq!(
        unseal(&mut other_root, &s, b"").unwrap_err().kind(),
        ErrorKind::Tampered
    );
    // Another ring: unknown key.
    let mut other_ring = epoch(8, 6);
    assert_eq!(
        unseal(&mut other_ring, &s, b"").unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
    // Keys of another interval of the same epoch refuse it as well.
    let keys = e.interval_keys(9).unwrap();
    let parsed = SealedSecret::parse(&s).unwrap();
    assert_eq!(
        keys.unseal(&parsed, b"").unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
}

#[test]
fn a_cover_opens_inside_and_refuses_outside() {
    let mut full = epoch(1, 1);
    let inside = seal(&mut full, START + 10 * DAY, b"in", b"");
    let before = seal(&mut full, START + 9 * DAY, b"before", b"");
    let after = seal(&mut full, START + 21 * DAY, b"after", b"");
    let cover = full.nodes().derive_cover(10, 20).unwrap();
    let mut partial = EpochKeys::new(RingId([1; 16]), 1, *full.schedule(), cover);
    assert_eq!(unseal(&mut partial, &inside, b"").unwrap(), b"in");
    assert_eq!(
        unseal(&mut partial, &before, b"").unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
    assert_eq!(
        unseal(&mut partial, &after, b"").unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
}

#[test]
fn cache_keeps_recent_intervals() {
    let mut e = epoch(1, 1);
    e.set_cache_capacity(2);
    e.interval_keys(1).unwrap();
    e.interval_keys(2).unwrap();
    assert!(e.is_cached(1) && e.is_cached(2));
    e.interval_keys(1).unwrap(); // 1 becomes most recent
    e.interval_keys(3).unwrap(); // evicts 2
    assert!(e.is_cached(1) && e.is_cached(3) && !e.is_cached(2));
}

#[test]
fn armor_round_trip_and_strictness() {
    let mut e = epoch(1, 1);
    let s = seal(&mut e, START, b"armored", b"");
    let text = armor(&s);
    assert!(text.starts_with("dkm1:"));
    assert!(!text.contains(['=', '+', '/', ' ', '\n']));
    assert_eq!(dearmor(&text).unwrap(), s);
    assert_eq!(&*decode_any(text.as_bytes()).unwrap(), &s[..]);
    assert_eq!(&*decode_any(&s).unwrap(), &s[..]);
    assert_eq!(
        unseal(&mut e, &dearmor(&text).unwrap(), b"").unwrap(),
        b"armored"
    );
    for bad in [
        format!("DKM1:{}", &text[5..]),
        format!("{text}="),
        format!("{text}\n"),
        format!(" {text}"),
        text.replace('A', "+"),
        text[..text.len() - 1].to_string(),
        "dkm1:".to_string() + "a",
    ] {
        if bad != text {
            assert!(
                dearmor(&bad).is_err() || unseal(&mut e, &dearmor(&bad).unwrap(), b"").is_err(),
                "{bad}"
            );
        }
    }
}

#[test]
fn versions_suites_and_limits() {
    let mut e = epoch(1, 1);
    let s = seal(&mut e, START, b"x", b"");
    let mut v2 = s.clone();
    v2[0] = 2;
    assert_eq!(
        SealedSecret::parse(&v2).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    let mut s3 = s.clone();
    s3[1] = 3;
    assert_eq!(
        SealedSecret::parse(&s3).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        SealedSecret::parse(&[]).unwrap_err().kind(),
        ErrorKind::Malformed
    );
    // Header and commitment but no tag.
    assert_eq!(
        SealedSecret::parse(&s[..s.len() - 17]).unwrap_err().kind(),
        ErrorKind::Malformed
    );
    // Past the documented plaintext limit (checked before any allocation of the plaintext).
    let keys = e.interval_keys(0).unwrap();
    let huge = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    assert_eq!(
        keys.seal(&huge, b"", &mut rng(1)).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
    let mut big = s.clone();
    big.resize(dkm_core::sealed::MAX_SEALED_LEN + 1, 0);
    assert_eq!(
        SealedSecret::parse(&big).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
}

#[test]
fn times_outside_the_schedule() {
    let e = epoch(1, 1);
    assert_eq!(
        e.key_id_at(START - 1).unwrap_err().kind(),
        ErrorKind::OutOfRange
    );
    assert_eq!(
        e.key_id_at(START + 65_536 * DAY).unwrap_err().kind(),
        ErrorKind::OutOfRange
    );
    assert_eq!(
        e.key_id_at(START + 65_536 * DAY - 1).unwrap(),
        KeyId {
            ring: RingId([1; 16]),
            epoch: 1,
            interval: 65_535
        }
    );
}

/// Would a byte array with these bytes show up in `dbg` (decimal `Debug`, or hex)?
fn leaks(dbg: &str, secret: &[u8]) -> bool {
    let dec = format!("{:?}", &secret[..4]);
    let dec = dec.trim_matches(|c| c == '[' || c == ']');
    let hex: String = secret[..4].iter().map(|b| format!("{b:02x}")).collect();
    dbg.contains(dec) || dbg.to_lowercase().contains(&hex)
}

#[test]
fn secrets_never_print() {
    // A root and derived keys with distinctive bytes; none may appear in any Debug output.
    let root = [0xabu8; 32];
    let mut e = EpochKeys::new(
        RingId([1; 16]),
        1,
        Schedule::new(START, DAY).unwrap(),
        NodeSet::from_root(Secret32::from_array(&mut root.clone())),
    );
    assert!(
        leaks(&format!("{:?}", root), &root),
        "the probe itself must work"
    );
    let keys = e.interval_keys(0).unwrap();
    let leaf = e.nodes().leaf(0).unwrap();
    for dbg in [
        format!("{keys:?}"),
        format!("{e:?}"),
        format!("{leaf:?}"),
        format!("{:?}", e.nodes()),
        format!("{:?}", Secret32::from_array(&mut root.clone())),
        format!("{:?}", dkm_core::xaes::XaesKey::new(&root)),
    ] {
        assert!(!leaks(&dbg, &root), "{dbg}");
        assert!(!leaks(&dbg, leaf.secret().expose()), "{dbg}");
    }
    assert_eq!(
        format!("{:?}", Secret32::from_array(&mut [0xab; 32])),
        "Secret32(<redacted>)"
    );
}

#[test]
fn unseal_owned_opens_in_place_and_refuses_like_unseal() {
    let mut e = epoch(1, 2);
    let t = START + 3 * DAY;
    for len in [0usize, 1, 64, 1023, 1024, 70_000] {
        let pt: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        for ctx in [&b""[..], b"acct:42"] {
            let sealed = seal(&mut e, t, &pt, ctx);
            let keys = e
                .keys_for(&SealedSecret::parse(&sealed).unwrap().key_id())
                .unwrap();
            let opened = keys.unseal_owned(sealed.clone(), ctx).unwrap();
            assert_eq!(&*opened, &pt[..], "length {len}");
            assert_eq!(
                format!("{opened:?}"),
                format!("Opened(<{len} bytes redacted>)")
            );
            let v = opened.into_vec();
            assert_eq!(&v[..], &pt[..]);
            // The same refusals as unseal: a wrong context, any changed byte, trailing bytes.
            let wrong = keys.unseal_owned(sealed.clone(), b"other").unwrap_err();
            assert_eq!(wrong.kind(), ErrorKind::Tampered);
            for i in [0, 2, 30, 60, sealed.len() - 1] {
                let mut bad = sealed.clone();
                bad[i] ^= 1;
                let owned = keys.unseal_owned(bad.clone(), ctx).map(|o| o.to_vec());
                let by_ref = SealedSecret::parse(&bad).and_then(|s| keys.unseal(&s, ctx));
                assert_eq!(
                    owned.unwrap_err().kind(),
                    by_ref.unwrap_err().kind(),
                    "byte {i}"
                );
            }
        }
    }
    // A seal-only secret is refused, as by unseal.
    let so = seal_only(&mut e, t, b"pw", b"");
    let keys = e
        .keys_for(&SealedSecret::parse(&so).unwrap().key_id())
        .unwrap();
    assert_eq!(
        keys.unseal_owned(so, b"").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn seal_into_gives_the_bytes_of_seal_and_reuses_its_buffer() {
    let mut e = epoch(1, 2);
    let keys = e
        .interval_keys(e.key_id_at(START).unwrap().interval)
        .unwrap();
    let mut out = vec![0xAAu8; 10]; // leftovers are dropped
    for (pt, ctx) in [
        (&b"short"[..], &b"ctx"[..]),
        (&[0x5Au8; 4096][..], &b""[..]),
        (&b""[..], &b"c"[..]),
    ] {
        keys.seal_into(pt, ctx, &mut rng(9), &mut out).unwrap();
        // Same generator state: exactly the bytes `seal` makes.
        assert_eq!(out, keys.seal(pt, ctx, &mut rng(9)).unwrap());
        assert_eq!(unseal(&mut e, &out, ctx).unwrap(), pt);
    }
    // The buffer keeps the allocation of the largest seal.
    assert!(out.capacity() >= 4096);
    let cap = out.capacity();
    keys.seal_into(b"again", b"", &mut rng(3), &mut out)
        .unwrap();
    assert_eq!(out.capacity(), cap);
    // A refused plaintext leaves the buffer empty.
    let big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    let err = keys
        .seal_into(&big, b"", &mut rng(3), &mut out)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(out.is_empty());
}
