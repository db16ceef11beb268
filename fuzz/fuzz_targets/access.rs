//! The elevated-access and audit parsers. The first byte picks the parser, the rest is its
//! input; every parser must refuse garbage with a typed error (never panic or hang), and what
//! it accepts must re-encode to exactly the input:
//!
//! - 0: `SignedRequest::parse`, 1: `SignedDecision::parse`, 2: `SignedGrant::parse`,
//!   3: `AuditRecord::parse` (and its JSON form parses back to the same record),
//!   4: `LogEntry::parse` for the ring id of `testvectors/v1/access.json`,
//!   5: `AuditRecord::from_json` (on success the text is exactly `to_json`),
//!   6: `RequestLog::load` of the rest cut into frames by 2-byte big-endian lengths, with no
//!   anchor (on success its head is the last frame's).
#![no_main]

use dkm_core::RingId;
use dkm_core::access::{LogEntry, RequestLog, SignedDecision, SignedGrant, SignedRequest};
use dkm_core::audit::AuditRecord;
use dkm_core::ring::Anchor;
use libfuzzer_sys::fuzz_target;

/// The ring id of `testvectors/v1/access.json` (its request-log frames are seeds).
const RING: RingId = RingId([
    0xbe, 0xb8, 0xc0, 0x91, 0xf6, 0x61, 0xc1, 0x7d, 0x75, 0xc8, 0x51, 0xd4, 0x3c, 0x13, 0x0a, 0x5f,
]);

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => {
            if let Ok(r) = SignedRequest::parse(rest) {
                assert_eq!(r.as_bytes(), rest);
            }
        }
        1 => {
            if let Ok(d) = SignedDecision::parse(rest) {
                assert_eq!(d.as_bytes(), rest);
            }
        }
        2 => {
            if let Ok(g) = SignedGrant::parse(rest) {
                assert_eq!(g.as_bytes(), rest);
            }
        }
        3 => {
            if let Ok(a) = AuditRecord::parse(rest) {
                assert_eq!(a.as_bytes(), rest);
                assert_eq!(AuditRecord::from_json(&a.to_json()).as_ref(), Ok(&a));
            }
        }
        4 => {
            if let Ok(e) = LogEntry::parse(RING, rest) {
                assert_eq!(e.as_bytes(), rest);
            }
        }
        5 => {
            if let Ok(text) = core::str::from_utf8(rest)
                && let Ok(a) = AuditRecord::from_json(text)
            {
                assert_eq!(a.to_json(), text.trim_end_matches(['\n', '\r']));
            }
        }
        _ => {
            let mut frames = Vec::new();
            let mut r = rest;
            while let Some((len, tail)) = r.split_first_chunk::<2>() {
                let n = usize::from(u16::from_be_bytes(*len)).min(tail.len());
                let (f, t) = tail.split_at(n);
                frames.push(f);
                r = t;
            }
            if let Ok(log) = RequestLog::load(RING, frames.iter().copied(), Anchor::EMPTY) {
                assert_eq!(log.entries().len(), frames.len());
                if let Some(last) = log.entries().last() {
                    assert_eq!(log.head(), last.head());
                }
            }
        }
    }
});
