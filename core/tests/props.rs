//! Property tests: encode/decode round trips, and parsers that never panic on arbitrary
//! input (every malformed input is a typed error).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use chacha20::ChaCha20Rng;
use dkm_core::rand_core::SeedableRng;
use dkm_core::sealed::SealedSecret;
use dkm_core::{
    EpochKeys, Identity, KeyId, NodePos, NodeSet, PublicIdentity, RingId, Schedule, SealOnlyKey,
    Secret32, armor, cover, dearmor, decode_any,
};
use proptest::prelude::*;

fn epoch(root: u8) -> EpochKeys {
    EpochKeys::new(
        RingId([9; 16]),
        4,
        Schedule::new(1_000_000, 3_600).unwrap(),
        NodeSet::from_root(Secret32::from_array(&mut [root; 32])),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sealed_round_trip(
        pt in proptest::collection::vec(any::<u8>(), 0..2048),
        ctx in proptest::collection::vec(any::<u8>(), 0..64),
        interval in any::<u16>(),
        seed in any::<[u8; 32]>(),
        seal_only in any::<bool>(),
    ) {
        let mut e = epoch(1);
        let mut rng = ChaCha20Rng::from_seed(seed);
        let keys = e.interval_keys(interval).unwrap();
        let sealed = if seal_only {
            keys.seal_only_key().seal(&pt, &ctx, &mut rng).unwrap()
        } else {
            keys.seal(&pt, &ctx, &mut rng).unwrap()
        };
        let expected_len = pt.len() + if seal_only { 128 } else { 96 };
        prop_assert_eq!(sealed.len(), expected_len);
        let text = armor(&sealed);
        prop_assert_eq!(&dearmor(&text).unwrap(), &sealed);
        let parsed = SealedSecret::parse(&sealed).unwrap();
        prop_assert_eq!(parsed.as_bytes(), &sealed[..]);
        prop_assert_eq!(parsed.key_id().interval, interval);
        let opened = if seal_only {
            keys.unseal_seal_only(&parsed, &ctx).unwrap()
        } else {
            keys.unseal(&parsed, &ctx).unwrap()
        };
        prop_assert_eq!(&opened[..], &pt[..]);
    }

    #[test]
    fn key_ids_and_positions_round_trip(ring in any::<[u8; 16]>(), epoch in any::<u32>(), interval in any::<u16>(), level in 0u8..=16, index in any::<u16>()) {
        let id = KeyId { ring: RingId(ring), epoch, interval };
        prop_assert_eq!(KeyId::from_bytes(&id.to_bytes()).unwrap(), id);
        let index = if level == 16 { index } else { index % (1u16 << level) };
        let pos = NodePos::new(level, index).unwrap();
        prop_assert_eq!(NodePos::from_bytes(&pos.to_bytes()).unwrap(), pos);
        let k = SealOnlyKey::new(id, [7; 32]).unwrap();
        prop_assert_eq!(SealOnlyKey::from_bytes(&k.to_bytes()).unwrap(), k);
    }

    #[test]
    fn identities_round_trip(seed in any::<[u8; 32]>()) {
        let id = Identity::generate(&mut ChaCha20Rng::from_seed(seed));
        let public = PublicIdentity::from_text(&id.public().to_text()).unwrap();
        prop_assert_eq!(&public, id.public());
        let back = Identity::from_secret_text(&id.to_secret_text()).unwrap();
        prop_assert_eq!(back.public(), id.public());
    }

    #[test]
    fn covers_are_exact(a in any::<u16>(), b in any::<u16>()) {
        let (first, last) = (a.min(b), a.max(b));
        let c = cover(first, last).unwrap();
        prop_assert!(c.len() <= 30);
        let total: u32 = c.iter().map(|p| u32::from(p.last_leaf()) - u32::from(p.first_leaf()) + 1).sum();
        prop_assert_eq!(total, u32::from(last) - u32::from(first) + 1);
        let set = epoch(2).nodes().derive_cover(first, last).unwrap();
        prop_assert_eq!(set.ranges(), vec![(first, last)]);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = SealedSecret::parse(&bytes);
        let _ = KeyId::from_bytes(&bytes);
        let _ = SealOnlyKey::from_bytes(&bytes);
        let _ = PublicIdentity::from_bytes(&bytes);
        let _ = decode_any(&bytes);
        if let Ok(b3) = <[u8; 3]>::try_from(&bytes[..bytes.len().min(3)]) {
            let _ = NodePos::from_bytes(&b3);
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = dearmor(&text);
        let _ = PublicIdentity::from_text(&text);
        let _ = Identity::from_secret_text(&text);
    }

    #[test]
    fn text_parsers_never_panic_on_near_valid_input(
        body in "[a-z2-7A-Z_=-]{0,130}",
        prefix in prop_oneof![Just("dkmpub1"), Just("dkmsec1"), Just("dkm1:"), Just("")],
    ) {
        let text = format!("{prefix}{body}");
        let _ = PublicIdentity::from_text(&text);
        let _ = Identity::from_secret_text(&text);
        if let Ok(bytes) = dearmor(&text) {
            let _ = SealedSecret::parse(&bytes);
        }
    }

    /// The whole unseal path (parse, key lookup, both entry points) on valid secrets of both
    /// suites with random byte changes, several at once, and truncations: always an error.
    #[test]
    fn near_valid_sealed_secrets_are_refused(
        seed in any::<[u8; 32]>(),
        seal_only in any::<bool>(),
        changes in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut e = epoch(4);
        let keys = e.interval_keys(5).unwrap();
        let mut rng = ChaCha20Rng::from_seed(seed);
        let sealed = if seal_only {
            keys.seal_only_key().seal(b"never leak me", b"c", &mut rng).unwrap()
        } else {
            keys.seal(b"never leak me", b"c", &mut rng).unwrap()
        };
        let mut bad = sealed.clone();
        for (pos, x) in &changes {
            let i = pos.index(bad.len());
            bad[i] ^= x;
        }
        let mut open = |bytes: &[u8]| -> Vec<dkm_core::Result<()>> {
            match SealedSecret::parse(bytes).and_then(|s| e.keys_for(&s.key_id()).map(|k| (s, k))) {
                Err(err) => vec![Err(err)],
                Ok((s, k)) => vec![
                    k.unseal(&s, b"c").map(|_| ()),
                    k.unseal_seal_only(&s, b"c").map(|_| ()),
                ],
            }
        };
        if bad != sealed {
            prop_assert!(open(&bad).iter().all(|r| r.is_err()));
        }
        let short = &sealed[..cut.index(sealed.len())];
        prop_assert!(open(short).iter().all(|r| r.is_err()));
    }
}
