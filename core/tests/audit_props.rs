//! Tamper evidence of the audit chain and of the request log.
//!
//! Property tests build random honest audit histories (several actors, every action, random
//! details, times and flags) with a random subset of heads kept as anchors (always the final
//! one, as a verifier that saw the head would) and check that `audit_verify` accepts them and
//! returns the head, and refuses, at the record where it shows and with a sensible fault, every
//! deletion, swap, duplication, bit flip, cut before an anchored record, record of another
//! ring, and rewrite by an insider who holds a signing key.
//!
//! Unit tests pin the binary and JSON forms' refusals to exact error kinds, and the
//! `AuditSink` contract (`append` refuses a record that does not follow the head,
//! `append_with` retries when the head moved).
//!
//! The request log gets the same treatment: `RequestLog::load` refuses frames that were
//! deleted, swapped, duplicated, flipped or cut before the anchor.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use dkm_core::access::{GrantId, LogEntry, RequestLog, SignedRequest, Verdict};
use dkm_core::audit::{
    AUDIT_FORMAT, Action, AuditFault, AuditLog, AuditProblem, AuditRecord, AuditSink, Detail,
    FLAG_CLOCK_OVERRIDE, MAX_AUDIT_RECORD_LEN, append_with, audit_verify, audit_verify_tail,
    event_record, records_for,
};
use dkm_core::rand_core::{Rng, SeedableRng};
use dkm_core::ring::{Anchor, Role, RollReason};
use dkm_core::{Error, ErrorKind, Event, Identity, IdentityId, KeyId, RingId};
use proptest::prelude::*;
use proptest::sample::Index;

const START: u64 = 1_767_225_600;

// Byte offsets in an audit record (docs/SPEC.md §13): format (1) ‖ ring (16) ‖ seq (8) ‖
// prev (32) ‖ time (8) ‖ flags (1) ‖ action (1) ‖ presence (u16) ‖ fields ‖ signer ‖ sig.
const OFF_RING: usize = 1;
const OFF_SEQ: usize = 17;
const OFF_PREV: usize = 25;
const OFF_TIME: usize = 57;
const OFF_FLAGS: usize = 65;
const OFF_ACTION: usize = 66;
const OFF_PRESENCE: usize = 67;

// ---- helpers ---------------------------------------------------------------------------

fn arr<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill_bytes(&mut b);
    b
}

/// A detail with the fields whose presence bit is set in `presence`, drawn from `rng`.
fn random_detail(rng: &mut ChaCha20Rng, presence: u16) -> Detail {
    let has = |i: u16| presence & (1 << i) != 0;
    Detail {
        version: has(0).then(|| rng.next_u64()),
        subject: has(1).then(|| IdentityId(arr(rng))),
        key: has(2).then(|| KeyId {
            ring: RingId(arr(rng)),
            epoch: rng.next_u32(),
            interval: rng.next_u32() as u16,
        }),
        epoch: has(3).then(|| rng.next_u32()),
        grant: has(4).then(|| GrantId(arr(rng))),
        request: has(5).then(|| arr(rng)),
        object: has(6).then(|| arr(rng)),
        value: has(7).then(|| rng.next_u64()),
        reason: has(8).then(|| rng.next_u32() as u8),
        range: has(9).then(|| (rng.next_u32() as u16, rng.next_u32() as u16)),
    }
}

/// Every field present.
fn full_detail(rng: &mut ChaCha20Rng) -> Detail {
    random_detail(rng, 0x3ff)
}

fn views(records: &[Vec<u8>]) -> Vec<&[u8]> {
    records.iter().map(Vec::as_slice).collect()
}

fn verify(ring: RingId, records: &[Vec<u8>], anchors: &[Anchor]) -> Result<Anchor, AuditProblem> {
    audit_verify(ring, views(records), anchors)
}

fn kind<T: std::fmt::Debug>(r: dkm_core::Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

/// One record of a generated history.
#[derive(Clone, Debug)]
struct Step {
    actor: usize,
    action: usize,
    presence: u16,
    time: u64,
    clock_override: bool,
    detail_seed: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..4usize,
        0..Action::ALL.len(),
        0u16..1024,
        0u64..400_000_000,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(actor, action, presence, time, clock_override, detail_seed)| Step {
                actor,
                action,
                presence,
                time: START + time,
                clock_override,
                detail_seed,
            },
        )
}

/// An honest history: the records, their heads, the anchors a verifier kept (sorted by seq,
/// always with the final head) and the actors.
struct History {
    ring: RingId,
    records: Vec<AuditRecord>,
    bytes: Vec<Vec<u8>>,
    anchors: Vec<Anchor>,
    actors: Vec<Identity>,
}

fn history(seed: [u8; 32], steps: &[Step], anchor_mask: &[bool]) -> History {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let ring = RingId(arr(&mut rng));
    let actors: Vec<Identity> = (0..4).map(|_| Identity::generate(&mut rng)).collect();
    let mut head = Anchor::EMPTY;
    let mut records = Vec::new();
    let mut anchors = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let mut drng = ChaCha20Rng::seed_from_u64(s.detail_seed);
        let detail = random_detail(&mut drng, s.presence);
        let flags = if s.clock_override {
            FLAG_CLOCK_OVERRIDE
        } else {
            0
        };
        let rec = AuditRecord::sign(
            ring,
            head,
            s.time,
            flags,
            Action::ALL[s.action],
            detail,
            &actors[s.actor],
        )
        .unwrap();
        assert_eq!(rec.seq, head.seq + 1);
        assert_eq!(rec.prev, head.hash);
        head = rec.head();
        if i + 1 == steps.len() || anchor_mask.get(i).copied().unwrap_or(false) {
            anchors.push(head);
        }
        records.push(rec);
    }
    let bytes = records.iter().map(|r| r.as_bytes().to_vec()).collect();
    History {
        ring,
        records,
        bytes,
        anchors,
        actors,
    }
}

fn problem(index: usize, fault: AuditFault) -> Result<Anchor, AuditProblem> {
    Err(AuditProblem { index, fault })
}

// ---- property tests: the audit chain -------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    #[test]
    fn audit_chain_is_tamper_evident(
        seed in any::<[u8; 32]>(),
        steps in prop::collection::vec(step(), 1..=30),
        anchor_mask in prop::collection::vec(any::<bool>(), 30),
        pairs in prop::collection::vec((any::<Index>(), any::<Index>()), 4),
        flips in prop::collection::vec((any::<Index>(), 0u8..8), 2),
        forged_time in 1u64..1000,
    ) {
        let h = history(seed, &steps, &anchor_mask);
        let n = h.bytes.len();
        let last = h.records[n - 1].head();
        prop_assert_eq!(last.seq, n as u64);
        prop_assert_eq!(*h.anchors.last().unwrap(), last);

        // The honest chain verifies, with and without anchors, and gives its head.
        prop_assert_eq!(verify(h.ring, &h.bytes, &h.anchors), Ok(last));
        prop_assert_eq!(verify(h.ring, &h.bytes, &[]), Ok(last));
        prop_assert_eq!(verify(h.ring, &[], &[Anchor::EMPTY]), Ok(Anchor::EMPTY));
        // A sample of prefixes verify against the anchors they hold, and give their heads.
        let mut sample: Vec<usize> = pairs.iter().map(|(a, _)| a.index(n)).collect();
        sample.extend([0, n / 2, n - 1]);
        sample.sort_unstable();
        sample.dedup();
        for &k in &sample {
            let held: Vec<Anchor> = h.anchors.iter().copied().filter(|a| a.seq <= k as u64).collect();
            let head = if k == 0 { Anchor::EMPTY } else { h.records[k - 1].head() };
            prop_assert_eq!(verify(h.ring, &h.bytes[..k], &held), Ok(head));
        }
        // Each record round-trips through both forms.
        for (i, r) in h.records.iter().enumerate() {
            prop_assert_eq!(&AuditRecord::parse(&h.bytes[i]).unwrap(), r);
            prop_assert_eq!(&AuditRecord::from_json(&r.to_json()).unwrap(), r);
            prop_assert_eq!(r.actor(), h.actors[steps[i].actor].public());
        }

        // Deleting any one record: a gap where it was, or (the last) the anchored head is
        // missing.
        for i in 0..n {
            let mut c = h.bytes.clone();
            c.remove(i);
            let want = if i + 1 < n {
                problem(i, AuditFault::Gap)
            } else {
                problem(n - 1, AuditFault::MissingAnchored)
            };
            prop_assert_eq!(verify(h.ring, &c, &h.anchors), want, "delete {}", i);
        }

        // Swapping any two records: out of order at the first.
        let mut swaps: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
        swaps.extend(pairs.iter().map(|(a, b)| (a.index(n), b.index(n))));
        for (a, b) in swaps {
            if a == b {
                continue;
            }
            let mut c = h.bytes.clone();
            c.swap(a, b);
            prop_assert_eq!(
                verify(h.ring, &c, &h.anchors),
                problem(a.min(b), AuditFault::Reorder),
                "swap {} {}", a, b
            );
        }

        // Duplicating a record (a replay): out of order at the copy.
        for (i, _) in &pairs {
            let i = i.index(n);
            let mut c = h.bytes.clone();
            c.insert(i + 1, h.bytes[i].clone());
            prop_assert_eq!(
                verify(h.ring, &c, &h.anchors),
                problem(i + 1, AuditFault::Reorder),
                "duplicate {}", i
            );
        }

        // Flipping any bit of any record: that record is refused (bad signature, or it no
        // longer parses).
        for i in 0..n {
            for (pos, bit) in &flips {
                let pos = pos.index(h.bytes[i].len());
                let mut c = h.bytes.clone();
                c[i][pos] ^= 1 << bit;
                let r = verify(h.ring, &c, &h.anchors);
                prop_assert!(
                    matches!(
                        r,
                        Err(AuditProblem { index, fault: AuditFault::BadSignature | AuditFault::Malformed })
                            if index == i
                    ),
                    "flip record {} byte {} bit {}: {:?}", i, pos, bit, r
                );
            }
        }

        // Cutting the chain before an anchored record (the final head is anchored, so any
        // cut): the anchored record is missing.
        for k in 0..n {
            prop_assert_eq!(
                verify(h.ring, &h.bytes[..k], &h.anchors),
                problem(k, AuditFault::MissingAnchored),
                "cut at {}", k
            );
        }
        // And with only the anchors before the final head, a cut before one of them.
        let earlier = &h.anchors[..h.anchors.len() - 1];
        for a in earlier {
            let k = a.seq as usize - 1;
            prop_assert_eq!(
                verify(h.ring, &h.bytes[..k], earlier),
                problem(k, AuditFault::MissingAnchored)
            );
        }

        // An insider with a signing key replaces one record by a validly signed other one:
        // the next record's link breaks, or (the last) it differs from the anchored head.
        for &i in &sample {
            let r = &h.records[i];
            let prev = Anchor { seq: r.seq - 1, hash: r.prev };
            let forged = AuditRecord::sign(
                h.ring, prev, r.time.wrapping_add(forged_time), r.flags, r.action, r.detail,
                &h.actors[steps[i].actor],
            ).unwrap();
            let mut c = h.bytes.clone();
            c[i] = forged.as_bytes().to_vec();
            let want = if i + 1 < n {
                problem(i + 1, AuditFault::BrokenLink)
            } else {
                problem(n - 1, AuditFault::AnchorMismatch)
            };
            prop_assert_eq!(verify(h.ring, &c, &h.anchors), want, "forge {}", i);
        }

        // The insider rewrites the whole suffix from record i consistently: only the anchors
        // tell, at the first anchored record rewritten.
        let i = pairs[0].0.index(n);
        let mut head = if i == 0 { Anchor::EMPTY } else { h.records[i - 1].head() };
        let mut c = h.bytes[..i].to_vec();
        for (j, r) in h.records.iter().enumerate().skip(i) {
            let f = AuditRecord::sign(
                h.ring, head, r.time.wrapping_add(forged_time), r.flags, r.action, r.detail,
                &h.actors[steps[j].actor],
            ).unwrap();
            head = f.head();
            c.push(f.as_bytes().to_vec());
        }
        prop_assert_eq!(verify(h.ring, &c, &[]), Ok(head));
        let first = h.anchors.iter().find(|a| a.seq > i as u64).unwrap();
        prop_assert_eq!(
            verify(h.ring, &c, &h.anchors),
            problem(first.seq as usize - 1, AuditFault::AnchorMismatch)
        );

        // A record of another ring spliced in at the right place: another ring's.
        let other = RingId(h.ring.0.map(|b| b ^ 0x5a));
        let r = &h.records[i];
        let prev = Anchor { seq: r.seq - 1, hash: r.prev };
        let foreign = AuditRecord::sign(
            other, prev, r.time, r.flags, r.action, r.detail, &h.actors[steps[i].actor],
        ).unwrap();
        let mut c = h.bytes.clone();
        c[i] = foreign.as_bytes().to_vec();
        prop_assert_eq!(verify(h.ring, &c, &h.anchors), problem(i, AuditFault::OtherRing));
        // The honest chain read as another ring's.
        prop_assert_eq!(verify(other, &h.bytes, &[]), problem(0, AuditFault::OtherRing));
    }
}

/// A short chain: every bit of every byte flipped, one at a time.
#[test]
fn every_bit_flip_of_a_short_chain_is_caught() {
    let steps: Vec<Step> = (0..3)
        .map(|i| Step {
            actor: i % 2,
            action: (i * 7) % Action::ALL.len(),
            presence: [0x3ff, 0, 0x155][i],
            time: START + i as u64,
            clock_override: i == 1,
            detail_seed: i as u64,
        })
        .collect();
    let h = history([3; 32], &steps, &[]);
    for i in 0..h.bytes.len() {
        for pos in 0..h.bytes[i].len() {
            for bit in 0..8 {
                let mut c = h.bytes.clone();
                c[i][pos] ^= 1 << bit;
                let r = verify(h.ring, &c, &h.anchors);
                assert!(
                    matches!(
                        r,
                        Err(AuditProblem {
                            index,
                            fault: AuditFault::BadSignature | AuditFault::Malformed
                        }) if index == i
                    ),
                    "record {i} byte {pos} bit {bit}: {r:?}"
                );
            }
        }
    }
}

// ---- unit tests: the JSON form ---------------------------------------------------------

fn sample_record(rng: &mut ChaCha20Rng, action: Action, detail: Detail, flags: u8) -> AuditRecord {
    let ring = RingId(arr(rng));
    let actor = Identity::generate(rng);
    let head = Anchor {
        seq: 41,
        hash: arr(rng),
    };
    AuditRecord::sign(ring, head, START + 17, flags, action, detail, &actor).unwrap()
}

#[test]
fn json_round_trips_for_every_action() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    for (i, &action) in Action::ALL.iter().enumerate() {
        assert_eq!(Action::from_code(action as u8).unwrap(), action);
        for (detail, flags) in [
            (Detail::default(), 0),
            (full_detail(&mut rng), FLAG_CLOCK_OVERRIDE),
            (random_detail(&mut rng, i as u16 * 53 % 1024), 0),
        ] {
            let rec = sample_record(&mut rng, action, detail, flags);
            let json = rec.to_json();
            assert!(!json.contains('\n'));
            let back = AuditRecord::from_json(&json).unwrap();
            assert_eq!(back, rec);
            assert_eq!(back.as_bytes(), rec.as_bytes());
            // A trailing line end is fine; a CR, a second line end or a space is not (a line
            // must be its signed form exactly).
            assert_eq!(AuditRecord::from_json(&format!("{json}\n")).unwrap(), rec);
            for bad in ["\r\n", "\r", "\n\n", " ", " \n"] {
                assert!(
                    AuditRecord::from_json(&format!("{json}{bad}")).is_err(),
                    "{bad:?} accepted"
                );
            }
            // It is JSON, and its readable fields say what the record says.
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["seq"], 42);
            assert_eq!(v["time"], START + 17);
            assert_eq!(v["action"], action.name());
            assert_eq!(v["clock_override"], flags == FLAG_CLOCK_OVERRIDE);
            assert_eq!(v["ring"], rec.ring.to_string());
            assert_eq!(v["actor"], rec.actor().id().to_string());
            assert_eq!(v["prev"], hex::encode(rec.prev));
            assert_eq!(v["hash"], hex::encode(rec.hash()));
            assert_eq!(v["version"].as_u64(), detail.version);
            assert_eq!(v["value"].as_u64(), detail.value);
            assert_eq!(v["epoch"].as_u64(), detail.epoch.map(u64::from));
            assert_eq!(v["reason"].as_u64(), detail.reason.map(u64::from));
            assert_eq!(
                v["object"].as_str().map(String::from),
                detail.object.map(hex::encode)
            );
            assert_eq!(
                v["request"].as_str().map(String::from),
                detail.request.map(hex::encode)
            );
            if let Some(k) = detail.key {
                assert_eq!(v["key"]["epoch"], k.epoch);
                assert_eq!(v["key"]["interval"], k.interval);
            }
            if let Some((a, b)) = detail.range {
                assert_eq!(v["range"], serde_json::json!([a, b]));
            }
        }
    }
}

#[test]
fn json_refuses_edited_fields_as_tampered() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let d = full_detail(&mut rng);
    let rec = sample_record(&mut rng, Action::GrantUnseal, d, 0);
    let json = rec.to_json();
    let time = format!("\"time\":{}", START + 17);
    assert!(json.contains(&time));
    let edits = [
        json.replace(&time, &format!("\"time\":{}", START + 18)),
        json.replace("\"seq\":42", "\"seq\":43"),
        json.replace("\"clock_override\":false", "\"clock_override\":true"),
        json.replace(
            "\"action\":\"grant-unseal\"",
            "\"action\":\"grant-expired\"",
        ),
        json.replace(
            &format!("\"value\":{}", d.value.unwrap()),
            &format!("\"value\":{}", d.value.unwrap() ^ 1),
        ),
        json.replace(
            &format!("\"epoch\":{},\"grant\"", d.epoch.unwrap()),
            &format!("\"epoch\":{},\"grant\"", d.epoch.unwrap() ^ 1),
        ),
        json.replace(
            &rec.actor().id().to_string(),
            &IdentityId([7; 16]).to_string(),
        ),
        json.replace(&hex::encode(rec.hash()), &hex::encode([0u8; 32])),
        json.replace(&hex::encode(rec.prev), &hex::encode([0u8; 32])),
        // a field dropped, reordered, or added; whitespace
        json.replace(&format!(",{time}"), ""),
        json.replace("{\"seq\":42,", "{\"seq\":42, "),
        json.replace("{\"seq\":42,", "{\"extra\":1,\"seq\":42,"),
        format!(" {json}"),
    ];
    for (i, e) in edits.iter().enumerate() {
        assert_ne!(e, &json, "edit {i} did not apply");
        assert_eq!(
            kind(AuditRecord::from_json(e)),
            ErrorKind::Tampered,
            "edit {i}: {e}"
        );
    }
}

#[test]
fn json_refuses_garbage_and_truncation_as_malformed() {
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let d = full_detail(&mut rng);
    let rec = sample_record(&mut rng, Action::EpochCreated, d, FLAG_CLOCK_OVERRIDE);
    let json = rec.to_json();
    for g in [
        "",
        "{}",
        "null",
        "not json at all",
        "{\"record\":\"\"}",
        "{\"record\":\"!!!!\"}",
        "{\"record\":\"AQ\"}",
    ] {
        assert_eq!(
            kind(AuditRecord::from_json(g)),
            ErrorKind::Malformed,
            "{g:?}"
        );
    }
    // every strict prefix
    for n in 0..json.len() {
        assert_eq!(
            kind(AuditRecord::from_json(&json[..n])),
            ErrorKind::Malformed,
            "prefix {n}"
        );
    }
    // the record field cut short, still closed
    let body = json.strip_suffix("\"}").unwrap();
    for cut in 1..=8 {
        let t = format!("{}\"}}", &body[..body.len() - cut]);
        assert_eq!(
            kind(AuditRecord::from_json(&t)),
            ErrorKind::Malformed,
            "cut {cut}"
        );
    }
    // a character base64url does not have in the record field
    let t = format!("{}+\"}}", &body[..body.len() - 1]);
    assert_eq!(kind(AuditRecord::from_json(&t)), ErrorKind::Malformed);
    // too long
    let t = format!("{}{json}", " ".repeat(4 * MAX_AUDIT_RECORD_LEN));
    assert_eq!(kind(AuditRecord::from_json(&t)), ErrorKind::TooLarge);
}

// ---- unit tests: the binary form -------------------------------------------------------

fn binary_sample() -> AuditRecord {
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let d = random_detail(&mut rng, 0b10_1010_0110);
    sample_record(&mut rng, Action::GrantIssued, d, FLAG_CLOCK_OVERRIDE)
}

#[test]
fn binary_layout_is_as_documented() {
    let rec = binary_sample();
    let b = rec.as_bytes();
    assert_eq!(b[0], AUDIT_FORMAT);
    assert_eq!(&b[OFF_RING..OFF_SEQ], &rec.ring.0);
    assert_eq!(&b[OFF_SEQ..OFF_PREV], &42u64.to_be_bytes());
    assert_eq!(&b[OFF_PREV..OFF_TIME], &rec.prev);
    assert_eq!(&b[OFF_TIME..OFF_FLAGS], &(START + 17).to_be_bytes());
    assert_eq!(b[OFF_FLAGS], FLAG_CLOCK_OVERRIDE);
    assert_eq!(b[OFF_ACTION], Action::GrantIssued as u8);
    assert_eq!(
        &b[OFF_PRESENCE..OFF_PRESENCE + 2],
        &0b10_1010_0110u16.to_be_bytes()
    );
    assert_eq!(AuditRecord::parse(b).unwrap(), rec);
}

#[test]
fn binary_parse_refusals_have_exact_kinds() {
    let rec = binary_sample();
    let good = rec.as_bytes().to_vec();
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        AuditRecord::parse(&b).map(|_| ())
    };
    // trailing bytes
    for extra in [&[0u8][..], &[0, 0, 0], &[0xff; 64]] {
        assert_eq!(
            kind(edit(&|b| b.extend_from_slice(extra))),
            ErrorKind::Malformed
        );
    }
    // unknown format version
    for v in [0u8, 2, 0xff] {
        assert_eq!(kind(edit(&|b| b[0] = v)), ErrorKind::Unsupported, "{v}");
    }
    // unknown flag bits
    for bit in 1..8 {
        assert_eq!(
            kind(edit(&|b| b[OFF_FLAGS] |= 1 << bit)),
            ErrorKind::Unsupported,
            "flag bit {bit}"
        );
    }
    // unknown action
    for a in [0u8, Action::ALL.len() as u8 + 1, 0xff] {
        assert_eq!(
            kind(edit(&|b| b[OFF_ACTION] = a)),
            ErrorKind::Unsupported,
            "action {a}"
        );
    }
    // unknown presence bits (10..16)
    for bit in 10..16 {
        let p = 0b10_1010_0110u16 | (1 << bit);
        assert_eq!(
            kind(edit(
                &|b| b[OFF_PRESENCE..OFF_PRESENCE + 2].copy_from_slice(&p.to_be_bytes())
            )),
            ErrorKind::Unsupported,
            "presence bit {bit}"
        );
    }
    // sequence number 0
    assert_eq!(
        kind(edit(&|b| b[OFF_SEQ..OFF_PREV].fill(0))),
        ErrorKind::Malformed
    );
    // every truncation
    for n in 0..good.len() {
        assert_eq!(
            kind(AuditRecord::parse(&good[..n])),
            ErrorKind::Malformed,
            "truncated to {n}"
        );
    }
    // an edit of a signed field: the signature does not verify
    for off in [
        OFF_RING,
        OFF_SEQ + 7,
        OFF_PREV,
        OFF_TIME + 7,
        good.len() - 1,
    ] {
        assert_eq!(
            kind(edit(&|b| b[off] ^= 1)),
            ErrorKind::Tampered,
            "offset {off}"
        );
    }
    // the flag cleared (a known value): still signed over
    assert_eq!(kind(edit(&|b| b[OFF_FLAGS] = 0)), ErrorKind::Tampered);
    // too large
    assert_eq!(
        kind(edit(&|b| b.resize(MAX_AUDIT_RECORD_LEN + 1, 0))),
        ErrorKind::TooLarge
    );
    // signing refuses unknown flags too
    let mut rng = ChaCha20Rng::from_seed([6; 32]);
    let actor = Identity::generate(&mut rng);
    assert_eq!(
        kind(AuditRecord::sign(
            rec.ring,
            Anchor::EMPTY,
            START,
            2,
            Action::KekRolled,
            Detail::default(),
            &actor
        )),
        ErrorKind::InvalidInput
    );
    // a full chain refuses to grow
    let full = Anchor {
        seq: u64::MAX,
        hash: [1; 32],
    };
    assert_eq!(
        kind(AuditRecord::sign(
            rec.ring,
            full,
            START,
            0,
            Action::KekRolled,
            Detail::default(),
            &actor
        )),
        ErrorKind::OutOfRange
    );
}

#[test]
fn verify_reports_parse_refusals_as_malformed_or_bad_signature() {
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let ring = RingId(arr(&mut rng));
    let actor = Identity::generate(&mut rng);
    let r1 = AuditRecord::sign(
        ring,
        Anchor::EMPTY,
        START,
        0,
        Action::KekRolled,
        Detail::default(),
        &actor,
    )
    .unwrap();
    let good = r1.as_bytes().to_vec();
    let mut trailing = good.clone();
    trailing.push(0);
    let mut version = good.clone();
    version[0] = 2;
    let mut edited = good.clone();
    edited[OFF_TIME] ^= 1;
    for (b, fault) in [
        (trailing, AuditFault::Malformed),
        (version, AuditFault::Malformed),
        (good[..good.len() - 1].to_vec(), AuditFault::Malformed),
        (edited, AuditFault::BadSignature),
    ] {
        assert_eq!(verify(ring, &[b], &[]), problem(0, fault));
    }
}

#[test]
fn records_of_another_ring_are_reported() {
    let mut rng = ChaCha20Rng::from_seed([10; 32]);
    let ring = RingId(arr(&mut rng));
    let other = RingId(arr(&mut rng));
    let actor = Identity::generate(&mut rng);
    let mut log = AuditLog::new();
    for t in 0..3 {
        let r = AuditRecord::sign(
            ring,
            log.head_anchor(),
            START + t,
            0,
            Action::FreshnessRenewed,
            Detail::default(),
            &actor,
        )
        .unwrap();
        log.append(&r).unwrap();
    }
    let bytes: Vec<Vec<u8>> = log
        .records()
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect();
    assert_eq!(verify(ring, &bytes, &[]), Ok(log.head_anchor()));
    assert_eq!(
        verify(other, &bytes, &[]),
        problem(0, AuditFault::OtherRing)
    );
    // another ring's record at the right place, with the right link
    let foreign = AuditRecord::sign(
        other,
        log.records()[1].head(),
        START,
        0,
        Action::FreshnessRenewed,
        Detail::default(),
        &actor,
    )
    .unwrap();
    let mut c = bytes.clone();
    c[2] = foreign.as_bytes().to_vec();
    assert_eq!(verify(ring, &c, &[]), problem(2, AuditFault::OtherRing));
    // the problem converts into a Tampered error
    let e: Error = verify(ring, &c, &[]).unwrap_err().into();
    assert_eq!(e.kind(), ErrorKind::Tampered);
}

#[test]
fn anchors_that_do_not_match_are_reported() {
    let mut rng = ChaCha20Rng::from_seed([11; 32]);
    let ring = RingId(arr(&mut rng));
    let actor = Identity::generate(&mut rng);
    let mut log = AuditLog::new();
    for t in 0..4 {
        let r = AuditRecord::sign(
            ring,
            log.head_anchor(),
            START + t,
            0,
            Action::KekRolled,
            Detail::default(),
            &actor,
        )
        .unwrap();
        log.append(&r).unwrap();
    }
    let bytes: Vec<Vec<u8>> = log
        .records()
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect();
    let heads: Vec<Anchor> = log.records().iter().map(AuditRecord::head).collect();
    // any of the heads, in any order, verifies
    let mut rev = heads.clone();
    rev.reverse();
    assert_eq!(verify(ring, &bytes, &rev), Ok(heads[3]));
    // a head with another hash at a position
    let wrong = Anchor {
        seq: 2,
        hash: heads[2].hash,
    };
    assert_eq!(
        verify(ring, &bytes, &[wrong]),
        problem(1, AuditFault::AnchorMismatch)
    );
    // a head past the end
    let past = Anchor {
        seq: 5,
        hash: [0; 32],
    };
    assert_eq!(
        verify(ring, &bytes, &[past]),
        problem(4, AuditFault::MissingAnchored)
    );
    // the empty anchor holds for every chain
    assert_eq!(verify(ring, &bytes, &[Anchor::EMPTY]), Ok(heads[3]));
}

#[test]
fn records_for_chains_events_from_the_head() {
    let mut rng = ChaCha20Rng::from_seed([15; 32]);
    let ring = RingId(arr(&mut rng));
    let actor = Identity::generate(&mut rng);
    let other = Identity::generate(&mut rng);
    let id = IdentityId(arr(&mut rng));
    let grant = GrantId(arr(&mut rng));
    let events = [
        Event::GovernanceSigned { version: 3, by: id },
        Event::GovernanceApplied { version: 3 },
        Event::KeyHolderAdded { id },
        Event::KeyHolderRemoved { id },
        Event::KekRolled { generation: 2 },
        Event::EpochCreated {
            epoch: 4,
            reason: RollReason::MemberRemoved,
        },
        Event::EpochRevoked { epoch: 1 },
        Event::EpochShredded {
            epoch: 2,
            first_kept: None,
        },
        Event::EpochShredded {
            epoch: 2,
            first_kept: Some(9),
        },
        Event::WriteTimeReset { to: START },
        Event::FreshnessRenewed { until: START + 5 },
        Event::SealOnlyPublished {
            epoch: 4,
            first: 0,
            last: 63,
        },
        Event::GrantIssued {
            grant,
            request: [3; 32],
            requester: id,
            not_after: START + 9,
        },
        Event::GrantExpired { grant },
        Event::GrantRevoked { grant },
        Event::GrantReissued { grant, epoch: 5 },
    ];
    // after a record by someone else
    let mut log = AuditLog::new();
    let r0 = AuditRecord::sign(
        ring,
        Anchor::EMPTY,
        START,
        0,
        Action::RequestLogged,
        Detail::default(),
        &other,
    )
    .unwrap();
    log.append(&r0).unwrap();
    let recs = records_for(
        ring,
        &events,
        &actor,
        START + 1,
        FLAG_CLOCK_OVERRIDE,
        log.head_anchor(),
    )
    .unwrap();
    assert_eq!(recs.len(), events.len());
    for (r, e) in recs.iter().zip(&events) {
        let (action, detail) = event_record(e);
        assert_eq!((r.action, r.detail), (action, detail));
        assert_eq!((r.time, r.flags), (START + 1, FLAG_CLOCK_OVERRIDE));
        assert_eq!(r.actor(), actor.public());
        assert_eq!(AuditRecord::from_json(&r.to_json()).unwrap(), *r);
        log.append(r).unwrap();
    }
    // every action but the request-log ones and the unseal is some event's
    let covered: Vec<Action> = recs.iter().map(|r| r.action).collect();
    for a in Action::ALL {
        let by_log = matches!(
            a,
            Action::RequestLogged | Action::Approved | Action::Denied | Action::GrantUnseal
        );
        assert_eq!(covered.contains(a), !by_log, "{a:?}");
    }
    let bytes: Vec<Vec<u8>> = log
        .records()
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect();
    assert_eq!(
        verify(ring, &bytes, &[r0.head(), log.head_anchor()]),
        Ok(log.head_anchor())
    );
    assert!(
        records_for(ring, &[], &actor, START, 0, r0.head())
            .unwrap()
            .is_empty()
    );
}

// ---- the tail check writers run: from an anchor on -----------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// From every anchor of an honest chain the tail verifies to the head `audit_verify`
    /// finds; a cut, a gap, a swap, a tail that starts elsewhere and another ring's records
    /// are each reported, with the index counted from the tail's first record.
    #[test]
    fn the_tail_from_any_anchor_verifies_and_catches_cuts(
        seed in any::<[u8; 32]>(),
        other_seed in any::<[u8; 32]>(),
        steps in prop::collection::vec(step(), 3..=12),
        at in any::<Index>(),
    ) {
        let h = history(seed, &steps, &[]);
        let n = h.records.len();
        let head = verify(h.ring, &h.bytes, &[]).unwrap();
        // k = 0: no anchor, the whole chain; else the anchor is record k (seq k).
        for k in 0..=n {
            let (anchor, tail) = match k {
                0 => (Anchor::EMPTY, &h.records[..]),
                k => (h.records[k - 1].head(), &h.records[k - 1..]),
            };
            prop_assert_eq!(audit_verify_tail(h.ring, anchor, tail), Ok(head));
        }
        let k = 1 + at.index(n);
        let anchor = h.records[k - 1].head();
        let tail = &h.records[k - 1..];
        // Cut: the anchored record and everything after it gone.
        prop_assert_eq!(
            audit_verify_tail(h.ring, anchor, &[]),
            problem(0, AuditFault::MissingAnchored)
        );
        // The tail starts one record early or late: not the anchored record.
        if k >= 2 {
            prop_assert_eq!(
                audit_verify_tail(h.ring, anchor, &h.records[k - 2..]),
                problem(0, AuditFault::AnchorMismatch)
            );
        }
        if k < n {
            prop_assert_eq!(
                audit_verify_tail(h.ring, anchor, &h.records[k..]),
                problem(0, AuditFault::AnchorMismatch)
            );
        }
        // A record after the anchor deleted, or two swapped.
        if tail.len() >= 3 {
            let mut gap = tail.to_vec();
            gap.remove(1);
            prop_assert_eq!(
                audit_verify_tail(h.ring, anchor, &gap),
                problem(1, AuditFault::Gap)
            );
            let mut swapped = tail.to_vec();
            swapped.swap(1, 2);
            prop_assert_eq!(
                audit_verify_tail(h.ring, anchor, &swapped),
                problem(1, AuditFault::Reorder)
            );
        }
        // Another ring's chain in its place.
        let other = history(other_seed, &steps, &[]);
        let fault = audit_verify_tail(h.ring, anchor, &other.records[k - 1..]).unwrap_err();
        prop_assert_eq!(fault, AuditProblem { index: 0, fault: AuditFault::OtherRing });
        prop_assert_eq!(
            audit_verify_tail(h.ring, Anchor::EMPTY, &other.records),
            problem(0, AuditFault::OtherRing)
        );
        // An anchor of seq 0 must have the zero hash.
        prop_assert_eq!(
            audit_verify_tail(h.ring, Anchor { seq: 0, hash: [1; 32] }, &h.records),
            problem(0, AuditFault::AnchorMismatch)
        );
    }
}

// ---- unit tests: the audit sink --------------------------------------------------------

struct Chain {
    ring: RingId,
    actor: Identity,
    rival: Identity,
}

impl Chain {
    fn new(seed: u8) -> Chain {
        let mut rng = ChaCha20Rng::from_seed([seed; 32]);
        Chain {
            ring: RingId(arr(&mut rng)),
            actor: Identity::generate(&mut rng),
            rival: Identity::generate(&mut rng),
        }
    }

    fn record(&self, head: Anchor, who: &Identity, time: u64) -> AuditRecord {
        AuditRecord::sign(
            self.ring,
            head,
            time,
            0,
            Action::GrantUnseal,
            Detail::default(),
            who,
        )
        .unwrap()
    }
}

#[test]
fn append_refuses_a_record_that_does_not_follow_the_head() {
    let c = Chain::new(12);
    let mut log = AuditLog::new();
    assert_eq!(log.head().unwrap(), Anchor::EMPTY);
    let r1 = c.record(Anchor::EMPTY, &c.actor, START);
    log.append(&r1).unwrap();
    assert_eq!(log.head().unwrap(), r1.head());
    // built at the old head (another writer's view)
    let stale = c.record(Anchor::EMPTY, &c.rival, START);
    assert_eq!(kind(log.append(&stale)), ErrorKind::Conflict);
    // the same record again
    assert_eq!(kind(log.append(&r1)), ErrorKind::Conflict);
    // the right number, the wrong link
    let bad_link = c.record(
        Anchor {
            seq: 1,
            hash: [9; 32],
        },
        &c.actor,
        START,
    );
    assert_eq!(kind(log.append(&bad_link)), ErrorKind::Conflict);
    // the right link, a number skipped
    let skip = c.record(
        Anchor {
            seq: 2,
            hash: r1.hash(),
        },
        &c.actor,
        START,
    );
    assert_eq!(kind(log.append(&skip)), ErrorKind::Conflict);
    assert_eq!(log.records(), std::slice::from_ref(&r1));
    let r2 = c.record(r1.head(), &c.actor, START + 1);
    log.append(&r2).unwrap();
    assert_eq!(log.records().len(), 2);
}

/// An `AuditLog` where another writer appends just before our next `races` appends.
struct Racing<'a> {
    inner: AuditLog,
    chain: &'a Chain,
    races: usize,
    fail_with: Option<ErrorKind>,
}

impl AuditSink for Racing<'_> {
    fn head(&mut self) -> dkm_core::Result<Anchor> {
        self.inner.head()
    }

    fn append(&mut self, record: &AuditRecord) -> dkm_core::Result<()> {
        if let Some(k) = self.fail_with {
            return Err(Error::new(k, "test: the store is down"));
        }
        if self.races > 0 {
            self.races -= 1;
            let head = self.inner.head_anchor();
            let r = self.chain.record(head, &self.chain.rival, START + 99);
            self.inner.append(&r).unwrap();
        }
        self.inner.append(record)
    }
}

#[test]
fn append_with_retries_when_the_head_moved() {
    let c = Chain::new(13);
    let mut sink = Racing {
        inner: AuditLog::new(),
        chain: &c,
        races: 1,
        fail_with: None,
    };
    let first = c.record(Anchor::EMPTY, &c.actor, START);
    sink.inner.append(&first).unwrap();
    let mut heads = Vec::new();
    let rec = append_with(&mut sink, |head| {
        heads.push(head);
        Ok(c.record(head, &c.actor, START + 1))
    })
    .unwrap();
    assert_eq!(heads.len(), 2, "built once at the stale head, once after");
    assert_eq!(heads[0], first.head());
    assert_eq!(heads[1], sink.inner.records()[1].head());
    assert_eq!(rec.seq, 3);
    assert_eq!(sink.inner.records().len(), 3);
    assert_eq!(sink.inner.records()[2], rec);
    let bytes: Vec<Vec<u8>> = sink
        .inner
        .records()
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect();
    assert_eq!(verify(c.ring, &bytes, &[rec.head()]), Ok(rec.head()));

    // no race: built once
    let mut n = 0;
    append_with(&mut sink, |head| {
        n += 1;
        Ok(c.record(head, &c.actor, START + 2))
    })
    .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn append_with_gives_up_and_passes_other_errors_on() {
    let c = Chain::new(14);
    // the head keeps moving: a conflict after a bounded number of tries
    let mut sink = Racing {
        inner: AuditLog::new(),
        chain: &c,
        races: usize::MAX,
        fail_with: None,
    };
    let mut n = 0;
    let err = append_with(&mut sink, |head| {
        n += 1;
        Ok(c.record(head, &c.actor, START))
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!((2..=64).contains(&n), "{n} tries");
    assert!(
        sink.inner
            .records()
            .iter()
            .all(|r| r.actor() == c.rival.public())
    );
    // another error: at once
    let mut sink = Racing {
        inner: AuditLog::new(),
        chain: &c,
        races: 0,
        fail_with: Some(ErrorKind::StoreUnavailable),
    };
    let mut n = 0;
    let err = append_with(&mut sink, |head| {
        n += 1;
        Ok(c.record(head, &c.actor, START))
    })
    .unwrap_err();
    assert_eq!((err.kind(), n), (ErrorKind::StoreUnavailable, 1));
    // the builder's error: at once
    let mut sink = AuditLog::new();
    let err = append_with(&mut sink, |_| {
        Err(Error::new(ErrorKind::OutOfRange, "test"))
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfRange);
    assert!(sink.records().is_empty());
}

// ---- the request log -------------------------------------------------------------------

struct Frames {
    ring: RingId,
    frames: Vec<Vec<u8>>,
    anchor: Anchor,
    /// The head after each frame.
    heads: Vec<Anchor>,
    /// The world's audit chain (from maintain and the grant) and the key state's anchor.
    audit: Vec<Vec<u8>>,
    audit_anchor: Anchor,
}

/// A request log with access requests (approved at both levels, denied, pending) and a
/// governance change request carrying its content, built once.
fn frames() -> &'static Frames {
    static FRAMES: OnceLock<Frames> = OnceLock::new();
    FRAMES.get_or_init(|| {
        let mut w = common::World::new(21);
        let eng = w.eng.clone();
        let h1 = w.request(&eng, 3_600, None);
        w.approve_both(&h1);
        let h2 = w.request(&eng, 7_200, None);
        let a2 = w.a2.clone();
        w.decide(&h2, "ops", Verdict::Deny, &a2).unwrap();
        let ring = w.reload();
        let mut d = ring.draft();
        let newcomer = Identity::generate(&mut w.rng);
        d.add_member(Role::Service, newcomer.public().clone())
            .unwrap();
        let (req, content) =
            SignedRequest::governance_change(&ring, &d, &w.admin, "new worker", w.now, &mut w.rng)
                .unwrap();
        let hg = req.hash();
        let e = w.log.log_request(&ring, req, Some(content), w.now).unwrap();
        w.log.push(e).unwrap();
        let a1 = w.a1.clone();
        w.decide(&hg, "ops", Verdict::Approve, &a1).unwrap();
        let _pending = w.request(&eng, 600, None);
        w.grant(&h1).unwrap();
        let audit_anchor = w.ring.key_state().unwrap().key_state().audit;
        let entries: &[LogEntry] = w.log.entries();
        Frames {
            ring: w.ring.id(),
            frames: entries.iter().map(|e| e.as_bytes().to_vec()).collect(),
            anchor: w.log.head(),
            heads: entries.iter().map(LogEntry::head).collect(),
            audit: w
                .audit
                .records()
                .iter()
                .map(|r| r.as_bytes().to_vec())
                .collect(),
            audit_anchor,
        }
    })
}

#[test]
fn a_real_audit_chain_verifies_and_refuses_deletions() {
    let f = frames();
    let n = f.audit.len();
    assert!(n >= 3, "{n} records");
    assert!(f.audit_anchor.seq >= 1);
    let head = verify(f.ring, &f.audit, &[f.audit_anchor]).unwrap();
    assert_eq!(head.seq, n as u64);
    let actions: Vec<Action> = f
        .audit
        .iter()
        .map(|b| AuditRecord::parse(b).unwrap().action)
        .collect();
    assert!(actions.contains(&Action::GrantIssued), "{actions:?}");
    for i in 0..n {
        let mut c = f.audit.clone();
        c.remove(i);
        assert!(verify(f.ring, &c, &[f.audit_anchor, head]).is_err(), "{i}");
    }
}

fn load(f: &Frames, frames: &[Vec<u8>], anchor: Anchor) -> dkm_core::Result<RequestLog> {
    RequestLog::load(f.ring, views(frames), anchor)
}

#[test]
fn request_log_loads_honest_frames() {
    let f = frames();
    let n = f.frames.len();
    assert!(n >= 8, "{n} frames");
    let log = load(f, &f.frames, f.anchor).unwrap();
    assert_eq!(log.head(), f.anchor);
    assert_eq!(log.entries().len(), n);
    for (i, e) in log.entries().iter().enumerate() {
        assert_eq!(e.seq(), i as u64 + 1);
        assert_eq!(LogEntry::parse(f.ring, &f.frames[i]).unwrap(), *e);
    }
    // every prefix against every head it holds
    for k in 0..=n {
        for a in std::iter::once(Anchor::EMPTY).chain(f.heads[..k].iter().copied()) {
            assert_eq!(load(f, &f.frames[..k], a).unwrap().entries().len(), k);
        }
    }
}

#[test]
fn request_log_refuses_deletion_swap_duplication_and_cuts() {
    let f = frames();
    let n = f.frames.len();
    for i in 0..n {
        let mut c = f.frames.clone();
        c.remove(i);
        assert_eq!(
            kind(load(f, &c, f.anchor)),
            ErrorKind::Tampered,
            "delete {i}"
        );
        let mut c = f.frames.clone();
        c.insert(i, f.frames[i].clone());
        assert_eq!(
            kind(load(f, &c, f.anchor)),
            ErrorKind::Tampered,
            "duplicate {i}"
        );
    }
    for a in 0..n {
        for b in a + 1..n {
            let mut c = f.frames.clone();
            c.swap(a, b);
            assert_eq!(
                kind(load(f, &c, f.anchor)),
                ErrorKind::Tampered,
                "swap {a} {b}"
            );
        }
    }
    // a cut before an anchored frame (any head as the anchor)
    for (j, &a) in f.heads.iter().enumerate() {
        for k in 0..=j {
            assert_eq!(
                kind(load(f, &f.frames[..k], a)),
                ErrorKind::Tampered,
                "cut at {k}, anchor {}",
                j + 1
            );
        }
    }
    // an anchor whose hash is not the frame's
    let wrong = Anchor {
        seq: 2,
        hash: f.heads[2].hash,
    };
    assert_eq!(kind(load(f, &f.frames, wrong)), ErrorKind::Tampered);
    // another ring's log
    let other = RingId(f.ring.0.map(|b| !b));
    assert_eq!(
        kind(RequestLog::load(other, views(&f.frames), Anchor::EMPTY)),
        ErrorKind::Tampered
    );
}

fn flip_refused(f: &Frames, i: usize, pos: usize, bit: u8, anchor: Anchor) -> Option<String> {
    let mut c = f.frames.clone();
    c[i][pos] ^= 1 << bit;
    match load(f, &c, anchor) {
        Err(_) => None,
        Ok(_) => Some(format!("frame {i} byte {pos} bit {bit} accepted")),
    }
}

#[test]
fn request_log_refuses_every_byte_flip() {
    let f = frames();
    let mut rng = ChaCha20Rng::from_seed([22; 32]);
    let mut missed = Vec::new();
    for i in 0..f.frames.len() {
        for pos in 0..f.frames[i].len() {
            let bit = (rng.next_u32() % 8) as u8;
            missed.extend(flip_refused(f, i, pos, bit, f.anchor));
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

/// Without an anchor, the last frame is guarded only by its own encoding and signatures:
/// a flip there must still be refused (the frame format is canonical).
#[test]
fn request_log_refuses_every_flip_of_the_last_frame_without_anchor() {
    let f = frames();
    let i = f.frames.len() - 1;
    let mut missed = Vec::new();
    for pos in 0..f.frames[i].len() {
        for bit in 0..8 {
            missed.extend(flip_refused(f, i, pos, bit, Anchor::EMPTY));
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn request_log_refuses_random_corruption(
        frame in any::<Index>(),
        edits in prop::collection::vec((any::<Index>(), 1u8..=255), 1..4),
        other in any::<Index>(),
    ) {
        let f = frames();
        let n = f.frames.len();
        let i = frame.index(n);
        let mut c = f.frames.clone();
        for (pos, x) in &edits {
            let p = pos.index(c[i].len());
            c[i][p] ^= x;
        }
        prop_assume!(c[i] != f.frames[i]);
        prop_assert!(load(f, &c, f.anchor).is_err());
        // a frame replaced by another honest frame
        let j = other.index(n);
        if j != i {
            let mut c = f.frames.clone();
            c[i] = f.frames[j].clone();
            prop_assert_eq!(kind(load(f, &c, f.anchor)), ErrorKind::Tampered);
        }
    }
}
