//! Generator of `testvectors/v1/` (test-only). The vectors are frozen: the test
//! `v1_vectors_are_frozen` regenerates them from fixed seeds and fails on any difference.
//! Set `DKM_REGEN_VECTORS=1` to write them, which is only legitimate before v1 is released.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::format;

use chacha20::ChaCha20Rng;
use hpke::aead::ExportOnlyAead;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, Serializable};
use rand_core::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::identity::{Identity, SigDomain};
use crate::keys::{EpochKeys, IntervalKeys, KeyId, RingId};
use crate::labels;
use crate::sealed::{CommitKey, SealedSecret, armor, context_hash};
use crate::secret::Secret32;
use crate::tree::{Node, NodePos, NodeSet, Schedule, cover, hmac_sha256};

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn rng(label: &str) -> ChaCha20Rng {
    // Seeds are the SHA-256 of a fixed name, so each file has its own stream.
    use sha2::Digest;
    ChaCha20Rng::from_seed(sha2::Sha256::digest(format!("dkm1 test vectors: {label}")).into())
}

fn random32(r: &mut ChaCha20Rng) -> Secret32 {
    let mut b = [0u8; 32];
    r.fill_bytes(&mut b);
    Secret32::from_array(&mut b)
}

fn node_json(n: &Node) -> Value {
    json!({"level": n.pos().level(), "index": n.pos().index(), "secret": h(n.secret().expose())})
}

const START: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;

fn tree() -> Value {
    let mut r = rng("tree");
    let root_secret = random32(&mut r);
    let root = Node::root(root_secret.clone());
    let set = NodeSet::from_root(root_secret.clone());
    let leaves: Vec<Value> = [0u16, 1, 2, 3, 255, 256, 4096, 12345, 32767, 32768, 65534, 65535]
        .iter()
        .map(|&i| json!({"interval": i, "leaf": h(root.derive(NodePos::leaf(i)).unwrap().secret().expose())}))
        .collect();
    let nodes: Vec<Value> = [(1u8, 0u16), (1, 1), (2, 2), (8, 200), (15, 30000)]
        .iter()
        .map(|&(l, i)| node_json(&root.derive(NodePos::new(l, i).unwrap()).unwrap()))
        .collect();
    let covers: Vec<Value> = [
        (0u16, 65535u16),
        (0, 0),
        (65535, 65535),
        (1, 65534),
        (10, 20),
        (4096, 8191),
        (100, 40000),
        (32767, 32768),
    ]
    .iter()
    .map(|&(first, last)| {
        let c = set.derive_cover(first, last).unwrap();
        assert_eq!(c.nodes().len(), cover(first, last).unwrap().len());
        let mid = first + (last - first) / 2;
        let check: Vec<Value> = [first, mid, last]
            .iter()
            .map(|&i| json!({"interval": i, "leaf": h(c.leaf(i).unwrap().secret().expose())}))
            .collect();
        let mut refused = Vec::new();
        if let Some(b) = first.checked_sub(1) {
            refused.push(b);
        }
        if let Some(a) = last.checked_add(1) {
            refused.push(a);
        }
        json!({
            "first": first,
            "last": last,
            "nodes": c.nodes().iter().map(node_json).collect::<Vec<_>>(),
            "derives": c.ranges().iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>(),
            "check_leaves": check,
            "not_derivable": refused,
        })
    })
    .collect();
    json!({
        "description": "GGM key schedule of one epoch: child = HMAC-SHA-256(parent, \"dkm1/tree/0\" | \"dkm1/tree/1\"), depth 16; leaves by interval; interior nodes; minimal covers of ranges with the leaves they derive and the neighbours they must not",
        "root": h(root_secret.expose()),
        "leaves": leaves,
        "nodes": nodes,
        "covers": covers,
    })
}

fn derived(leaf: &Node, id: &KeyId, label: &[u8]) -> Secret32 {
    hmac_sha256(leaf.secret().expose(), &[label, &[0], &id.to_bytes()])
}

fn sealed_case(
    name: &str,
    e: &mut EpochKeys,
    time: u64,
    plaintext: &[u8],
    context: &[u8],
    r: &mut ChaCha20Rng,
    seal_only: bool,
) -> Value {
    let id = e.key_id_at(time).unwrap();
    let leaf = e.nodes().leaf(id.interval).unwrap();
    let keys: alloc::sync::Arc<IntervalKeys> = e.interval_keys(id.interval).unwrap();
    let sealed = if seal_only {
        keys.seal_only_key().seal(plaintext, context, r).unwrap()
    } else {
        keys.seal(plaintext, context, r).unwrap()
    };
    let s = SealedSecret::parse(&sealed).unwrap();
    let opened = if seal_only {
        keys.unseal_seal_only(&s, context).unwrap()
    } else {
        keys.unseal(&s, context).unwrap()
    };
    assert_eq!(&opened[..], plaintext);
    let ctx_hash = context_hash(context);
    let mut aad = s.header().to_vec();
    aad.extend_from_slice(&ctx_hash);
    let mut v = json!({
        "name": name,
        "time": time,
        "interval": id.interval,
        "key_id": h(&id.to_bytes()),
        "leaf": h(leaf.secret().expose()),
        "context": h(context),
        "plaintext": h(plaintext),
        "sealed": h(&sealed),
        "armor": armor(&sealed),
    });
    let (seal_key, commit_key) = if seal_only {
        let ikm = derived(&leaf, &id, labels::LEAF_SEAL_ONLY);
        let sk = keys.seal_only_secret();
        let pk = keys.seal_only_key();
        let mut info = labels::SEAL_INFO.to_vec();
        info.extend_from_slice(&id.to_bytes());
        let enc =
            <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(s.encapsulated_key().unwrap())
                .unwrap();
        let ctx = hpke::setup_receiver::<ExportOnlyAead, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            &enc,
            &info,
        )
        .unwrap();
        let mut sk_out = [0u8; 32];
        let mut ck_out = [0u8; 32];
        ctx.export(labels::EXPORT_SEAL_KEY, &mut sk_out).unwrap();
        ctx.export(labels::EXPORT_COMMIT_KEY, &mut ck_out).unwrap();
        v["hpke"] = json!({
            "suite": "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, export-only; mode base",
            "ikm": h(ikm.expose()),
            "secret_key": h(&sk.to_bytes()),
            "public_key": h(pk.public()),
            "info": h(&info),
            "enc": h(s.encapsulated_key().unwrap()),
            "exporter_context_seal_key": h(labels::EXPORT_SEAL_KEY),
            "exporter_context_commit_key": h(labels::EXPORT_COMMIT_KEY),
        });
        (
            Secret32::from_array(&mut sk_out),
            Secret32::from_array(&mut ck_out),
        )
    } else {
        // The interval's MAC key, for the ring layer (no v1 format uses it yet).
        assert_eq!(keys.mac_key(), &derived(&leaf, &id, labels::LEAF_MAC));
        v["mac_key"] = json!(h(derived(&leaf, &id, labels::LEAF_MAC).expose()));
        (
            derived(&leaf, &id, labels::LEAF_SEAL),
            derived(&leaf, &id, labels::LEAF_COMMIT),
        )
    };
    v["xaes_256_gcm"] = json!({
        "key": h(seal_key.expose()),
        "nonce": h(s.nonce()),
        "aad": h(&aad),
        "plaintext": h(plaintext),
        "ciphertext": h(s.ciphertext_and_tag()),
    });
    let c = CommitKey::new(&commit_key)
        .unwrap()
        .commitment(s.header(), &ctx_hash);
    assert_eq!(&c, s.commitment());
    v["commitment"] = json!({
        "key": h(commit_key.expose()),
        "label": h(labels::COMMIT),
        "header": h(s.header()),
        "context_hash": h(&ctx_hash),
        "commitment": h(&c),
    });
    v
}

fn epoch_json(e: &EpochKeys, root: &Secret32) -> Value {
    json!({
        "ring_id": h(&e.ring().0),
        "epoch": e.epoch(),
        "schedule": {"start": e.schedule().start(), "interval_secs": e.schedule().interval_secs()},
        "root": h(root.expose()),
    })
}

fn sealed(seal_only: bool) -> Value {
    let label = if seal_only { "seal-only" } else { "sealed" };
    let mut r = rng(label);
    let ring = RingId::generate(&mut r);
    let root = random32(&mut r);
    let mut e = EpochKeys::new(
        ring,
        3,
        Schedule::new(START, DAY).unwrap(),
        NodeSet::from_root(root.clone()),
    );
    let cases = [
        ("empty plaintext, empty context", START, &b""[..], &b""[..]),
        (
            "connected-account password",
            START + 45 * DAY + 3600,
            b"correct horse battery staple",
            b"mail/connected-account/user-42",
        ),
        ("one block", START + 400 * DAY, b"0123456789abcdef", b"ctx"),
        (
            "binary, last interval",
            START + 65_535 * DAY,
            &[0u8, 1, 2, 255, 254, 253, 0, 0][..],
            &[0u8, 0xff][..],
        ),
        (
            "300 bytes",
            START + 1234 * DAY + 1,
            &[0x5au8; 300][..],
            b"bulk",
        ),
    ];
    let vectors: Vec<Value> = cases
        .iter()
        .map(|(name, t, pt, ctx)| sealed_case(name, &mut e, *t, pt, ctx, &mut r, seal_only))
        .collect();
    // Refusals every implementation must reproduce, with the error kind.
    let good = hex::decode(vectors[1]["sealed"].as_str().unwrap()).unwrap();
    let ctx = b"mail/connected-account/user-42";
    let mut invalid = Vec::new();
    let mut push = |name: &str, bytes: Vec<u8>, context: &[u8], kind: &str| {
        invalid
            .push(json!({"name": name, "sealed": h(&bytes), "context": h(context), "error": kind}));
    };
    push(
        "wrong context",
        good.clone(),
        b"mail/connected-account/user-43",
        "Tampered",
    );
    let mut b = good.clone();
    b[0] = 2;
    push("unknown version", b, ctx, "Unsupported");
    let mut b = good.clone();
    b[1] = 9;
    push("unknown suite", b, ctx, "Unsupported");
    let mut b = good.clone();
    b[2] ^= 1;
    push("other ring", b, ctx, "UnknownKey");
    let mut b = good.clone();
    b[21] ^= 1;
    push("other epoch", b, ctx, "UnknownKey");
    let mut b = good.clone();
    b[23] ^= 1;
    push("other interval", b, ctx, "Tampered");
    let n = s_header_len(seal_only);
    let mut b = good.clone();
    b[n - 1] ^= 1;
    push("nonce changed", b, ctx, "Tampered");
    let mut b = good.clone();
    b[n] ^= 1;
    push("commitment changed", b, ctx, "Tampered");
    let mut b = good.clone();
    b[n + 32] ^= 1;
    push("ciphertext changed", b, ctx, "Tampered");
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    push("tag changed", b, ctx, "Tampered");
    let mut b = good.clone();
    b.push(0);
    push("trailing byte", b, ctx, "Tampered");
    push("truncated header", good[..10].to_vec(), ctx, "Malformed");
    push("no tag", good[..n + 32 + 15].to_vec(), ctx, "Malformed");
    push("empty", Vec::new(), ctx, "Malformed");
    let mut out = epoch_json(&e, &root);
    out["description"] = json!(if seal_only {
        "Seal-only sealed secrets (suite 2): HPKE to the interval's published X25519 key agrees the XAES-256-GCM and commit keys; with every intermediate, and refusals with their error kind"
    } else {
        "Sealed secrets (suite 1): keys from the interval's leaf; with every XAES-256-GCM input and the commitment inputs, and refusals with their error kind"
    });
    out["vectors"] = json!(vectors);
    out["invalid"] = json!(invalid);
    out
}

fn s_header_len(seal_only: bool) -> usize {
    if seal_only {
        2 + 22 + 32 + 24
    } else {
        2 + 22 + 24
    }
}

fn identities() -> Value {
    let mut r = rng("identities");
    let mut list = Vec::new();
    for _ in 0..3 {
        let mut xb = [0u8; 32];
        r.fill_bytes(&mut xb);
        // RFC 7748 clamping: the only secret form dkm accepts.
        xb[0] &= 248;
        xb[31] = (xb[31] & 127) | 64;
        let x = Secret32::from_array(&mut xb);
        let e = random32(&mut r);
        let id = Identity::from_secrets(x.clone(), e.clone()).unwrap();
        let sigs: Vec<Value> = SigDomain::ALL
            .iter()
            .map(|d| {
                let msg = format!("message for {d:?}");
                json!({
                    "domain": h(d.prefix()),
                    "message": h(msg.as_bytes()),
                    "signature": h(&id.sign(*d, msg.as_bytes())),
                })
            })
            .collect();
        list.push(json!({
            "x25519_secret": h(x.expose()),
            "ed25519_seed": h(e.expose()),
            "x25519_public": h(id.public().x25519()),
            "ed25519_public": h(&id.public().ed25519()),
            "id": id.id().to_string(),
            "public_text": id.public().to_text(),
            "secret_text": id.to_secret_text().to_string(),
            "signatures": sigs,
        }));
    }
    let bad_checksum = {
        let t = list[0]["public_text"].as_str().unwrap().to_string();
        let mut c: Vec<char> = t.chars().collect();
        let i = c.len() - 3;
        c[i] = if c[i] == 'a' { 'b' } else { 'a' };
        c.into_iter().collect::<String>()
    };
    json!({
        "description": "Identities: secrets, public keys, id, printable public and secret forms, and one Ed25519 signature per domain over prefix || message",
        "identities": list,
        "invalid_public_text": [
            {"text": bad_checksum, "error": "BadChecksum"},
            {"text": "dkmpub1", "error": "Malformed"},
            {"text": "dkmpub1 abc", "error": "Malformed"},
        ],
    })
}

fn ring() -> Value {
    use crate::ring::{
        Anchor, ApprovalLevel, KeyHolder, Member, NoApprovals, Pin, Policy, Ring, RingPublic, Role,
    };
    let mut r = rng("ring");
    let admin = Identity::generate(&mut r);
    let holder = Identity::generate(&mut r);
    let holder2 = Identity::generate(&mut r);
    let approver = Identity::generate(&mut r);
    let members = [
        Member {
            role: Role::Service,
            identity: holder.public().clone(),
        },
        Member {
            role: Role::Service,
            identity: holder2.public().clone(),
        },
    ];
    let (mut ring, _) =
        Ring::create("vectors", Policy::default(), &admin, &members, &mut r).unwrap();
    let first_pin = Pin::new(ring.id(), alloc::vec![admin.public().clone()]);
    // Bootstrap: the admin alone adds an approver and sets the first approval policy.
    let mut d = ring.draft();
    d.add_member(Role::Approver, approver.public().clone())
        .unwrap();
    d.policy.levels.push(ApprovalLevel {
        name: "ops".into(),
        quorum: 1,
        approvers: alloc::vec![approver.id()],
    });
    ring.apply_governance(d, &admin, &NoApprovals, START)
        .unwrap();
    let anchors = (Anchor::default(), Anchor::default());
    let mut kh = KeyHolder::open(ring, &holder).unwrap();
    kh.maintain(&holder, START, &mut r, &NoApprovals, anchors)
        .unwrap();
    let mut sealed = Vec::new();
    let mut seal = |kh: &mut KeyHolder, r: &mut ChaCha20Rng, now: u64, pt: &[u8], ctx: &[u8]| {
        let s = kh.seal(now, pt, ctx, r).unwrap();
        sealed.push(json!({"now": now, "plaintext": h(pt), "context": h(ctx), "sealed": h(&s)}));
    };
    seal(
        &mut kh,
        &mut r,
        START + 60,
        b"mail account password",
        b"account:42",
    );
    seal(&mut kh, &mut r, START + DAY + 60, b"", b"");
    kh.roll_epoch(&holder, START + 2 * DAY, &mut r, &NoApprovals, anchors)
        .unwrap();
    seal(
        &mut kh,
        &mut r,
        START + 2 * DAY + 60,
        b"after the roll",
        b"ctx",
    );
    let blob = kh.ring().to_bytes();
    let loaded = Ring::load(&blob, &first_pin).unwrap();
    let public = RingPublic::from_ring(loaded.clone());
    let now = START + 2 * DAY + 120;
    let mut seal_only = Vec::new();
    for (pt, ctx) in [(&b"browser secret"[..], &b"form:signup"[..]), (b"", b"")] {
        let s = public.seal(now, pt, ctx, &mut r).unwrap();
        seal_only.push(json!({"now": now, "plaintext": h(pt), "context": h(ctx), "sealed": h(&s)}));
    }
    let ks = loaded.key_state().unwrap().key_state();
    let published: Vec<Value> = ks
        .seal_only
        .iter()
        .map(|k| json!(h(&k.to_bytes())))
        .collect();
    let governance: Vec<Value> = loaded
        .history()
        .map(|g| {
            json!({
                "version": g.version(),
                "hash": h(&g.hash()),
                "content_hash": h(&g.governance().content_hash()),
                "signer": g.signer().to_text(),
                "record": h(g.as_bytes()),
            })
        })
        .collect();
    let epochs: Vec<Value> = ks
        .epochs
        .iter()
        .map(|e| json!({"epoch": e.epoch, "state": e.state.name(), "start": e.start, "interval_secs": e.interval_secs, "readable": e.readable().iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()}))
        .collect();
    let pinned = loaded.pin();
    let mut invalid = Vec::new();
    let mut bad = |name: &str, blob: &[u8], pin: &Pin, kind: &str| {
        let got = Ring::load(blob, pin).unwrap_err().kind();
        assert_eq!(got.name(), kind, "{name}");
        invalid
            .push(json!({"name": name, "blob": h(blob), "pin": h(&pin.to_bytes()), "error": kind}));
    };
    let mut trailing = blob.clone();
    trailing.push(0);
    bad("trailing byte", &trailing, &first_pin, "Malformed");
    bad(
        "truncated",
        &blob[..blob.len() - 1],
        &first_pin,
        "Malformed",
    );
    let mut magic = blob.clone();
    magic[0] ^= 1;
    bad("bad magic", &magic, &first_pin, "Malformed");
    let mut format = blob.clone();
    format[4] = 2;
    bad("unknown ring format", &format, &first_pin, "Unsupported");
    let mut sig = blob.clone();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    bad("key-state signature", &sig, &first_pin, "Tampered");
    let mut other = first_pin.clone();
    other.ring.0[0] ^= 1;
    bad("another ring's pin", &blob, &other, "Tampered");
    let stranger = Identity::generate(&mut r);
    bad(
        "pin names no admin who signed",
        &blob,
        &Pin::new(loaded.id(), alloc::vec![stranger.public().clone()]),
        "Tampered",
    );
    let mut newer = pinned.clone();
    newer.key_state.as_mut().unwrap().version += 1;
    bad("pin has seen a newer key state", &blob, &newer, "Rollback");
    let mut newer_gov = pinned.clone();
    newer_gov.key_state.as_mut().unwrap().governance_version += 1;
    bad(
        "pin has seen a key state carrying out a newer governance",
        &blob,
        &newer_gov,
        "Rollback",
    );
    let mut fork = pinned.clone();
    fork.governance.as_mut().unwrap().hash[0] ^= 1;
    bad("pinned governance hash differs", &blob, &fork, "Rollback");
    json!({
        "description": "A ring blob (governance v1 by the admin, v2 adding an approver and the first approval policy during bootstrap; key state after the first key holder's maintain at `created` and a roll_epoch two days later), the pins, the secret identity of a key holder that opens it, secrets it sealed, the published seal-only keys and secrets sealed to them by RingPublic, and invalid blobs or pins with the error kind every implementation must return. Times are Unix seconds.",
        "created": START,
        "ring_id": loaded.id().to_string(),
        "blob": h(&blob),
        "admin_public": admin.public().to_text(),
        "key_holder_secret": holder.to_secret_text().as_str(),
        "key_holder_public": holder.public().to_text(),
        "pin_first_use": h(&first_pin.to_bytes()),
        "pin_after_load": h(&pinned.to_bytes()),
        "governance": governance,
        "key_state": {
            "version": ks.version,
            "hash": h(&loaded.key_state().unwrap().hash()),
            "governance_version": ks.governance.version,
            "write_time": ks.write_time,
            "fresh_until": ks.fresh_until,
            "kek_generation": ks.kek_generation,
            "epochs": epochs,
        },
        "sealed": sealed,
        "seal_only": {"published": published, "sealed": seal_only},
        "invalid": invalid,
    })
}

#[allow(clippy::too_many_lines)]
fn access() -> Value {
    use crate::access::{RequestLog, Scope, SignedGrant, SignedRequest, Verdict};
    use crate::audit::{
        AuditLog, AuditRecord, AuditSink, decision_record, records_for, request_record,
    };
    use crate::ring::{
        ApprovalLevel, ApprovalRef, KeyHolder, Member, NoApprovals, Pin, Policy, Ring, Role,
    };
    const DAY: u64 = 86_400;
    const HOUR: u64 = 3_600;
    let mut r = rng("access");
    let admin = Identity::generate(&mut r);
    let holder = Identity::generate(&mut r);
    let ops = Identity::generate(&mut r);
    let sec = Identity::generate(&mut r);
    let eng = Identity::generate(&mut r);
    let newcomer = Identity::generate(&mut r);
    let members = [
        Member {
            role: Role::Service,
            identity: holder.public().clone(),
        },
        Member {
            role: Role::Approver,
            identity: ops.public().clone(),
        },
        Member {
            role: Role::Approver,
            identity: sec.public().clone(),
        },
    ];
    let (mut ring, ev) = Ring::create(
        "access vectors",
        Policy::default(),
        &admin,
        &members,
        &mut r,
    )
    .unwrap();
    let id = ring.id();
    let first_pin = Pin::new(id, alloc::vec![admin.public().clone()]);
    let mut audit = AuditLog::new();
    let mut log = RequestLog::new(id);
    let record = |audit: &mut AuditLog, actor: &Identity, events: &[crate::ring::Event], t: u64| {
        for rec in records_for(id, events, actor, t, 0, audit.head_anchor()).unwrap() {
            audit.append(&rec).unwrap();
        }
    };
    record(&mut audit, &admin, &ev, START);
    // Bootstrap: two levels, one approver each.
    let mut d = ring.draft();
    d.policy.levels = alloc::vec![
        ApprovalLevel {
            name: "ops".into(),
            quorum: 1,
            approvers: alloc::vec![ops.id()]
        },
        ApprovalLevel {
            name: "security".into(),
            quorum: 1,
            approvers: alloc::vec![sec.id()]
        },
    ];
    let (_, ev) = ring
        .apply_governance(d, &admin, &NoApprovals, START)
        .unwrap();
    record(&mut audit, &admin, &ev, START);
    let mut kh = KeyHolder::open(ring, &holder).unwrap();
    let m = kh
        .maintain(
            &holder,
            START,
            &mut r,
            &NoApprovals,
            (audit.head_anchor(), log.head()),
        )
        .unwrap();
    record(&mut audit, &holder, &m.events, START);
    let before_scope = kh.seal(START + 60, b"older secret", b"", &mut r).unwrap();
    let sealed_at = START + DAY;
    let inside = kh
        .seal(sealed_at, b"mail password", b"account 42", &mut r)
        .unwrap();
    let now = START + 2 * DAY;
    let m = kh
        .maintain(
            &holder,
            now,
            &mut r,
            &NoApprovals,
            (audit.head_anchor(), log.head()),
        )
        .unwrap();
    record(&mut audit, &holder, &m.events, now);

    // A governance change that needs the quorum: add a key holder.
    let ring = kh.ring().clone();
    let mut d = ring.draft();
    d.add_member(Role::Service, newcomer.public().clone())
        .unwrap();
    let (creq, content) =
        SignedRequest::governance_change(&ring, &d, &admin, "second mail worker", now, &mut r)
            .unwrap();
    let chash = creq.hash();
    let (a, dd) = request_record(&creq);
    audit
        .append(&AuditRecord::sign(id, audit.head_anchor(), now, 0, a, dd, &admin).unwrap())
        .unwrap();
    let e = log
        .log_request(&ring, creq.clone(), Some(content), now)
        .unwrap();
    log.push(e).unwrap();
    for (who, level) in [(&ops, "ops"), (&sec, "security")] {
        let e = log
            .decide(&ring, &chash, level, Verdict::Approve, who, now + 60)
            .unwrap();
        if let crate::access::LogRecord::Decision(dec) = e.record() {
            let (a, dd) = decision_record(dec);
            audit
                .append(
                    &AuditRecord::sign(id, audit.head_anchor(), now + 60, 0, a, dd, who).unwrap(),
                )
                .unwrap();
        }
        log.push(e).unwrap();
    }
    d.approval = Some(ApprovalRef {
        log: log.head(),
        request: chash,
        evidence: log.evidence(&chash).unwrap(),
    });
    let mut ring = ring;
    let (_, ev) = ring
        .apply_governance(d, &admin, &log.quorum_check(now + 120), now + 120)
        .unwrap();
    record(&mut audit, &admin, &ev, now + 120);

    // The engineer's access request, approved at both levels.
    let t = now + 600;
    let req = SignedRequest::access(
        &ring,
        &eng,
        "debug the sync of account 42",
        2 * HOUR,
        Some(Scope::Since(START + DAY)),
        t,
        &mut r,
    )
    .unwrap();
    let rhash = req.hash();
    let (a, dd) = request_record(&req);
    audit
        .append(&AuditRecord::sign(id, audit.head_anchor(), t, 0, a, dd, &eng).unwrap())
        .unwrap();
    let e = log.log_request(&ring, req.clone(), None, t).unwrap();
    log.push(e).unwrap();
    let mut decisions = Vec::new();
    for (who, level) in [(&ops, "ops"), (&sec, "security")] {
        let e = log
            .decide(&ring, &rhash, level, Verdict::Approve, who, t + 60)
            .unwrap();
        if let crate::access::LogRecord::Decision(dec) = e.record() {
            let (a, dd) = decision_record(dec);
            audit
                .append(&AuditRecord::sign(id, audit.head_anchor(), t + 60, 0, a, dd, who).unwrap())
                .unwrap();
            decisions.push(json!({"level": level, "record": h(dec.as_bytes()), "hash": h(&dec.hash()), "approver": who.public().to_text()}));
        }
        log.push(e).unwrap();
    }
    // A key holder carries out the change and issues the grant.
    let gt = t + 120;
    let mut kh = KeyHolder::open(ring, &holder).unwrap();
    let m = kh
        .maintain(
            &holder,
            gt,
            &mut r,
            &log.quorum_check(gt),
            (audit.head_anchor(), log.head()),
        )
        .unwrap();
    record(&mut audit, &holder, &m.events, gt);
    let (m, gid) = kh
        .issue_grant(&holder, gt, &mut r, &log, &rhash, audit.head_anchor())
        .unwrap();
    record(&mut audit, &holder, &m.events, gt);
    let ring = kh.ring().clone();
    let ks = ring.key_state().unwrap().key_state();
    let grant_bytes = ks.grants[0].clone();
    let grant = SignedGrant::parse(&grant_bytes).unwrap();
    let anchors = alloc::vec![ks.audit];
    // The engineer unseals one secret inside the bounds; the audit record is written first.
    let mut session = crate::access::GrantSession::open(ring.clone(), &eng, gid).unwrap();
    let ut = gt + HOUR;
    let pt = session
        .unseal(&eng, &inside, b"account 42", ut, 0, &mut audit)
        .unwrap();
    assert_eq!(&pt[..], b"mail password");
    let outside_err = session
        .unseal(&eng, &before_scope, b"", ut, 0, &mut audit)
        .unwrap_err();
    let late_err = session
        .unseal(
            &eng,
            &inside,
            b"account 42",
            grant.grant().not_after + 1,
            0,
            &mut audit,
        )
        .unwrap_err();
    let records: Vec<Value> = audit
        .records()
        .iter()
        .map(|rec| {
            json!({
                "seq": rec.seq,
                "record": h(rec.as_bytes()),
                "hash": h(&rec.hash()),
                "json": rec.to_json(),
            })
        })
        .collect();
    let head = audit.head_anchor();
    // Tampered chains and the first problem each must report.
    let bytes: Vec<Vec<u8>> = audit
        .records()
        .iter()
        .map(|x| x.as_bytes().to_vec())
        .collect();
    let mut invalid = Vec::new();
    let mut bad = |name: &str, chain: Vec<Vec<u8>>, anchors: Vec<crate::ring::Anchor>| {
        let p =
            crate::audit::audit_verify(id, chain.iter().map(Vec::as_slice), &anchors).unwrap_err();
        invalid.push(json!({
            "name": name,
            "records": chain.iter().map(|c| h(c)).collect::<Vec<_>>(),
            "anchors": anchors.iter().map(|a| json!({"seq": a.seq, "hash": h(&a.hash)})).collect::<Vec<_>>(),
            "index": p.index,
            "fault": p.fault.name(),
        }));
    };
    let full = alloc::vec![head];
    let mut c = bytes.clone();
    c.remove(3);
    bad("record 3 deleted", c, full.clone());
    let mut c = bytes.clone();
    c.swap(4, 5);
    bad("records 4 and 5 swapped", c, full.clone());
    let mut c = bytes.clone();
    let last = c[6].len() - 1;
    c[6][last] ^= 1;
    bad("signature of record 6 flipped", c, full.clone());
    let mut c = bytes.clone();
    c[2][40] ^= 1;
    bad("record 2 edited (its prev hash)", c, full.clone());
    let mut c = bytes.clone();
    c.truncate(usize::try_from(anchors[0].seq).unwrap() - 1);
    bad("chain cut before the anchored record", c, anchors.clone());
    json!({
        "description": "Elevated access: a ring (admin, one key holder, approvers at levels `ops` and `security`), a governance change approved by both levels and carried in its record, an access request by a non-member approved at both levels (the level-2 approval chains the level-1 one), the grant a key holder issued, the request log, the requester's secret identity, a secret inside the grant's bounds and one before its scope, and the audit chain with its JSON lines, the key state's anchor and tampered copies with the first problem `audit_verify` must report. Times are Unix seconds.",
        "ring_id": id.to_string(),
        "blob": h(&ring.to_bytes()),
        "pin_first_use": h(&first_pin.to_bytes()),
        "requester_secret": eng.to_secret_text().as_str(),
        "requester_public": eng.public().to_text(),
        "governance_change": {
            "request": h(creq.as_bytes()),
            "request_hash": h(&chash),
            "version": ring.governance().version,
        },
        "request": {"record": h(req.as_bytes()), "hash": h(&rhash), "created": t, "duration_secs": 2 * HOUR, "scope_since": START + DAY},
        "decisions": decisions,
        "request_log": {
            "frames": log.entries().iter().map(|e| h(e.as_bytes())).collect::<Vec<_>>(),
            "head": {"seq": log.head().seq, "hash": h(&log.head().hash)},
        },
        "grant": {
            "record": h(&grant_bytes),
            "id": gid.to_string(),
            "hash": h(&grant.hash()),
            "issued": grant.grant().issued,
            "not_before": grant.grant().not_before,
            "not_after": grant.grant().not_after,
            "parts": grant.grant().parts.iter().map(|p| json!({"epoch": p.epoch, "first": p.first, "last": p.last})).collect::<Vec<_>>(),
        },
        "unseal": {
            "now": ut,
            "inside": {"sealed": h(&inside), "context": h(b"account 42"), "plaintext": h(b"mail password")},
            "before_scope": {"sealed": h(&before_scope), "context": "", "error": outside_err.kind().name()},
            "after_window": {"now": grant.grant().not_after + 1, "error": late_err.kind().name()},
        },
        "audit": {
            "records": records,
            "anchor": {"seq": anchors[0].seq, "hash": h(&anchors[0].hash)},
            "head": {"seq": head.seq, "hash": h(&head.hash)},
            "invalid": invalid,
        },
    })
}

fn render(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

#[test]
fn v1_vectors_are_frozen() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testvectors/v1");
    let files = [
        ("tree.json", tree()),
        ("sealed.json", sealed(false)),
        ("seal_only.json", sealed(true)),
        ("identities.json", identities()),
        ("ring.json", ring()),
        ("access.json", access()),
    ];
    let regen = std::env::var("DKM_REGEN_VECTORS").is_ok_and(|v| v == "1");
    assert!(
        !(regen && std::env::var_os("CI").is_some()),
        "DKM_REGEN_VECTORS must not be set in CI: the frozen-vector check would be skipped"
    );
    for (name, value) in files {
        let text = render(&value);
        let path = dir.join(name);
        if regen {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else {
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == text,
                "testvectors/v1/{name} differs from what the core generates: v1 is frozen; a format change needs v2/"
            );
        }
    }
}
