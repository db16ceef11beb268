//! Writes the committed seed corpora `fuzz/seeds/<target>/` (deterministic: rerunning it gives
//! the same files). Run from `fuzz/`: `cargo +nightly run --example seeds`.
//!
//! - `sealed`: secrets of both suites sealed with the `sealed` target's fixed key material
//!   (`dkm_fuzz::sealed_seeds`), and the valid vectors of `testvectors/v1/sealed.json` and
//!   `seal_only.json` (another ring: they reach `UnknownKey`).
//! - `armor`: the armored forms of the same.
//! - `identity_text`: the public and secret texts of `testvectors/v1/identities.json`.
//! - `binary_forms`: a key id, a seal-only key, public identities (`x25519 ‖ ed25519`, which
//!   are also 64-byte inputs to `Identity::from_secrets`), identity secrets, node positions.

use std::fs;
use std::path::{Path, PathBuf};

use dkm_core::{KeyId, NodePos, armor};
use dkm_fuzz::{EPOCH, RING, epoch_keys, sealed_seeds};

/// The string values of every `"key": "value"` line of a pretty-printed JSON file (the test
/// vector files are generated with one field per line).
fn json_strings(path: &Path, key: &str) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let needle = format!("\"{key}\": \"");
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix(needle.as_str()))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("create seed dir");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let vectors = root.join("../testvectors/v1");
    let seeds = root.join("seeds");
    for target in ["sealed", "armor", "identity_text", "binary_forms"] {
        let dir = seeds.join(target);
        if dir.exists() {
            fs::remove_dir_all(&dir).expect("clear seed dir");
        }
    }

    // sealed, armor
    for s in sealed_seeds() {
        write(&seeds.join("sealed"), s.name, &s.bytes);
        write(&seeds.join("armor"), s.name, armor(&s.bytes).as_bytes());
    }
    for (file, prefix) in [
        ("sealed.json", "tv-suite1"),
        ("seal_only.json", "tv-suite2"),
    ] {
        let path = vectors.join(file);
        // "sealed" lines of "vectors" (valid) and "invalid": keep the valid ones, those that
        // have an "armor" twin.
        let armors = json_strings(&path, "armor");
        let sealed: Vec<Vec<u8>> = json_strings(&path, "sealed")
            .iter()
            .map(|h| hex(h))
            .collect();
        for (i, a) in armors.iter().enumerate() {
            let bytes = dkm_core::dearmor(a).expect("test vector armor");
            assert!(sealed.contains(&bytes), "armor without its binary twin");
            write(&seeds.join("sealed"), &format!("{prefix}-{i}"), &bytes);
            if i < 2 {
                write(&seeds.join("armor"), &format!("{prefix}-{i}"), a.as_bytes());
            }
        }
    }

    // identity_text
    let ids = vectors.join("identities.json");
    for (i, t) in json_strings(&ids, "public_text").iter().enumerate() {
        write(
            &seeds.join("identity_text"),
            &format!("tv-public-{i}"),
            t.as_bytes(),
        );
    }
    for (i, t) in json_strings(&ids, "secret_text").iter().enumerate() {
        write(
            &seeds.join("identity_text"),
            &format!("tv-secret-{i}"),
            t.as_bytes(),
        );
    }

    // binary_forms
    let bin = seeds.join("binary_forms");
    let id = KeyId {
        ring: RING,
        epoch: EPOCH,
        interval: 1,
    };
    write(&bin, "key-id", &id.to_bytes());
    let k = epoch_keys().keys_for(&id).expect("fixed key material");
    write(&bin, "seal-only-key", &k.seal_only_key().to_bytes());
    let x_pub = json_strings(&ids, "x25519_public");
    let e_pub = json_strings(&ids, "ed25519_public");
    let x_sec = json_strings(&ids, "x25519_secret");
    let e_seed = json_strings(&ids, "ed25519_seed");
    for (i, (x, e)) in x_pub.iter().zip(&e_pub).enumerate().take(2) {
        write(
            &bin,
            &format!("tv-public-identity-{i}"),
            &[hex(x), hex(e)].concat(),
        );
    }
    for (i, (x, e)) in x_sec.iter().zip(&e_seed).enumerate().take(2) {
        write(
            &bin,
            &format!("tv-identity-secrets-{i}"),
            &[hex(x), hex(e)].concat(),
        );
    }
    for (name, pos) in [
        ("node-root", NodePos::ROOT),
        ("node-leaf", NodePos::leaf(0x1234)),
        ("node-mid", NodePos::new(7, 100).expect("node position")),
    ] {
        write(&bin, name, &pos.to_bytes());
    }
    println!("seeds written to {}", seeds.display());
}
