//! The text forms of identities (UTF-8 input only).
//!
//! - `PublicIdentity::from_text` → on success `to_text` is the input, and
//!   `from_bytes(to_bytes())` gives the same identity (same bytes, same id).
//! - `Identity::from_secret_text` → on success `to_secret_text` is the input, and its public
//!   identity round-trips through the public text form.
#![no_main]

use dkm_core::{Identity, PublicIdentity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(p) = PublicIdentity::from_text(text) {
        assert_eq!(p.to_text(), text, "to_text(from_text(text)) != text");
        let bytes = p.to_bytes();
        match PublicIdentity::from_bytes(&bytes) {
            Ok(q) => {
                assert_eq!(q, p, "from_bytes(to_bytes()) differs");
                assert_eq!(q.to_bytes(), bytes);
                assert_eq!(q.id(), p.id());
            }
            Err(e) => panic!("to_bytes of a parsed identity does not parse: {e}"),
        }
    }

    if let Ok(id) = Identity::from_secret_text(text) {
        assert_eq!(
            id.to_secret_text().as_str(),
            text,
            "to_secret_text(from_secret_text(text)) != text"
        );
        match PublicIdentity::from_text(&id.public().to_text()) {
            Ok(p) => assert_eq!(&p, id.public(), "public text round trip differs"),
            Err(e) => panic!("public text of a parsed secret identity does not parse: {e}"),
        }
    }
});
