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
//! - `ring`: from `testvectors/v1/ring.json`, the ring blob, its governance records and key
//!   state, the pins (first use, after load, and the distinct pins of the invalid cases), the
//!   invalid blobs that differ from the valid one, and valid blobs built from the vector's
//!   records: without a key state (governance v1 alone; v1 and v2), and the newest record
//!   alone with the key state (a trimmed history); and invalid blobs of valid records
//!   (reordered, repeated, a key state bound outside the chain, a trimmed history without a
//!   key state).
//! - `access`: from `testvectors/v1/access.json`, every signed record (request, decisions,
//!   grant, audit records) behind each of the selector bytes 0-3, the request-log frames
//!   behind 4, the audit JSON lines behind 5, and the whole log as one input behind 6.

use std::fs;
use std::path::{Path, PathBuf};

use dkm_core::{KeyId, NodePos, Pin, Ring, armor};
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
    for target in [
        "sealed",
        "armor",
        "identity_text",
        "binary_forms",
        "ring",
        "access",
    ] {
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

    ring_seeds(&vectors.join("ring.json"), &seeds.join("ring"));
    access_seeds(&vectors.join("access.json"), &seeds.join("access"));
    println!("seeds written to {}", seeds.display());
}

/// A ring blob: `"DKMR" ‖ 0x01 ‖ ring id ‖ n ‖ n × (u32 length ‖ record) ‖ flag ‖ [u32
/// length ‖ key state]`.
fn ring_blob(id: &[u8], records: &[&[u8]], key_state: Option<&[u8]>) -> Vec<u8> {
    fn put32(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&u32::try_from(b.len()).expect("length").to_be_bytes());
        out.extend_from_slice(b);
    }
    let mut out = b"DKMR\x01".to_vec();
    out.extend_from_slice(id);
    out.push(u8::try_from(records.len()).expect("record count"));
    for r in records {
        put32(&mut out, r);
    }
    match key_state {
        None => out.push(0),
        Some(ks) => {
            out.push(1);
            put32(&mut out, ks);
        }
    }
    out
}

fn slug(name: &str) -> String {
    name.chars()
        .filter(|&c| c != '\'')
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn ring_seeds(path: &Path, dir: &Path) {
    let one = |key: &str| -> Vec<u8> {
        match json_strings(path, key).as_slice() {
            [v] => hex(v),
            other => panic!(
                "{}: {} \"{key}\" values, expected 1",
                path.display(),
                other.len()
            ),
        }
    };
    let pin_first_use = one("pin_first_use");
    let pin_after_load = one("pin_after_load");
    // "blob": the valid one (top level, first in the file), then those of "invalid".
    let blobs: Vec<Vec<u8>> = json_strings(path, "blob").iter().map(|h| hex(h)).collect();
    let names = json_strings(path, "name");
    let pins: Vec<Vec<u8>> = json_strings(path, "pin").iter().map(|h| hex(h)).collect();
    let (blob, invalid) = blobs.split_first().expect("ring.json has a blob");
    assert_eq!(invalid.len(), names.len(), "invalid cases: blobs and names");
    assert_eq!(invalid.len(), pins.len(), "invalid cases: blobs and pins");

    let first_use = Pin::from_bytes(&pin_first_use).expect("pin_first_use");
    let ring = Ring::load(blob, &first_use).expect("the vector's blob loads");
    assert_eq!(&ring.to_bytes(), blob, "the vector's blob is canonical");
    assert_eq!(ring.pin().to_bytes(), pin_after_load, "pin_after_load");
    write(dir, "tv-blob", blob);
    write(dir, "tv-pin-first-use", &pin_first_use);
    write(dir, "tv-pin-after-load", &pin_after_load);

    let records: Vec<Vec<u8>> = json_strings(path, "record")
        .iter()
        .map(|h| hex(h))
        .collect();
    let history: Vec<&[u8]> = ring.history().map(|g| g.as_bytes()).collect();
    assert_eq!(
        records.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        history,
        "governance[].record are the blob's records"
    );
    for (i, r) in records.iter().enumerate() {
        write(dir, &format!("tv-governance-{}", i + 1), r);
    }
    let key_state = ring.key_state().expect("the vector's ring has a key state");
    write(dir, "tv-key-state", key_state.as_bytes());

    // Valid rings without a key state, from the vector's own records: they reach
    // `KeyHolder::open` for a ring with no keys yet.
    let id = ring.id().0;
    for n in 1..=records.len().min(2) {
        let recs: Vec<&[u8]> = records.iter().take(n).map(Vec::as_slice).collect();
        let b = ring_blob(&id, &recs, None);
        let loaded = Ring::load(&b, &first_use).expect("a ring without key state loads");
        assert_eq!(loaded.to_bytes(), b);
        write(dir, &format!("gen-ring-v1-to-v{n}-no-key-state"), &b);
    }
    // A valid ring whose history was trimmed: the newest record and the key state only (a
    // ring with a key state may start past version 1).
    let newest = records.last().expect("ring.json has governance records");
    let b = ring_blob(&id, &[newest], Some(key_state.as_bytes()));
    let loaded = Ring::load(&b, &first_use).expect("a trimmed ring loads");
    assert_eq!(loaded.to_bytes(), b);
    write(
        dir,
        &format!("gen-ring-v{}-only-with-key-state", records.len()),
        &b,
    );

    // Invalid rings of valid records, for `Ring::load`'s chain, history and binding checks.
    let ks = Some(key_state.as_bytes());
    let (first, rest) = records
        .split_first()
        .expect("ring.json has governance records");
    let mut reordered: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
    reordered.push(first);
    for (name, recs, ks) in [
        ("records-reordered", reordered, ks),
        ("v1-repeated", vec![first.as_slice(), first], ks),
        ("v1-only-with-key-state", vec![first.as_slice()], ks),
        ("newest-only-no-key-state", vec![newest.as_slice()], None),
    ] {
        let b = ring_blob(&id, &recs, ks);
        assert!(Ring::load(&b, &first_use).is_err(), "{name} loads");
        write(dir, &format!("gen-invalid-{name}"), &b);
    }

    let mut seen: Vec<&[u8]> = vec![blob, &pin_first_use, &pin_after_load];
    for ((b, name), pin) in invalid.iter().zip(&names).zip(&pins) {
        if !seen.contains(&b.as_slice()) {
            write(dir, &format!("tv-invalid-{}", slug(name)), b);
            seen.push(b);
        }
        if !seen.contains(&pin.as_slice()) {
            write(dir, &format!("tv-pin-case-{}", slug(name)), pin);
            seen.push(pin);
        }
    }
}

/// The string items of the JSON array `key` of a pretty-printed file (one item per line).
fn json_array(path: &Path, key: &str) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = format!("\"{key}\": [");
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        let t = l.trim();
        if t == start {
            inside = true;
        } else if inside && t.starts_with(']') {
            inside = false;
        } else if inside {
            out.push(t.trim_end_matches(',').trim_matches('"').to_owned());
        }
    }
    out
}

fn access_seeds(path: &Path, dir: &Path) {
    let mut records = json_strings(path, "record");
    records.extend(json_strings(path, "request"));
    for (i, r) in records.iter().enumerate() {
        let bytes = hex(r);
        for sel in 0u8..4 {
            let mut input = vec![sel];
            input.extend_from_slice(&bytes);
            write(dir, &format!("record-{i}-as-{sel}"), &input);
        }
    }
    let frames: Vec<Vec<u8>> = json_array(path, "frames").iter().map(|f| hex(f)).collect();
    let mut log = vec![6u8];
    for (i, f) in frames.iter().enumerate() {
        let mut input = vec![4u8];
        input.extend_from_slice(f);
        write(dir, &format!("frame-{i}"), &input);
        log.extend_from_slice(&u16::try_from(f.len()).expect("short frame").to_be_bytes());
        log.extend_from_slice(f);
    }
    write(dir, "log", &log);
    let text = fs::read_to_string(path).expect("access.json");
    let mut n = 0;
    for l in text.lines() {
        if let Some(j) = l.trim().strip_prefix("\"json\": \"") {
            let j = j
                .trim_end_matches(',')
                .trim_end_matches('"')
                .replace("\\\"", "\"");
            let mut input = vec![5u8];
            input.extend_from_slice(j.as_bytes());
            write(dir, &format!("json-{n}"), &input);
            n += 1;
        }
    }
}
