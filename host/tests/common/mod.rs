#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! What the host's integration tests share: the people of a ring and the whole story run on
//! any store.

use dkm_core::ring::Role;
use dkm_core::{ErrorKind, Identity, Policy};
use dkm_host::files::generate_identity;
use dkm_host::{Host, LevelSpec, SealOnly, Store, access_scope};

pub const T0: u64 = 1_900_000_000;
pub const HOUR: u64 = 3_600;
pub const DAY: u64 = 86_400;

pub struct People {
    pub admin: Identity,
    pub svc: Identity,
    pub ops: Identity,
    pub sec: Identity,
    pub eng: Identity,
}

pub fn people() -> People {
    let id = || generate_identity().unwrap();
    People {
        admin: id(),
        svc: id(),
        ops: id(),
        sec: id(),
        eng: id(),
    }
}

/// The story on any store; returns a secret sealed in it.
pub fn story<S: Store>(h: &Host<S>, later: &Host<S>, p: &People) -> Vec<u8> {
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    assert_eq!(
        h.create_ring("r", &p.admin, Policy::default())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    for a in [&p.ops, &p.sec] {
        h.add_member("r", &p.admin, Role::Approver, a.public())
            .unwrap();
    }
    let level = |name: &str, who: &Identity| LevelSpec {
        name: name.into(),
        quorum: 1,
        approvers: vec![who.public().clone()],
    };
    h.set_approval_levels("r", &p.admin, &[level("ops", &p.ops), level("sec", &p.sec)])
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
    let sealed = later.seal("r", &p.svc, b"kept", b"c").unwrap();
    // As the README walk-through: a browser seals to the public part; keys and ring show.
    let public = later.export_public("r").unwrap();
    let from_browser = later.seal_to(&public, None, b"pw", b"acct:43").unwrap();
    let u = later
        .unseal("r", &p.svc, &from_browser, b"acct:43", SealOnly::Accept)
        .unwrap();
    assert_eq!(
        (&u.plaintext[..], u.origin),
        (&b"pw"[..], dkm_host::Origin::SealOnly)
    );
    assert!(later.keys("r").unwrap().current.is_some());
    assert_eq!(later.ring_info("r").unwrap().members.len(), 4);
    let req = later
        .request_access(
            "r",
            &p.eng,
            "debug",
            HOUR,
            access_scope(Some(T0), &[]).unwrap(),
        )
        .unwrap();
    later.approve("r", req, "ops", &p.ops).unwrap();
    later.approve("r", req, "sec", &p.sec).unwrap();
    let g = later.grant("r", req, &p.svc).unwrap();
    let u = later
        .unseal_with_grant("r", &p.eng, g.id, &sealed, b"c", SealOnly::Refuse)
        .unwrap();
    assert_eq!(&u.plaintext[..], b"kept");
    assert!(later.audit_verify("r").unwrap().problem.is_none());
    later.rename_ring("r", "s", &p.admin).unwrap();
    assert_eq!(later.ring_info("s").unwrap().name, "s");
    assert!(later.audit_verify("s").unwrap().problem.is_none());
    assert_eq!(later.requests("s").unwrap().len(), 1);
    sealed
}
