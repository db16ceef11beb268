//! `SealedSecret::parse`, then opening with fixed key material.
//!
//! - parse → as_bytes is the input; the fields re-encode to the input; re-parse gives the
//!   same value; armor → dearmor gives the input back.
//! - `keys_for` fails only with `UnknownKey` (another ring or epoch than the fixed one).
//! - under `FUZZ_CONTEXT` (nothing was ever sealed under it) `unseal` and `unseal_seal_only`
//!   must fail, with `Tampered` for the matching suite and `InvalidInput` for the other: a
//!   success would be a forged commitment.
//! - under `SEED_CONTEXT` (the generated seeds' context) opening may succeed only for a
//!   generated seed, byte for byte, and gives its plaintext: any other success would be a
//!   forged AES-GCM tag (mutations of the ciphertext pass the commitment, which covers only
//!   the header and the context, and reach the decryption).
#![no_main]

use std::sync::OnceLock;

use dkm_core::sealed::{COMMITMENT_LEN, VERSION};
use dkm_core::xaes::TAG_LEN;
use dkm_core::{ErrorKind, SealedSecret, Suite, armor, dearmor};
use dkm_fuzz::{FUZZ_CONTEXT, SEED_CONTEXT, SealedSeed, epoch_keys, sealed_seeds};
use libfuzzer_sys::fuzz_target;

fn seeds() -> &'static [SealedSeed] {
    static SEEDS: OnceLock<Vec<SealedSeed>> = OnceLock::new();
    SEEDS.get_or_init(sealed_seeds)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = SealedSecret::parse(data) else {
        return;
    };

    // decode → encode → decode
    assert_eq!(s.as_bytes(), data, "as_bytes differs from the input");
    let mut re = Vec::with_capacity(data.len());
    re.push(VERSION);
    re.push(s.suite() as u8);
    re.extend_from_slice(&s.key_id().to_bytes());
    match (s.suite(), s.encapsulated_key()) {
        (Suite::Xaes256GcmCommit, None) => {}
        (Suite::HpkeX25519Xaes256GcmCommit, Some(enc)) => re.extend_from_slice(enc),
        (suite, enc) => panic!("suite {suite:?} with encapsulated key {enc:?}"),
    }
    re.extend_from_slice(s.nonce());
    assert_eq!(
        re.as_slice(),
        s.header(),
        "header() is not the re-encoded header"
    );
    re.extend_from_slice(s.commitment());
    re.extend_from_slice(s.ciphertext_and_tag());
    assert_eq!(re.as_slice(), data, "fields do not re-encode to the input");
    assert_eq!(s.plaintext_len() + TAG_LEN, s.ciphertext_and_tag().len());
    assert_eq!(
        s.header().len() + COMMITMENT_LEN + s.ciphertext_and_tag().len(),
        data.len()
    );
    match SealedSecret::parse(&re) {
        Ok(again) => assert_eq!(again, s, "re-parse differs"),
        Err(e) => panic!("re-encoded sealed secret does not parse: {e}"),
    }
    match dearmor(&armor(data)) {
        Ok(back) => assert_eq!(back, data, "armor round trip differs"),
        Err(e) => panic!("armor of a sealed secret does not dearmor: {e}"),
    }

    // Opening with the fixed key material.
    let mut keys = epoch_keys();
    let k = match keys.keys_for(&s.key_id()) {
        Ok(k) => k,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::UnknownKey, "keys_for: {e}");
            return;
        }
    };
    assert_eq!(k.id(), s.key_id());
    let (own, other) = match s.suite() {
        Suite::Xaes256GcmCommit => (ErrorKind::Tampered, ErrorKind::InvalidInput),
        Suite::HpkeX25519Xaes256GcmCommit => (ErrorKind::InvalidInput, ErrorKind::Tampered),
    };
    match k.unseal(&s, FUZZ_CONTEXT) {
        Ok(_) => {
            panic!("unseal succeeded under a context nothing was sealed under: forged commitment")
        }
        Err(e) => assert_eq!(e.kind(), own, "unseal: {e}"),
    }
    match k.unseal_seal_only(&s, FUZZ_CONTEXT) {
        Ok(_) => panic!(
            "unseal_seal_only succeeded under a context nothing was sealed under: forged commitment"
        ),
        Err(e) => assert_eq!(e.kind(), other, "unseal_seal_only: {e}"),
    }

    let seed = seeds().iter().find(|seed| seed.bytes == data);
    for (name, result, expected) in [
        ("unseal", k.unseal(&s, SEED_CONTEXT), own),
        (
            "unseal_seal_only",
            k.unseal_seal_only(&s, SEED_CONTEXT),
            other,
        ),
    ] {
        match (result, seed) {
            (Ok(pt), Some(seed)) => {
                assert_eq!(
                    pt.as_slice(),
                    seed.plaintext,
                    "{name}: seed {} opens to another plaintext",
                    seed.name
                )
            }
            (Ok(_), None) => panic!(
                "{name} opened an input that is not a generated seed: forged tag or commitment"
            ),
            // A seed opens with the function of its own suite only.
            (Err(e), Some(seed)) => assert_eq!(
                e.kind(),
                ErrorKind::InvalidInput,
                "{name}: seed {}: {e}",
                seed.name
            ),
            (Err(e), None) => assert_eq!(e.kind(), expected, "{name}: {e}"),
        }
    }
});
