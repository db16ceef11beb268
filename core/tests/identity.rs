//! Identities: text forms, checksums, signatures, redaction.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use chacha20::ChaCha20Rng;
use dkm_core::rand_core::SeedableRng;
use dkm_core::{ErrorKind, Identity, PublicIdentity, SigDomain};

fn ident(seed: u8) -> Identity {
    Identity::generate(&mut ChaCha20Rng::from_seed([seed; 32]))
}

#[test]
fn public_text_round_trip_and_alphabet() {
    for seed in 0..20 {
        let id = ident(seed);
        let text = id.public().to_text();
        assert!(text.starts_with("dkmpub1"));
        assert_eq!(text.len(), 7 + 109);
        assert!(!text.contains(|c: char| c.is_whitespace() || c == ',' || c == ':'));
        let back = PublicIdentity::from_text(&text).unwrap();
        assert_eq!(&back, id.public());
        assert_eq!(back.id(), id.id());
        assert_eq!(PublicIdentity::from_bytes(&back.to_bytes()).unwrap(), back);
        assert_eq!(id.id().to_string().len(), 32);
    }
}

#[test]
fn every_single_character_typo_is_caught() {
    let text = ident(1).public().to_text();
    let alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    for i in 7..text.len() {
        for c in alphabet.chars() {
            let mut typo: Vec<char> = text.chars().collect();
            if typo[i] == c {
                continue;
            }
            typo[i] = c;
            let typo: String = typo.into_iter().collect();
            let err = PublicIdentity::from_text(&typo).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::BadChecksum | ErrorKind::Malformed),
                "{i} {c}: {err}"
            );
        }
    }
    // Transposition of two neighbours.
    let mut chars: Vec<char> = text.chars().collect();
    let i = chars.iter().skip(8).position(|c| *c != chars[8]).unwrap() + 8;
    chars.swap(i - 1, i);
    let swapped: String = chars.into_iter().collect();
    assert!(PublicIdentity::from_text(&swapped).is_err());
    // Truncation, extension, upper case, wrong prefix.
    assert!(PublicIdentity::from_text(&text[..text.len() - 1]).is_err());
    assert!(PublicIdentity::from_text(&format!("{text}a")).is_err());
    assert!(PublicIdentity::from_text(&text.to_uppercase()).is_err());
    assert!(PublicIdentity::from_text(&text.replacen("dkmpub1", "dkmpub2", 1)).is_err());
}

#[test]
fn secret_text_round_trip_and_damage() {
    let id = ident(3);
    let secret = id.to_secret_text();
    assert!(secret.starts_with("dkmsec1"));
    assert!(!secret.contains(|c: char| c.is_whitespace() || c == ',' || c == ':'));
    let back = Identity::from_secret_text(&secret).unwrap();
    assert_eq!(back.public(), id.public());
    for i in 7..secret.len() {
        let mut bad: Vec<u8> = secret.as_bytes().to_vec();
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        let err = Identity::from_secret_text(&bad).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::BadChecksum | ErrorKind::Malformed
        ));
    }
    assert!(Identity::from_secret_text(id.public().to_text().as_str()).is_err());
}

#[test]
fn signatures_are_domain_separated_and_strict() {
    let a = ident(4);
    let b = ident(5);
    let msg = b"canonical bytes";
    let sig = a.sign(SigDomain::Governance, msg);
    a.public().verify(SigDomain::Governance, msg, &sig).unwrap();
    // Every other domain refuses it, and no domain's prefix is a prefix of another's.
    for d in SigDomain::ALL
        .into_iter()
        .filter(|d| *d != SigDomain::Governance)
    {
        assert_eq!(
            a.public().verify(d, msg, &sig).unwrap_err().kind(),
            ErrorKind::Tampered
        );
    }
    for x in SigDomain::ALL {
        for y in SigDomain::ALL {
            assert!(x == y || !y.prefix().starts_with(x.prefix()), "{x:?} {y:?}");
        }
    }
    assert_eq!(
        b.public()
            .verify(SigDomain::Governance, msg, &sig)
            .unwrap_err()
            .kind(),
        ErrorKind::Tampered
    );
    assert!(
        a.public()
            .verify(SigDomain::Governance, b"other", &sig)
            .is_err()
    );
    assert!(
        a.public()
            .verify(SigDomain::Governance, msg, &sig[..63])
            .is_err()
    );
    for i in 0..64 {
        let mut bad = sig;
        bad[i] ^= 1;
        assert!(a.public().verify(SigDomain::Governance, msg, &bad).is_err());
    }
    // The signed bytes are exactly prefix ‖ message, checked with ed25519-dalek directly.
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&a.public().ed25519()).unwrap();
    let mut signed = b"dkm1/governance\0".to_vec();
    signed.extend_from_slice(msg);
    vk.verify_strict(&signed, &ed25519_dalek::Signature::from_bytes(&sig))
        .unwrap();
}

#[test]
fn small_order_ed25519_key_is_refused() {
    // The identity point (small order) encoded: y = 1.
    let mut ed = [0u8; 32];
    ed[0] = 1;
    assert_eq!(
        PublicIdentity::from_keys([9; 32], ed).unwrap_err().kind(),
        ErrorKind::Malformed
    );
}

#[test]
fn debug_never_shows_secrets() {
    // Distinctive secrets: 0xc8 (clamped) and 0xef; neither may show in decimal or hex.
    let mut x = [0xc8u8; 32];
    x[31] = 0x48;
    let e = [0xefu8; 32];
    let id = Identity::from_secrets(
        dkm_core::Secret32::from_array(&mut x.clone()),
        dkm_core::Secret32::from_array(&mut e.clone()),
    )
    .unwrap();
    let dbg = format!("{id:?} {:?}", id.public());
    assert!(dbg.contains("redacted"));
    assert!(dbg.contains(&id.id().to_string()));
    for probe in ["200, 200", "c8c8", "239, 239", "efef"] {
        assert!(!dbg.to_lowercase().contains(probe), "{dbg}");
    }
    assert!(
        format!("{:?}", x).contains("200, 200"),
        "the probe itself must work"
    );
}

#[test]
fn secret_forms_are_canonical() {
    // An unclamped X25519 secret is not a key dkm generated: one identity, one secret form.
    let mut x = [0x11u8; 32];
    assert_eq!(
        Identity::from_secrets(
            dkm_core::Secret32::from_array(&mut x),
            dkm_core::Secret32::from_array(&mut [2; 32])
        )
        .unwrap_err()
        .kind(),
        ErrorKind::Malformed
    );
}

#[test]
fn public_forms_are_canonical() {
    let id = ident(8);
    let ed = id.public().ed25519();
    // X25519 with the top bit set names the same key: refused.
    let mut x = *id.public().x25519();
    x[31] |= 0x80;
    assert_eq!(
        PublicIdentity::from_keys(x, ed).unwrap_err().kind(),
        ErrorKind::Malformed
    );
    // u >= p and low-order points.
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    assert!(PublicIdentity::from_keys(p, ed).is_err());
    assert!(PublicIdentity::from_keys([0; 32], ed).is_err());
    let mut one = [0u8; 32];
    one[0] = 1;
    assert!(PublicIdentity::from_keys(one, ed).is_err());
    // A non-canonical Ed25519 encoding: y = p + k for a small k whose y = k is a valid point
    // decompresses to that point, but is another encoding of it, so another id: refused.
    let mut found = 0usize;
    for k in 0u8..19 {
        let mut y = [0xffu8; 32];
        y[0] = 0xed + k;
        y[31] = 0x7f;
        if let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&y) {
            // Only a point that is not weak shows the canonical-encoding check at work.
            found += usize::from(!vk.is_weak());
            assert_eq!(
                PublicIdentity::from_keys(*id.public().x25519(), y)
                    .unwrap_err()
                    .kind(),
                ErrorKind::Malformed
            );
        }
    }
    assert!(
        found > 0,
        "no non-canonical encoding decompressed: the test proves nothing"
    );
    // The canonical key is accepted.
    assert!(PublicIdentity::from_keys(*id.public().x25519(), ed).is_ok());
}
