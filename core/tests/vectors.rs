//! Replays the frozen `testvectors/v1/` files through the public API and, where possible,
//! through independent computations (the `hmac` and `sha2` crates directly), as every binding's
//! tests will.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use dkm_core::sealed::SealedSecret;
use dkm_core::xaes::XaesKey;
use dkm_core::{
    EpochKeys, ErrorKind, Identity, KeyId, Node, NodePos, NodeSet, PublicIdentity, RingId,
    Schedule, Secret32, SigDomain, armor, cover, dearmor,
};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn load(name: &str) -> Value {
    let path = format!("{}/../testvectors/v1/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn b(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn b32(v: &Value) -> [u8; 32] {
    b(v).try_into().unwrap()
}

fn secret(v: &Value) -> Secret32 {
    Secret32::from_array(&mut b32(v))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

#[test]
fn tree_vectors() {
    let v = load("tree.json");
    let root = Node::root(secret(&v["root"]));
    for leaf in v["leaves"].as_array().unwrap() {
        let i = n(&leaf["interval"]) as u16;
        assert_eq!(
            root.derive(NodePos::leaf(i)).unwrap().secret().expose(),
            &b32(&leaf["leaf"])
        );
    }
    for node in v["nodes"].as_array().unwrap() {
        let pos = NodePos::new(n(&node["level"]) as u8, n(&node["index"]) as u16).unwrap();
        assert_eq!(
            root.derive(pos).unwrap().secret().expose(),
            &b32(&node["secret"])
        );
    }
    for c in v["covers"].as_array().unwrap() {
        let (first, last) = (n(&c["first"]) as u16, n(&c["last"]) as u16);
        let nodes: Vec<Node> = c["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                let pos = NodePos::new(n(&x["level"]) as u8, n(&x["index"]) as u16).unwrap();
                Node::new(pos, secret(&x["secret"]))
            })
            .collect();
        let positions: Vec<NodePos> = nodes.iter().map(|x| x.pos()).collect();
        assert_eq!(positions, cover(first, last).unwrap());
        let set = NodeSet::new(nodes).unwrap();
        let derives: Vec<(u16, u16)> = c["derives"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (n(&r[0]) as u16, n(&r[1]) as u16))
            .collect();
        assert_eq!(set.ranges(), derives);
        for chk in c["check_leaves"].as_array().unwrap() {
            let i = n(&chk["interval"]) as u16;
            assert_eq!(set.leaf(i).unwrap().secret().expose(), &b32(&chk["leaf"]));
        }
        for i in c["not_derivable"].as_array().unwrap() {
            let i = n(i) as u16;
            assert_eq!(set.leaf(i).unwrap_err().kind(), ErrorKind::UnknownKey);
        }
    }
}

fn epoch_from(v: &Value) -> EpochKeys {
    EpochKeys::new(
        RingId(b(&v["ring_id"]).try_into().unwrap()),
        n(&v["epoch"]) as u32,
        Schedule::new(
            n(&v["schedule"]["start"]),
            n(&v["schedule"]["interval_secs"]),
        )
        .unwrap(),
        NodeSet::from_root(secret(&v["root"])),
    )
}

fn kind(name: &str) -> ErrorKind {
    *ErrorKind::ALL.iter().find(|k| k.name() == name).unwrap()
}

fn replay_sealed(file: &str) {
    let v = load(file);
    let mut e = epoch_from(&v);
    for case in v["vectors"].as_array().unwrap() {
        let sealed = b(&case["sealed"]);
        let ctx = b(&case["context"]);
        let pt = b(&case["plaintext"]);
        assert_eq!(armor(&sealed), case["armor"].as_str().unwrap());
        assert_eq!(dearmor(case["armor"].as_str().unwrap()).unwrap(), sealed);
        let s = SealedSecret::parse(&sealed).unwrap();
        assert_eq!(s.key_id(), KeyId::from_bytes(&b(&case["key_id"])).unwrap());
        assert_eq!(
            e.key_id_at(n(&case["time"])).unwrap().interval,
            n(&case["interval"]) as u16
        );
        // Through the library.
        let keys = e.keys_for(&s.key_id()).unwrap();
        let opened = if case.get("hpke").is_some() {
            keys.unseal_seal_only(&s, &ctx).unwrap()
        } else {
            keys.unseal(&s, &ctx).unwrap()
        };
        assert_eq!(&opened[..], &pt[..]);
        // Independently: the leaf, the key derivation, the commitment and XAES-256-GCM.
        let leaf = b(&case["leaf"]);
        let kid = b(&case["key_id"]);
        let x = &case["xaes_256_gcm"];
        let c = &case["commitment"];
        if case.get("hpke").is_none() {
            let mac = hmac(&leaf, &[b"dkm1/leaf/mac", &[0], &kid]);
            assert_eq!(mac, b(&case["mac_key"]));
            assert_eq!(&keys.mac_key().expose()[..], &mac[..]);
            assert_eq!(hmac(&leaf, &[b"dkm1/leaf/seal", &[0], &kid]), b(&x["key"]));
            assert_eq!(
                hmac(&leaf, &[b"dkm1/leaf/commit", &[0], &kid]),
                b(&c["key"])
            );
        } else {
            let hp = &case["hpke"];
            assert_eq!(
                hmac(&leaf, &[b"dkm1/leaf/seal-only", &[0], &kid]),
                b(&hp["ikm"])
            );
            let mut info = b"dkm1/seal".to_vec();
            info.extend_from_slice(&kid);
            assert_eq!(b(&hp["info"]), info);
            assert_eq!(&b(&hp["public_key"])[..], keys.seal_only_key().public());
            // The HPKE step, independently with the hpke crate: DeriveKeyPair(ikm), then
            // SetupBaseR(enc, sk, info) and the two exports.
            use hpke::{Deserializable, Kem as _, Serializable};
            let (sk, pk) = hpke::kem::X25519HkdfSha256::derive_keypair(&b(&hp["ikm"]));
            assert_eq!(sk.to_bytes().to_vec(), b(&hp["secret_key"]));
            assert_eq!(pk.to_bytes().to_vec(), b(&hp["public_key"]));
            assert_eq!(&b(&hp["enc"])[..], s.encapsulated_key().unwrap());
            let enc =
                <hpke::kem::X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&b(&hp["enc"]))
                    .unwrap();
            let ctx = hpke::setup_receiver::<
                hpke::aead::ExportOnlyAead,
                hpke::kdf::HkdfSha256,
                hpke::kem::X25519HkdfSha256,
            >(&hpke::OpModeR::Base, &sk, &enc, &info)
            .unwrap();
            let mut seal_key = [0u8; 32];
            let mut commit_key = [0u8; 32];
            ctx.export(b"dkm1/seal-only/seal-key", &mut seal_key)
                .unwrap();
            ctx.export(b"dkm1/seal-only/commit-key", &mut commit_key)
                .unwrap();
            assert_eq!(seal_key.to_vec(), b(&x["key"]));
            assert_eq!(commit_key.to_vec(), b(&c["key"]));
        }
        let ctx_hash = Sha256::digest(&ctx).to_vec();
        assert_eq!(b(&c["context_hash"]), ctx_hash);
        assert_eq!(b(&c["header"]), s.header());
        assert_eq!(
            hmac(&b(&c["key"]), &[b"dkm1/commit", s.header(), &ctx_hash]),
            b(&c["commitment"])
        );
        assert_eq!(&b(&c["commitment"])[..], s.commitment());
        let mut aad = s.header().to_vec();
        aad.extend_from_slice(&ctx_hash);
        assert_eq!(b(&x["aad"]), aad);
        let xk = XaesKey::new(&b32(&x["key"]));
        let nonce: [u8; 24] = b(&x["nonce"]).try_into().unwrap();
        assert_eq!(xk.encrypt(&nonce, &aad, &pt).unwrap(), b(&x["ciphertext"]));
        assert_eq!(s.ciphertext_and_tag(), &b(&x["ciphertext"])[..]);
    }
    for bad in v["invalid"].as_array().unwrap() {
        let bytes = b(&bad["sealed"]);
        let ctx = b(&bad["context"]);
        let seal_only = v["vectors"][0].get("hpke").is_some();
        let res = SealedSecret::parse(&bytes).and_then(|s| {
            e.keys_for(&s.key_id()).and_then(|k| {
                if seal_only {
                    k.unseal_seal_only(&s, &ctx)
                } else {
                    k.unseal(&s, &ctx)
                }
            })
        });
        assert_eq!(
            res.unwrap_err().kind(),
            kind(bad["error"].as_str().unwrap()),
            "{}",
            bad["name"]
        );
    }
}

#[test]
fn sealed_vectors() {
    replay_sealed("sealed.json");
}

#[test]
fn seal_only_vectors() {
    replay_sealed("seal_only.json");
}

#[test]
fn identity_vectors() {
    let v = load("identities.json");
    for i in v["identities"].as_array().unwrap() {
        let id = Identity::from_secrets(secret(&i["x25519_secret"]), secret(&i["ed25519_seed"]))
            .unwrap();
        assert_eq!(&id.public().x25519()[..], &b(&i["x25519_public"])[..]);
        assert_eq!(&id.public().ed25519()[..], &b(&i["ed25519_public"])[..]);
        assert_eq!(id.id().to_string(), i["id"].as_str().unwrap());
        let mut pre = b"dkm1/id\0".to_vec();
        pre.extend_from_slice(&b(&i["x25519_public"]));
        pre.extend_from_slice(&b(&i["ed25519_public"]));
        assert_eq!(
            hex::encode(&Sha256::digest(&pre)[..16]),
            i["id"].as_str().unwrap()
        );
        assert_eq!(id.public().to_text(), i["public_text"].as_str().unwrap());
        assert_eq!(&*id.to_secret_text(), i["secret_text"].as_str().unwrap());
        let public = PublicIdentity::from_text(i["public_text"].as_str().unwrap()).unwrap();
        let back = Identity::from_secret_text(i["secret_text"].as_str().unwrap()).unwrap();
        assert_eq!(back.public(), &public);
        let domains = SigDomain::ALL;
        for s in i["signatures"].as_array().unwrap() {
            let d = *domains
                .iter()
                .find(|d| d.prefix() == &b(&s["domain"])[..])
                .unwrap();
            let msg = b(&s["message"]);
            public.verify(d, &msg, &b(&s["signature"])).unwrap();
            assert_eq!(&id.sign(d, &msg)[..], &b(&s["signature"])[..]);
        }
    }
    for bad in v["invalid_public_text"].as_array().unwrap() {
        assert_eq!(
            PublicIdentity::from_text(bad["text"].as_str().unwrap())
                .unwrap_err()
                .kind(),
            kind(bad["error"].as_str().unwrap())
        );
    }
}

#[test]
fn ring_vectors() {
    use dkm_core::ring::{KeyHolder, Pin, Ring, RingPublic};
    let v = load("ring.json");
    let blob = b(&v["blob"]);
    let first_pin = Pin::from_bytes(&b(&v["pin_first_use"])).unwrap();
    assert_eq!(first_pin.to_bytes(), b(&v["pin_first_use"]));
    let ring = Ring::load(&blob, &first_pin).unwrap();
    assert_eq!(ring.to_bytes(), blob, "a ring re-encodes to the same bytes");
    assert_eq!(ring.id().to_string(), v["ring_id"].as_str().unwrap());
    assert_eq!(ring.pin().to_bytes(), b(&v["pin_after_load"]));
    let after = Pin::from_bytes(&b(&v["pin_after_load"])).unwrap();
    Ring::load(&blob, &after).unwrap();

    // Governance records: hashes and signatures recomputed independently.
    let records: Vec<_> = ring.history().collect();
    let gov = v["governance"].as_array().unwrap();
    assert_eq!(records.len(), gov.len());
    for (g, want) in records.iter().zip(gov) {
        let record = b(&want["record"]);
        assert_eq!(g.as_bytes(), record.as_slice());
        assert_eq!(g.version(), n(&want["version"]));
        let hash: [u8; 32] = Sha256::new()
            .chain_update(b"dkm1/governance-hash\0")
            .chain_update(&record)
            .finalize()
            .into();
        assert_eq!(hash, b32(&want["hash"]));
        let signer = PublicIdentity::from_text(want["signer"].as_str().unwrap()).unwrap();
        let (signed, sig) = record.split_at(record.len() - 64);
        signer.verify(SigDomain::Governance, signed, sig).unwrap();
        assert_eq!(&signed[signed.len() - 64..], &signer.to_bytes());
    }

    // Key state.
    let ks_want = &v["key_state"];
    let sks = ring.key_state().unwrap();
    let ks = sks.key_state();
    let hash: [u8; 32] = Sha256::new()
        .chain_update(b"dkm1/key-state-hash\0")
        .chain_update(sks.as_bytes())
        .finalize()
        .into();
    assert_eq!(hash, b32(&ks_want["hash"]));
    assert_eq!(ks.version, n(&ks_want["version"]));
    assert_eq!(ks.write_time, n(&ks_want["write_time"]));
    assert_eq!(ks.fresh_until, n(&ks_want["fresh_until"]));
    assert_eq!(u64::from(ks.kek_generation), n(&ks_want["kek_generation"]));
    let listing = ring.keys(n(&v["created"]));
    let epochs = ks_want["epochs"].as_array().unwrap();
    assert_eq!(listing.epochs.len(), epochs.len());
    for (e, want) in listing.epochs.iter().zip(epochs) {
        assert_eq!(u64::from(e.epoch), n(&want["epoch"]));
        assert_eq!(e.state.name(), want["state"].as_str().unwrap());
        assert_eq!(e.start, n(&want["start"]));
    }

    // The key holder's secret identity opens the ring and every sealed secret.
    let holder = Identity::from_secret_text(v["key_holder_secret"].as_str().unwrap()).unwrap();
    assert_eq!(
        holder.public().to_text(),
        v["key_holder_public"].as_str().unwrap()
    );
    let mut kh = KeyHolder::open(ring.clone(), &holder).unwrap();
    for s in v["sealed"].as_array().unwrap() {
        let pt = kh.unseal(&b(&s["sealed"]), &b(&s["context"])).unwrap();
        assert_eq!(&pt[..], b(&s["plaintext"]).as_slice());
        let mut ctx = b(&s["context"]);
        ctx.push(0);
        assert_eq!(
            kh.unseal(&b(&s["sealed"]), &ctx).unwrap_err().kind(),
            ErrorKind::Tampered
        );
    }
    // Seal-only: the published keys are those the key holder derives, and what RingPublic
    // sealed opens with unseal_seal_only only.
    let public = RingPublic::from_ring(ring.clone());
    let published: Vec<Vec<u8>> = ks.seal_only.iter().map(|k| k.to_bytes()).collect();
    let want: Vec<Vec<u8>> = v["seal_only"]["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(b)
        .collect();
    assert_eq!(published, want);
    for s in v["seal_only"]["sealed"].as_array().unwrap() {
        let sealed = b(&s["sealed"]);
        let parsed = SealedSecret::parse(&sealed).unwrap();
        let key = public.key_at(n(&s["now"])).unwrap();
        assert_eq!(parsed.key_id(), key.id());
        let pt = kh.unseal_seal_only(&sealed, &b(&s["context"])).unwrap();
        assert_eq!(&pt[..], b(&s["plaintext"]).as_slice());
        assert_eq!(
            kh.unseal(&sealed, &b(&s["context"])).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
    // The admin is not a key holder.
    let admin = PublicIdentity::from_text(v["admin_public"].as_str().unwrap()).unwrap();
    assert!(ks.wraps.iter().all(|w| w.recipient != admin.id()));

    for case in v["invalid"].as_array().unwrap() {
        let pin = Pin::from_bytes(&b(&case["pin"])).unwrap();
        let err = Ring::load(&b(&case["blob"]), &pin).unwrap_err();
        assert_eq!(
            err.kind().name(),
            case["error"].as_str().unwrap(),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn access_vectors() {
    use dkm_core::access::{RequestLog, SignedDecision, SignedGrant, SignedRequest};
    use dkm_core::audit::{AuditLog, AuditRecord, audit_verify};
    use dkm_core::ring::{Anchor, Pin, Ring};
    use dkm_core::{GrantSession, Identity};
    let v = load("access.json");
    let label_hash = |label: &[u8], bytes: &[u8]| -> [u8; 32] {
        Sha256::new()
            .chain_update(label)
            .chain_update(bytes)
            .finalize()
            .into()
    };
    let anchor = |a: &Value| Anchor {
        seq: n(&a["seq"]),
        hash: b32(&a["hash"]),
    };
    let pin = Pin::from_bytes(&b(&v["pin_first_use"])).unwrap();
    // Ring::load checks the approved governance change from the evidence it carries.
    let blob = b(&v["blob"]);
    let ring = Ring::load(&blob, &pin).unwrap();
    assert_eq!(ring.to_bytes(), blob);
    assert_eq!(
        ring.governance().version,
        n(&v["governance_change"]["version"])
    );
    let carried = ring.governance().approval.clone().unwrap();
    assert_eq!(
        carried.request,
        b32(&v["governance_change"]["request_hash"])
    );
    assert_eq!(carried.evidence[0], b(&v["governance_change"]["request"]));

    // Request and decisions: hashes and signatures checked independently.
    let req_bytes = b(&v["request"]["record"]);
    let req = SignedRequest::parse(&req_bytes).unwrap();
    assert_eq!(req.as_bytes(), req_bytes.as_slice());
    assert_eq!(
        label_hash(b"dkm1/request-hash\0", &req_bytes),
        b32(&v["request"]["hash"])
    );
    assert_eq!(req.hash(), b32(&v["request"]["hash"]));
    let requester = PublicIdentity::from_text(v["requester_public"].as_str().unwrap()).unwrap();
    let (signed, sig) = req_bytes.split_at(req_bytes.len() - 64);
    requester.verify(SigDomain::Request, signed, sig).unwrap();
    assert_eq!(req.request().created, n(&v["request"]["created"]));
    for d in v["decisions"].as_array().unwrap() {
        let bytes = b(&d["record"]);
        let dec = SignedDecision::parse(&bytes).unwrap();
        assert_eq!(label_hash(b"dkm1/approval-hash\0", &bytes), b32(&d["hash"]));
        assert_eq!(dec.decision().request, req.hash());
        assert_eq!(dec.decision().level, d["level"].as_str().unwrap());
        let approver = PublicIdentity::from_text(d["approver"].as_str().unwrap()).unwrap();
        let (signed, sig) = bytes.split_at(bytes.len() - 64);
        approver.verify(SigDomain::Approval, signed, sig).unwrap();
    }

    // The request log, anchored by the key state.
    let ks = ring.key_state().unwrap().key_state();
    let frames: Vec<Vec<u8>> = v["request_log"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(b)
        .collect();
    let log = RequestLog::load(ring.id(), frames.iter().map(Vec::as_slice), ks.requests).unwrap();
    assert_eq!(log.head(), anchor(&v["request_log"]["head"]));
    assert!(log.request(&req.hash()).is_some());

    // The grant.
    let g = &v["grant"];
    let grant_bytes = b(&g["record"]);
    assert_eq!(ks.grants, vec![grant_bytes.clone()]);
    let grant = SignedGrant::parse(&grant_bytes).unwrap();
    assert_eq!(
        label_hash(b"dkm1/grant-hash\0", &grant_bytes),
        b32(&g["hash"])
    );
    let gr = grant.grant();
    assert_eq!(gr.id.to_string(), g["id"].as_str().unwrap());
    assert_eq!(
        &label_hash(b"dkm1/grant-id\0", &req.hash())[..16],
        &gr.id.0[..]
    );
    assert_eq!(gr.not_before, n(&g["not_before"]));
    assert_eq!(gr.not_after, n(&g["not_after"]));
    assert_eq!(gr.requester, requester);
    for (p, want) in gr.parts.iter().zip(g["parts"].as_array().unwrap()) {
        assert_eq!(u64::from(p.epoch), n(&want["epoch"]));
        assert_eq!(u64::from(p.first), n(&want["first"]));
        assert_eq!(u64::from(p.last), n(&want["last"]));
    }

    // The requester's session.
    let eng = Identity::from_secret_text(v["requester_secret"].as_str().unwrap()).unwrap();
    let mut s = GrantSession::open(ring.clone(), &eng, gr.id).unwrap();
    let u = &v["unseal"];
    let mut sink = AuditLog::new();
    let pt = s
        .unseal(
            &eng,
            &b(&u["inside"]["sealed"]),
            &b(&u["inside"]["context"]),
            n(&u["now"]),
            0,
            &mut sink,
        )
        .unwrap();
    assert_eq!(&pt[..], b(&u["inside"]["plaintext"]).as_slice());
    assert_eq!(sink.records().len(), 1);
    let err = s
        .unseal(
            &eng,
            &b(&u["before_scope"]["sealed"]),
            b"",
            n(&u["now"]),
            0,
            &mut sink,
        )
        .unwrap_err();
    assert_eq!(
        err.kind().name(),
        u["before_scope"]["error"].as_str().unwrap()
    );
    let err = s
        .unseal(
            &eng,
            &b(&u["inside"]["sealed"]),
            &b(&u["inside"]["context"]),
            n(&u["after_window"]["now"]),
            0,
            &mut sink,
        )
        .unwrap_err();
    assert_eq!(
        err.kind().name(),
        u["after_window"]["error"].as_str().unwrap()
    );
    assert_eq!(sink.records().len(), 1, "refused unseals write no record");

    // The audit chain: binary, JSON, verification, tampered copies.
    let a = &v["audit"];
    let mut records = Vec::new();
    for (i, r) in a["records"].as_array().unwrap().iter().enumerate() {
        let bytes = b(&r["record"]);
        let rec = AuditRecord::parse(&bytes).unwrap();
        assert_eq!(rec.seq, i as u64 + 1);
        assert_eq!(rec.seq, n(&r["seq"]));
        assert_eq!(label_hash(b"dkm1/audit-hash\0", &bytes), b32(&r["hash"]));
        let (signed, sig) = bytes.split_at(bytes.len() - 64);
        rec.actor().verify(SigDomain::Audit, signed, sig).unwrap();
        let json = r["json"].as_str().unwrap();
        assert_eq!(rec.to_json(), json);
        assert_eq!(AuditRecord::from_json(json).unwrap(), rec);
        records.push(bytes);
    }
    assert_eq!(anchor(&a["anchor"]), ks.audit);
    let head = audit_verify(
        ring.id(),
        records.iter().map(Vec::as_slice),
        &[anchor(&a["anchor"]), anchor(&a["head"])],
    )
    .unwrap();
    assert_eq!(head, anchor(&a["head"]));
    for bad in a["invalid"].as_array().unwrap() {
        let chain: Vec<Vec<u8>> = bad["records"].as_array().unwrap().iter().map(b).collect();
        let anchors: Vec<Anchor> = bad["anchors"]
            .as_array()
            .unwrap()
            .iter()
            .map(anchor)
            .collect();
        let p = audit_verify(ring.id(), chain.iter().map(Vec::as_slice), &anchors).unwrap_err();
        assert_eq!(p.index as u64, n(&bad["index"]), "{}", bad["name"]);
        assert_eq!(
            p.fault.name(),
            bad["fault"].as_str().unwrap(),
            "{}",
            bad["name"]
        );
    }
}
