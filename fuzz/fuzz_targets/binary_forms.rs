//! The fixed-length binary forms. The whole input goes to each parser (so wrong lengths and
//! trailing bytes are exercised), `NodePos` gets the first 3 bytes.
//!
//! - `KeyId::from_bytes`: succeeds exactly on 22 bytes, and re-encodes to them.
//! - `SealOnlyKey::from_bytes`: only on 54 bytes; on success re-encodes to the input.
//! - `PublicIdentity::from_bytes`: only on 64 bytes; on success re-encodes to the input, and
//!   its text form parses back to it.
//! - `NodePos::from_bytes`: on success re-encodes to the 3 bytes; succeeds exactly when
//!   `NodePos::new(level, index)` does.
//! - on 64 bytes also `Identity::from_secrets` (the secret form's inner parser, which the
//!   text target rarely reaches past the checksum): succeeds exactly when the X25519 secret
//!   is clamped, and its secret text parses back to the same identity.
#![no_main]

use dkm_core::keys::KEY_ID_LEN;
use dkm_core::{Identity, KeyId, NodePos, PublicIdentity, SealOnlyKey, Secret32};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match KeyId::from_bytes(data) {
        Ok(id) => assert_eq!(id.to_bytes().as_slice(), data, "KeyId round trip"),
        Err(e) => assert_ne!(data.len(), KEY_ID_LEN, "KeyId refused 22 bytes: {e}"),
    }

    if let Ok(k) = SealOnlyKey::from_bytes(data) {
        assert_eq!(data.len(), SealOnlyKey::ENCODED_LEN);
        assert_eq!(k.to_bytes(), data, "SealOnlyKey round trip");
        assert_eq!(SealOnlyKey::from_bytes(&k.to_bytes()), Ok(k));
    }

    if let Ok(p) = PublicIdentity::from_bytes(data) {
        assert_eq!(data.len(), PublicIdentity::ENCODED_LEN);
        assert_eq!(p.to_bytes().as_slice(), data, "PublicIdentity round trip");
        match PublicIdentity::from_text(&p.to_text()) {
            Ok(q) => assert_eq!(q, p, "PublicIdentity text round trip"),
            Err(e) => panic!("text of a parsed public identity does not parse: {e}"),
        }
    }

    if let Some(first) = data.first_chunk::<3>() {
        let by_new = NodePos::new(first[0], u16::from_be_bytes([first[1], first[2]]));
        match NodePos::from_bytes(first) {
            Ok(pos) => {
                assert_eq!(&pos.to_bytes(), first, "NodePos round trip");
                assert_eq!(by_new, Ok(pos));
            }
            Err(e) => assert!(
                by_new.is_err(),
                "NodePos::from_bytes refused {first:?}: {e}"
            ),
        }
    }

    if let Some((x, e)) = data.split_at_checked(32).filter(|_| data.len() == 64) {
        let mut x: [u8; 32] = x.try_into().expect("32 bytes");
        let mut e: [u8; 32] = e.try_into().expect("32 bytes");
        let clamped = x[0] & 7 == 0 && x[31] & 0xc0 == 0x40;
        let id = Identity::from_secrets(Secret32::from_array(&mut x), Secret32::from_array(&mut e));
        match id {
            Ok(id) => {
                assert!(clamped, "unclamped X25519 secret accepted");
                match Identity::from_secret_text(&id.to_secret_text()) {
                    Ok(again) => {
                        assert_eq!(again.public(), id.public(), "secret text round trip");
                        assert_eq!(again.to_secret_text(), id.to_secret_text());
                    }
                    Err(e) => panic!("secret text of an identity does not parse: {e}"),
                }
            }
            Err(e) => assert!(!clamped, "clamped X25519 secret refused: {e}"),
        }
    }
});
