//! XAES-256-GCM against the C2SP specification's test vectors
//! (`testvectors/xaes-256-gcm.json`, copied from c2sp.org/XAES-256-GCM).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use dkm_core::xaes::XaesKey;
use serde_json::Value;
use shake::Shake128;
use shake::digest::{ExtendableOutput, Update, XofReader};

fn load() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testvectors/xaes-256-gcm.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn h(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn specification_vectors() {
    let doc = load();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        let key: [u8; 32] = h(&v["key"]).try_into().unwrap();
        let nonce: [u8; 24] = v["nonce_ascii"]
            .as_str()
            .unwrap()
            .as_bytes()
            .try_into()
            .unwrap();
        let pt = v["plaintext_ascii"].as_str().unwrap().as_bytes();
        let aad = v["aad_ascii"].as_str().unwrap().as_bytes();
        let expected = h(&v["ciphertext"]);
        let x = XaesKey::new(&key);
        let ct = x.encrypt(&nonce, aad, pt).unwrap();
        assert_eq!(ct, expected);
        assert_eq!(&x.decrypt(&nonce, aad, &ct).unwrap()[..], pt);
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            x.decrypt(&nonce, aad, &bad).unwrap_err().kind(),
            dkm_core::ErrorKind::Tampered
        );
    }
}

fn accumulated(iterations: usize) -> String {
    let mut source = Shake128::default().finalize_xof();
    let mut sink = Shake128::default();
    for _ in 0..iterations {
        let mut key = [0u8; 32];
        let mut nonce = [0u8; 24];
        source.read(&mut key);
        source.read(&mut nonce);
        let mut n = [0u8; 1];
        source.read(&mut n);
        let mut pt = vec![0u8; usize::from(n[0])];
        source.read(&mut pt);
        source.read(&mut n);
        let mut aad = vec![0u8; usize::from(n[0])];
        source.read(&mut aad);
        let x = XaesKey::new(&key);
        let ct = x.encrypt(&nonce, &aad, &pt).unwrap();
        assert_eq!(&x.decrypt(&nonce, &aad, &ct).unwrap()[..], &pt[..]);
        sink.update(&ct);
    }
    let mut out = [0u8; 32];
    sink.finalize_xof().read(&mut out);
    hex::encode(out)
}

#[test]
fn shake_source_matches_description() {
    let mut source = Shake128::default().finalize_xof();
    let mut first = [0u8; 16];
    source.read(&mut first);
    assert_eq!(hex::encode(first), "7f9c2ba4e88f827d616045507605853e");
}

#[test]
fn accumulated_10000() {
    let doc = load();
    assert_eq!(
        accumulated(10_000),
        doc["accumulated"]["iterations_10000"].as_str().unwrap()
    );
}

#[test]
fn accumulated_1000000() {
    let doc = load();
    assert_eq!(
        accumulated(1_000_000),
        doc["accumulated"]["iterations_1000000"].as_str().unwrap()
    );
}
