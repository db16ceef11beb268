//! `dearmor` and `decode_any`.
//!
//! - `decode_any` never panics; binary input comes back unchanged; armored input decodes
//!   exactly when `dearmor` does, to the same bytes.
//! - text (UTF-8 input only): `dearmor` → on success `armor` gives the text back.
//! - bytes → `armor` → `dearmor` gives the bytes back.
#![no_main]

use dkm_core::labels::ARMOR_PREFIX;
use dkm_core::{armor, dearmor, decode_any};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let any = decode_any(data);
    let armored = data.starts_with(ARMOR_PREFIX.as_bytes());
    if !armored {
        match &any {
            Ok(bytes) => assert_eq!(&**bytes, data, "decode_any changed binary input"),
            Err(e) => panic!("decode_any refused binary input: {e}"),
        }
    }

    match std::str::from_utf8(data) {
        Ok(text) => {
            let dearmored = dearmor(text);
            if let Ok(bytes) = &dearmored {
                assert_eq!(armor(bytes), text, "armor(dearmor(text)) != text");
            }
            if armored {
                match (&any, &dearmored) {
                    (Ok(a), Ok(d)) => assert_eq!(&**a, d.as_slice(), "decode_any != dearmor"),
                    (Err(a), Err(d)) => assert_eq!(a.kind(), d.kind()),
                    (a, d) => panic!("decode_any {a:?} disagrees with dearmor {d:?}"),
                }
            }
        }
        Err(_) => {
            if armored {
                assert!(any.is_err(), "decode_any accepted armor that is not UTF-8");
            }
        }
    }

    // encode → decode
    let text = armor(data);
    match dearmor(&text) {
        Ok(back) => assert_eq!(back, data, "dearmor(armor(bytes)) != bytes"),
        Err(e) => panic!("armor output does not dearmor: {e}"),
    }
});
